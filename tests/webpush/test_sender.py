"""The sender against the local push service over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Mapping

import pytest

from pushsvc.dev.devpush import DevPush, Fault
from pushsvc.webpush.payload import build_payload
from pushsvc.webpush.sender import Outcome, PushResult, PushTarget
from pushsvc.webpush.transport import HttpxTransport, Limits, TransportResponse
from pushsvc.webpush.vapid import VapidIdentity
from tests.webpush.conftest import make_sender, target

TEXT = "【避難指示】高知市 浦戸地区に避難指示を発令しました。"


def send_one(identity: VapidIdentity, t: PushTarget, payload: bytes = b"hi", **kwargs: object) -> PushResult:
    async def go() -> PushResult:
        async with make_sender(identity, **kwargs) as sender:
            return await sender.send(t, payload, ttl=3600)

    return asyncio.run(go())


def test_sent_message_decrypts_to_the_same_text_with_valid_vapid(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe(vapid_key=identity.public_key_b64url)
    payload = build_payload(
        id="n-1",
        title="避難指示",
        body=TEXT,
        category="evacuation",
        severity="emergency",
        url="https://bousai.example.jp/a/n-1",
        lang="ja",
        sent_at="2026-11-23T05:00:00+09:00",
    )

    async def go() -> PushResult:
        async with make_sender(identity) as sender:
            return await sender.send(target(devpush, sub), payload, ttl=7200, urgency="high", topic="n-1 update")

    result = asyncio.run(go())

    assert (result.outcome, result.status) == (Outcome.SENT, 201)
    [got] = devpush.received(sub)
    assert got.json()["body"] == TEXT
    assert got.json()["id"] == "n-1"
    assert (got.ttl, got.urgency) == (7200, "high")
    assert got.topic is not None and len(got.topic) <= 32


def test_a_different_vapid_key_than_subscribed_with_is_refused(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe(vapid_key=identity.public_key_b64url)

    result = send_one(VapidIdentity.generate(), target(devpush, sub))

    assert (result.outcome, result.status) == (Outcome.REJECTED, 403)
    assert devpush.received(sub) == []


def test_a_token_for_another_push_service_is_refused(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()

    async def go() -> PushResult:
        async with make_sender(identity) as sender:
            real = sender.signer.for_origin
            sender.signer.for_origin = lambda origin: real("https://fcm.googleapis.com")  # type: ignore[method-assign]
            return await sender.send(target(devpush, sub), b"x", ttl=60)

    result = asyncio.run(go())
    assert (result.outcome, result.status) == (Outcome.REJECTED, 403)
    assert "aud" in result.reason


def test_gone_endpoint_is_classified_gone(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    devpush.fault(sub, Fault(status=410))

    result = send_one(identity, target(devpush, sub))

    assert (result.outcome, result.status) == (Outcome.GONE, 410)


def test_unknown_subscription_is_gone(devpush: DevPush, identity: VapidIdentity) -> None:
    t = PushTarget(f"{devpush.url}/push/nobody", *_keys(devpush))
    assert send_one(identity, t).outcome is Outcome.GONE


def _keys(devpush: DevPush) -> tuple[str, str]:
    sub = devpush.subscribe()
    return sub.keys.p256dh, sub.keys.auth


def test_server_error_is_retryable_and_then_succeeds(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    devpush.fault(sub, Fault(status=500, remaining=2))

    async def go() -> list[PushResult]:
        async with make_sender(identity) as sender:
            return [await sender.send(target(devpush, sub), b"x", ttl=60) for _ in range(3)]

    results = asyncio.run(go())

    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.RETRY, Outcome.SENT]
    assert results[0].status == 500 and results[0].retryable
    assert len(devpush.received(sub)) == 1


def test_429_retry_after_pauses_the_origin_and_the_next_send_waits(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    devpush.fault(sub, Fault(status=429, retry_after="1", remaining=1))

    async def go() -> tuple[PushResult, float, PushResult, float]:
        async with make_sender(identity) as sender:
            first = await sender.send(target(devpush, sub), b"x", ttl=60)
            paused = sender.paused_for(devpush.endpoint(sub))
            start = time.monotonic()
            second = await sender.send(target(devpush, sub), b"x", ttl=60)
            return first, paused, second, time.monotonic() - start

    first, paused, second, waited = asyncio.run(go())

    assert (first.outcome, first.status, first.retry_after) == (Outcome.RATE_LIMITED, 429, 1.0)
    assert 0.5 < paused <= 1.0
    assert second.outcome is Outcome.SENT
    assert waited >= 0.5


def test_a_long_retry_after_hands_back_without_sending_unless_the_message_would_expire(
    devpush: DevPush, identity: VapidIdentity
) -> None:
    sub = devpush.subscribe()
    devpush.fault(sub, Fault(status=429, retry_after="120", remaining=1))

    async def go() -> tuple[PushResult, PushResult, PushResult]:
        async with make_sender(identity, max_wait_s=5.0) as sender:
            return (
                await sender.send(target(devpush, sub), b"x", ttl=600),
                await sender.send(target(devpush, sub), b"x", ttl=600),
                await sender.send(target(devpush, sub), b"x", ttl=60),  # would expire while paused
            )

    first, second, last_chance = asyncio.run(go())

    assert first.retry_after == 120.0
    assert second.outcome is Outcome.RATE_LIMITED and second.status is None
    assert second.retry_after is not None and 110 < second.retry_after <= 120
    assert last_chance.outcome is Outcome.SENT
    assert devpush.state.stats()["counters"]["requests"] == 2  # type: ignore[index]


def test_a_stalled_endpoint_times_out_as_retry_and_does_not_hold_up_others(
    devpush: DevPush, identity: VapidIdentity
) -> None:
    stalled = devpush.subscribe()
    others = [devpush.subscribe() for _ in range(3)]
    devpush.fault(stalled, Fault(stall_s=3.0, remaining=1))

    async def go() -> tuple[PushResult, list[tuple[PushResult, float]]]:
        async with make_sender(identity, limits=Limits(timeout_s=1.0, connect_timeout_s=1.0)) as sender:
            start = time.monotonic()

            async def timed(t: PushTarget) -> tuple[PushResult, float]:
                result = await sender.send(t, b"x", ttl=60)
                return result, time.monotonic() - start

            slow = asyncio.create_task(sender.send(target(devpush, stalled), b"x", ttl=60))
            fast = await asyncio.gather(*(timed(target(devpush, s)) for s in others))
            return await slow, fast

    slow, fast = asyncio.run(go())

    assert slow.outcome is Outcome.RETRY and slow.status is None and "timed out" in slow.reason
    assert all(r.outcome is Outcome.SENT and elapsed < 0.9 for r, elapsed in fast)
    # The push service drops the request the sender gave up on, as a real one would (wait for it so
    # its late bookkeeping does not land in the next test).
    deadline = time.monotonic() + 10
    while devpush.state.counters["dropped"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert devpush.state.counters["dropped"] == 1
    assert devpush.received(stalled) == []


def test_connection_refused_is_retryable(identity: VapidIdentity) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from pushsvc.dev.devpush import SubscriberKeys

    keys = SubscriberKeys.generate()
    result = send_one(identity, PushTarget(f"http://127.0.0.1:{port}/push/x", keys.p256dh, keys.auth))

    assert result.outcome is Outcome.RETRY and result.status is None


class NoNetwork:
    """A transport that fails the test if the sender ever uses it."""

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> TransportResponse:
        raise AssertionError(f"a request was made to {url}")

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    "endpoint",
    ["https://evil.example.com/push/1", "http://fcm.googleapis.com/fcm/send/1", "https://10.0.0.5/push/1"],
)
def test_endpoint_outside_the_allowlist_is_refused_without_a_request(identity: VapidIdentity, endpoint: str) -> None:
    from pushsvc.dev.devpush import SubscriberKeys

    keys = SubscriberKeys.generate()
    result = send_one(
        identity,
        PushTarget(endpoint, keys.p256dh, keys.auth),
        allowed_hosts=["fcm.googleapis.com"],
        transport=NoNetwork(),
    )

    assert (result.outcome, result.status) == (Outcome.REFUSED, None)


def test_what_is_decided_once_per_origin_still_refuses_per_endpoint(identity: VapidIdentity) -> None:
    """The sender caches the allowlist verdict per scheme://host; the endpoint's length is still checked each time."""
    from pushsvc.dev.devpush import SubscriberKeys

    keys = SubscriberKeys.generate()

    class Accepting(NoNetwork):
        async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> TransportResponse:
            return TransportResponse(201, None, "")

    async def go() -> list[PushResult]:
        async with make_sender(identity, allowed_hosts=["fcm.googleapis.com"], transport=Accepting()) as sender:
            out = []
            fcm = "https://fcm.googleapis.com/fcm/send/"
            for endpoint in (
                fcm + "1",
                fcm + "x" * 2100,
                "https://evil.example.com/1",
                "https://fcm.googleapis.com.evil.example/1",
                "http://fcm.googleapis.com/1",
                "fcm/send/1",
            ):
                out.append(await sender.send(PushTarget(endpoint, keys.p256dh, keys.auth), b"hi", ttl=60))
            return out

    results = asyncio.run(go())
    assert [r.outcome for r in results] == [Outcome.SENT] + [Outcome.REFUSED] * 5
    assert "longer than" in results[1].reason


def test_loopback_not_in_the_allowlist_gets_no_request(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()

    result = send_one(identity, target(devpush, sub), allowed_hosts=["fcm.googleapis.com"])

    assert result.outcome is Outcome.REFUSED
    assert devpush.state.stats()["counters"] == {}


def test_unusable_subscription_keys_are_refused(identity: VapidIdentity) -> None:
    t = PushTarget("https://fcm.googleapis.com/fcm/send/1", "AAAA", "AAAA")
    result = send_one(identity, t, allowed_hosts=["fcm.googleapis.com"], transport=NoNetwork())
    assert result.outcome is Outcome.REFUSED and "keys" in result.reason


def test_ttl_and_urgency_are_checked_before_anything_is_sent(identity: VapidIdentity) -> None:
    t = PushTarget("https://fcm.googleapis.com/fcm/send/1", "AAAA", "AAAA")

    async def go(**kwargs: object) -> PushResult:
        async with make_sender(identity, transport=NoNetwork()) as sender:
            return await sender.send(t, b"x", **kwargs)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="ttl"):
        asyncio.run(go(ttl=-1))
    with pytest.raises(ValueError, match="urgency"):
        asyncio.run(go(ttl=60, urgency="urgent"))


def test_the_jwt_is_signed_once_per_origin(devpush: DevPush, identity: VapidIdentity) -> None:
    subs = [devpush.subscribe() for _ in range(3)]
    via_localhost = target(devpush, subs[0])
    via_localhost = PushTarget(via_localhost.endpoint.replace("127.0.0.1", "localhost"), *_keys_of(via_localhost))

    async def go() -> tuple[list[PushResult], int]:
        async with make_sender(identity) as sender:
            results = [await sender.send(target(devpush, s), b"x", ttl=60) for s in subs * 2]
            results.append(await sender.send(via_localhost, b"x", ttl=60))
            return results, sender.signer.signed

    results, signed = asyncio.run(go())

    assert all(r.outcome is Outcome.SENT for r in results)
    assert signed == 2  # one for http://127.0.0.1:port, one for http://localhost:port


def _keys_of(t: PushTarget) -> tuple[str, str]:
    return t.p256dh, t.auth


def test_httpx_transport_sends_the_same(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    result = send_one(identity, target(devpush, sub), b'{"x":1}', transport=HttpxTransport(Limits(timeout_s=2)))
    assert result.outcome is Outcome.SENT
    assert json.loads(devpush.received(sub)[0].payload) == {"x": 1}
