"""The 2026-06-02 rain event, served over loopback HTTP as the live k.river feed, through the real poller,
delivery worker and local push service: the right residents decrypt each alert, once, across restarts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

import pytest
from sqlalchemy import select

from pushsvc.dev.localfeed import AREA_INFO_PATH, KriverReplay, LocalFeedServer
from pushsvc.feeds import service
from pushsvc.feeds.models import FeedAlert
from tests.feeds.conftest import PollDriver, kriver_source
from tests.feeds.river.test_replay import raw_danger_crossings, town_codes
from tests.fixtures.delivery import Harness, Resident
from tests.fixtures.river import EVENT_CSV, river_file

QUIET_TOWNS = ("39201", "39212", "39424")  # 高知市, 香美市, 梼原町: no gauge there crossed danger in this event


def _alerts(harness: Harness) -> list[FeedAlert]:
    with harness.db.sessionmaker() as s:
        return list(s.execute(select(FeedAlert).order_by(FeedAlert.id)).scalars())


def test_event_replay_alerts_exactly_the_crossing_municipalities_once_across_a_restart_and_a_crash(
    harness: Harness,
    event_feed: tuple[KriverReplay, LocalFeedServer],
    driver_factory: Callable[..., PollDriver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replay, server = event_feed
    expected = raw_danger_crossings(river_file("series", EVENT_CSV.name))
    towns = town_codes()
    danger_towns = sorted({towns[c] for c in expected})
    residents: dict[str, list[Resident]] = defaultdict(list)
    for town in (*danger_towns, *QUIET_TOWNS):
        residents[town] += [harness.subscribe(town) for _ in range(2)]
    both = harness.subscribe(danger_towns[0], QUIET_TOWNS[0], lang="en")  # home in one, work in the other

    driver = driver_factory(kriver_source(server.url + AREA_INFO_PATH))
    crash_at, restart_at = len(replay) // 3, len(replay) // 2
    for i in range(len(replay)):
        replay.position = i
        if i == crash_at:  # the process dies after evaluating, before its commit: nothing may be half-kept
            with monkeypatch.context() as m:
                m.setattr(service, "record_success", _boom)
                assert not driver.poll().ok
            driver.restart()
        if i == restart_at:
            driver.restart()
        result = driver.poll()
        assert result.ok, (i, result.error)  # (the crawl repeats its last document: then a 304)
        assert driver.poll().changed is False  # the same document again: 304, nothing to do
    harness.run_worker()

    alerts = _alerts(harness)
    rises = [a for a in alerts if a.kind == "rise"]
    assert Counter(a.detail["station_code"] for a in rises) == expected  # 9 crossings at 9 gauges
    assert sorted({m for a in rises for m in a.municipalities}) == danger_towns and len(danger_towns) == 7
    assert Counter(a.detail["station_code"] for a in alerts if a.kind == "fall") == expected

    per_town = Counter(m for a in alerts for m in a.municipalities)
    for town, people in residents.items():
        for r in people:
            got = harness.push.received(r.device)
            assert len(got) == per_town[town], town
            assert len({m.json()["id"] for m in got}) == len(got)  # never the same notification twice
    first = harness.push.received(residents[danger_towns[0]][0].device)[0].json()
    assert first["category"] == "river" and first["severity"] == "emergency" and "危険水位" in first["title"]
    assert len(harness.push.received(both.device)) == per_town[danger_towns[0]]
    assert "River above" in harness.push.received(both.device)[0].json()["title"]
    assert server.not_modified >= len(replay)


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("killed before commit")


def test_stations_api_and_portal_lookup_show_latest_level_and_stage(
    harness: Harness,
    event_feed: tuple[KriverReplay, LocalFeedServer],
    driver_factory: Callable[..., PollDriver],
) -> None:
    replay, server = event_feed
    driver = driver_factory(kriver_source(server.url + AREA_INFO_PATH))
    peak = replay.labels.index("public/data/2026/06/03/00/index.json")
    replay.position = peak
    assert driver.poll().ok

    r = harness.client.get("/api/v1/rivers/stations")
    assert r.status_code == 200
    stations = r.json()["stations"]
    assert len(stations) == 155 and r.json()["attribution"]
    by_code = {s["code"]: s for s in stations}
    above = [s for s in stations if s["stage"] == "danger"]
    assert above and all(s["level"] >= s["thresholds"]["danger"] for s in above)
    low = by_code["3900000001"]  # 下の内橋下流 5.22 m at 00:10 (start 4.64, danger 7.44)
    assert (low["level"], low["stage"], low["municipality_code"]) == (5.22, "start", "39202")

    muroto = harness.client.get("/api/v1/rivers/stations", params={"municipality": "39202"}).json()["stations"]
    assert muroto and {s["municipality_code"] for s in muroto} == {"39202"}
    with harness.db.sessionmaker() as s:
        portal = service.stations_for_municipalities(s, ["39202"])
    order = ["normal", "start", "standby", "caution", "evacuation", "danger", "flooding"]
    ranks = [order.index(p["stage"]) for p in portal]
    assert ranks == sorted(ranks, reverse=True)  # the most worrying gauge first
    assert {p["code"] for p in portal} == {s["code"] for s in muroto}
