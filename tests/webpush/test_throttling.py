"""What a 429 pauses, and for how long: the push service's word, read defensively and bounded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from pushsvc.dev.devpush import DevPush
from pushsvc.dev.devpush.state import Fault
from pushsvc.webpush.sender import MAX_ORIGIN_PAUSE_S, MAX_RETRY_AFTER_S, Outcome, classify, parse_retry_after
from pushsvc.webpush.vapid import VapidIdentity
from tests.webpush.conftest import make_sender, target

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1000000000000", MAX_RETRY_AFTER_S),
        ("9" * 5000, MAX_RETRY_AFTER_S),
        ("Tue, 01 Dec 2026 12:01:30 GMT", 90.0),
        ("Tue, 01 Dec 2026 11:00:00 GMT", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_S),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("١٢٣", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date_capped_and_never_raises(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_408_is_retried_and_not_taken_as_a_rejection() -> None:
    result = classify(408, "Request Timeout")
    assert result.outcome is Outcome.RETRY and result.retryable


def test_a_429_for_one_subscription_pauses_only_that_endpoint(devpush: DevPush, identity: VapidIdentity) -> None:
    throttled, other = devpush.subscribe(), devpush.subscribe()
    devpush.fault(throttled, Fault(status=429, retry_after="300", remaining=1))

    async def go() -> tuple[float, float, Outcome]:
        async with make_sender(identity) as sender:
            await sender.send(target(devpush, throttled), b"x", ttl=3600)
            result = await sender.send(target(devpush, other), b"y", ttl=3600)
            return (
                sender.paused_for(devpush.endpoint(throttled)),
                sender.paused_for(devpush.endpoint(other)),
                result.outcome,
            )

    paused, other_paused, outcome = asyncio.run(go())
    assert 290 < paused <= 300 and other_paused == 0.0 and outcome is Outcome.SENT


def test_a_429_that_says_the_sender_is_over_quota_pauses_the_origin_for_a_bounded_time(
    devpush: DevPush, identity: VapidIdentity
) -> None:
    throttled, other = devpush.subscribe(), devpush.subscribe()
    devpush.fault(throttled, Fault(status=429, retry_after="86400", remaining=1, reason="QUOTA_EXCEEDED"))

    async def go() -> tuple[float, Outcome]:
        async with make_sender(identity, max_wait_s=1.0) as sender:
            await sender.send(target(devpush, throttled), b"x", ttl=3600)
            result = await sender.send(target(devpush, other), b"y", ttl=3600)
            return sender.paused_for(devpush.endpoint(other)), result.outcome

    paused, outcome = asyncio.run(go())
    assert MAX_ORIGIN_PAUSE_S - 5 < paused <= MAX_ORIGIN_PAUSE_S
    assert outcome is Outcome.RATE_LIMITED  # handed back to the worker's queue, not waited for in-line
    assert devpush.received(other) == []


def test_the_next_free_connection_goes_to_the_most_urgent_waiting_request() -> None:
    from pushsvc.webpush.slots import Slots

    async def go() -> list[str]:
        slots, order = Slots(1), []
        await slots.acquire(3)  # an ordinary request holds the only connection

        async def request(name: str, priority: int) -> None:
            await slots.acquire(priority)
            order.append(name)
            slots.release()

        waiting = [asyncio.create_task(request(f"notice{i}", 3)) for i in range(3)]
        cancelled = asyncio.create_task(request("gave up", 0))
        await asyncio.sleep(0)
        waiting.append(asyncio.create_task(request("tsunami", 0)))
        await asyncio.sleep(0)
        cancelled.cancel()
        slots.release()
        await asyncio.gather(*waiting)
        return order

    assert asyncio.run(go()) == ["tsunami", "notice0", "notice1", "notice2"]
