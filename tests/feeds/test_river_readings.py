"""The server keeps each gauge's trusted readings (once each), so the resident's chart has the last hours even
when the page was just opened; held spikes are not kept, old readings are pruned by housekeeping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from pushsvc import housekeeping
from pushsvc.db import session_scope
from pushsvc.feeds import service as feeds
from pushsvc.feeds.models import RiverReading
from pushsvc.feeds.river.records import Reading, Snapshot, Station, Thresholds
from pushsvc.feeds.sources import SourceConfig
from tests.feeds.conftest import kriver_source
from tests.fixtures.delivery import Harness

KAGAMI = Station(
    code="3900000099",
    name="鏡川橋",
    river="鏡川",
    municipality="39201",
    source="kochi-kriver",
    lat=33.5611,
    lon=133.5124,
    thresholds=Thresholds(caution=2.5, evacuation=3.2, danger=3.6, flooding=4.2),
)
CFG: SourceConfig = kriver_source("http://127.0.0.1:9/area_info")


def ingest(harness: Harness, readings: Sequence[tuple[datetime, float]], taken_at: datetime) -> None:
    """One snapshot through the same function the poller calls."""
    with session_scope(harness.db.sessionmaker) as s:
        feeds.sync_stations(s, CFG.name, {KAGAMI.code: KAGAMI}, now=taken_at)
        row = feeds.get_source(s, CFG, now=taken_at)
        snap = Snapshot(
            source=CFG.name,
            taken_at=taken_at,
            readings=tuple(Reading(KAGAMI.code, at, level) for at, level in readings),
        )
        feeds.ingest_river_snapshot(
            s, row, snap, {KAGAMI.code: KAGAMI}, rules=None, settings=harness.settings, now=taken_at
        )


def stored(harness: Harness) -> list[tuple[datetime, float]]:
    with harness.db.sessionmaker() as s:
        got = feeds.readings_since(s, [KAGAMI.code], datetime(2000, 1, 1, tzinfo=UTC))
    return [(p["observed_at"], p["level"]) for p in got.get(KAGAMI.code, [])]


def test_trusted_readings_are_kept_once_each_and_a_held_spike_is_not(harness: Harness) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    times = [now - timedelta(minutes=m) for m in (180, 170, 160)]
    ingest(harness, [(times[0], 2.0)], times[0])
    ingest(harness, [(times[1], 2.1)], times[1])
    ingest(harness, [(times[1], 2.1)], times[1] + timedelta(minutes=2))  # the same reading polled again
    ingest(harness, [(times[2], 9.9)], times[2])  # +7.8 m in ten minutes: held, never charted as is
    assert stored(harness) == [(times[0], 2.0), (times[1], 2.1)]
    with harness.db.sessionmaker() as s:
        assert s.execute(select(func.count()).select_from(RiverReading)).scalar_one() == 2


def test_the_portal_returns_the_last_hours_of_each_gauge(harness: Harness) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old, a, b = now - timedelta(hours=9), now - timedelta(hours=2), now - timedelta(minutes=10)
    for at, level in ((old, 1.8), (a, 2.2), (b, 2.6)):
        ingest(harness, [(at, level)], at)
    resident = harness.subscribe("39201")
    r = harness.client.get(
        f"/api/v1/portal/me?subscription={resident.id}", headers={"Authorization": f"Bearer {resident.token}"}
    )
    assert r.status_code == 200
    [gauge] = [g for g in r.json()["places"][0]["rivers"] if g["code"] == KAGAMI.code]
    assert [(datetime.fromisoformat(p["observed_at"]), p["level"]) for p in gauge["history"]] == [(a, 2.2), (b, 2.6)]
    assert gauge["level"] == 2.6  # the latest, as before


def test_housekeeping_prunes_readings_past_the_retention(harness: Harness) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    keep = harness.settings.river_readings_retention_h
    old, fresh = now - timedelta(hours=keep + 1), now - timedelta(hours=keep - 1)
    ingest(harness, [(old, 2.0)], old)
    ingest(harness, [(fresh, 2.1)], fresh)
    results = {r.name: r for r in housekeeping.run_once(harness.db.sessionmaker, harness.settings, now=now)}
    assert results["river readings past retention"].removed == 1
    assert stored(harness) == [(fresh, 2.1)]
