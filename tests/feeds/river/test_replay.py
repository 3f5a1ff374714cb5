"""Replays of real Kochi gauge data: the 2026-06-02 rain event and a year of hourly snapshots."""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from pushsvc.feeds.river import AlertRules, Evaluation, Snapshot, SpikeRule, Station, replay
from tests.feeds.river.conftest import EVENT_CSV, GAUGES_CSV, SPIKY_GAUGE, YEAR_CSV, river_file


def raw_danger_crossings(path: Path) -> Counter[str]:
    """Independently of the adapters: per gauge, how often a row reaches fladLevel while the gauge's row in
    its previous snapshot (the previous crawl that listed any gauge) was below it or absent."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    crawls = sorted({r["snapshot_path"] for r in rows})
    over: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if float(r["level"]) >= float(r["fladLevel"]):
            over[r["code"]].add(r["snapshot_path"])
    crossings: Counter[str] = Counter()
    for code, crawls_over in over.items():
        for i, crawl in enumerate(crawls):
            if crawl in crawls_over and (i == 0 or crawls[i - 1] not in crawls_over):
                crossings[code] += 1
    return crossings


def town_codes() -> dict[str, str]:
    with river_file("stations", GAUGES_CSV.name).open(encoding="utf-8") as fh:
        return {r["code"]: r["townCode"] for r in csv.DictReader(fh)}


def test_event_alerts_exactly_the_municipalities_whose_gauges_crossed_danger_once_per_crossing(
    event_snapshots: list[Snapshot], crisis_stations: dict[str, Station]
) -> None:
    expected = raw_danger_crossings(river_file("series", EVENT_CSV.name))
    result = replay(event_snapshots, crisis_stations)
    rises = [a for a in result.alerts if a.kind == "rise"]

    assert Counter(a.station_code for a in rises) == expected
    towns = town_codes()
    assert {m for a in rises for m in a.municipalities} == {towns[c] for c in expected}
    assert sum(expected.values()) == 9  # the real event: 9 gauges in 7 municipalities
    assert len({towns[c] for c in expected}) == 7
    assert all(a.stage == "danger" and a.severity == "emergency" for a in rises)
    # every crossing is closed by exactly one "back below" message once the water went down
    falls = Counter(a.station_code for a in result.alerts if a.kind == "fall")
    assert falls == expected
    assert not result.held and not result.unknown_stations


@pytest.mark.slow
def test_year_replay_alerts_every_sustained_crossing_and_no_isolated_spike(year_replay: Evaluation) -> None:
    expected = raw_danger_crossings(river_file("series", YEAR_CSV.name))
    assert expected[SPIKY_GAUGE] == 2  # the raw data does cross: 2026-01-26 and 2026-02-09
    del expected[SPIKY_GAUGE]

    rises = Counter(a.station_code for a in year_replay.alerts if a.kind == "rise")
    assert SPIKY_GAUGE not in {a.station_code for a in year_replay.alerts}
    assert rises == expected  # 立石橋 (Dec 2025, a day just above danger) once + the nine of 2026-06-02
    assert sum(rises.values()) == 10


@pytest.mark.slow
def test_year_replay_holds_only_the_spike_readings(year_replay: Evaluation) -> None:
    """The rule is checked against a year of 155 real gauges: it holds the three 渡し上り川橋下流 readings
    (14.00, 18.09, 19.17 m against a 6.75 m danger level) and nothing genuine, and none is ever confirmed."""
    assert [(h.station_code, h.level) for h in year_replay.held] == [
        (SPIKY_GAUGE, 14.0),
        (SPIKY_GAUGE, 18.09),
        (SPIKY_GAUGE, 19.17),
    ]
    assert year_replay.confirmed == []
    # each is dropped: 18.09 superseded by 19.17, and the gauge then vanished (fell below its start level)
    assert [h.level for h in year_replay.discarded] == [14.0, 18.09, 19.17]


@pytest.mark.slow
def test_rise_rate_alone_holds_the_single_spike_but_the_ceiling_is_needed_for_the_double_one(
    year_snapshots: list[Snapshot], crisis_stations: dict[str, Station]
) -> None:
    """Why both parts of SpikeRule exist: on 2026-02-09 two bad readings in a row agree with each other."""
    rate_only = AlertRules(spike=SpikeRule(ceiling_spans=math.inf))
    spiky = [s for s in year_snapshots if "2026/01/2" in s.label or "2026/02/0" in s.label]
    result = replay(spiky, {SPIKY_GAUGE: crisis_stations[SPIKY_GAUGE]}, rate_only)
    held = [(h.level, h.reason.split()[0]) for h in result.held]
    assert held == [(14.0, "rose"), (18.09, "rose")]
    assert [h.level for h in result.confirmed] == [18.09]  # …so 19.17 would page the town without a ceiling
    assert [a.level for a in result.alerts if a.kind == "rise"] == [19.17]
