"""A publisher that answers 500s, hangs, or returns garbage: the poller backs off, reports it, and resumes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from pushsvc.dev.localfeed import AREA_INFO_PATH, KriverReplay, LocalFeedServer, Misbehaviour
from pushsvc.feeds import service
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.poller import Poller, PollResult
from tests.feeds.conftest import PollDriver, kriver_source
from tests.fixtures.delivery import Harness


def _poll(driver: PollDriver) -> tuple[PollResult, float]:
    """One poll, and the wait it scheduled (next poll minus this attempt, as stored)."""
    result = driver.poll()
    with driver.harness.db.sessionmaker() as s:
        row = s.execute(select(FeedSource)).scalar_one()
        assert row.next_poll_at and row.last_attempt_at
        return result, round((row.next_poll_at - row.last_attempt_at).total_seconds(), 3)


def test_500_hang_and_garbage_back_off_show_in_health_and_recover(
    harness: Harness,
    event_feed: tuple[KriverReplay, LocalFeedServer],
    driver_factory: Callable[..., PollDriver],
) -> None:
    replay, server = event_feed
    replay.position = 10
    settings = harness.settings.model_copy(update={"feed_max_backoff_s": 0.8})
    driver = driver_factory(kriver_source(server.url + AREA_INFO_PATH), settings)
    assert driver.poll().ok

    server.misbehaviour = Misbehaviour(status=500)
    failed = [_poll(driver) for _ in range(3)]
    assert [r.error for r, _ in failed] == ["HTTP 500"] * 3
    assert [gap for _, gap in failed] == [0.1, 0.2, 0.4]  # interval 0.05 s doubled per failure

    server.misbehaviour = Misbehaviour(hang_s=3.0)
    started = time.monotonic()
    hung, hung_gap = _poll(driver)
    assert not hung.ok and "within 1 s" in (hung.error or "") and time.monotonic() - started < 2.5
    server.misbehaviour = Misbehaviour(garbage=b"<html>503 Service Unavailable</html>")
    garbage, garbage_gap = _poll(driver)
    assert not garbage.ok and "not a k.river area_info document" in (garbage.error or "")
    assert (hung_gap, garbage_gap) == (0.8, 0.8)  # capped

    [health] = harness.client.get("/api/v1/feeds").json()["sources"]
    assert (health["status"], health["healthy"], health["consecutive_failures"]) == ("failing", True, 5)
    assert "not a k.river" in health["last_error"]
    with harness.db.sessionmaker() as s:  # past the threshold without a success: down
        [down] = service.list_health(s, [], now=datetime.now(UTC), unhealthy_after_s=0.001)
    assert (down["status"], down["healthy"]) == ("down", False)

    server.misbehaviour = None
    replay.position = 11
    back = driver.poll()
    assert back.ok and back.changed
    [health] = harness.client.get("/api/v1/feeds").json()["sources"]
    assert (health["status"], health["healthy"], health["consecutive_failures"], health["last_error"]) == (
        "ok",
        True,
        0,
        None,
    )


def test_poll_loop_survives_a_failing_source_and_resumes_on_its_own(
    harness: Harness,
    event_feed: tuple[KriverReplay, LocalFeedServer],
) -> None:
    replay, server = event_feed
    replay.position = 0
    server.misbehaviour = Misbehaviour(status=503)
    settings = harness.settings.model_copy(update={"feed_max_backoff_s": 0.4})
    results: list[tuple[float, PollResult]] = []

    async def go() -> None:
        stop = asyncio.Event()

        def seen(r: PollResult) -> None:
            results.append((time.monotonic(), r))
            if sum(not x.ok for _, x in results) == 4:
                server.misbehaviour = None  # the publisher comes back
            if r.ok:
                stop.set()

        poller = Poller(settings, harness.db.sessionmaker, [kriver_source(server.url + AREA_INFO_PATH)], on_result=seen)
        await asyncio.wait_for(poller.run(stop), timeout=15)

    asyncio.run(go())
    assert [r.ok for _, r in results] == [False] * 4 + [True]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(results)]
    assert gaps[0] < gaps[2] and gaps[2] >= 0.35  # waits grow until the cap, not a hot loop
