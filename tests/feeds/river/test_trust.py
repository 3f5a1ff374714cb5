"""Readings that can be trusted: one-reading spikes into every crisis gauge page no one; a gauge that
vanishes from well above its start level is "no data"; genuine fast rises still alert once confirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pushsvc.feeds.river import Reading, Snapshot, Station, replay

T0 = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def _snap(minutes: int, *readings: tuple[str, float]) -> Snapshot:
    at = T0 + timedelta(minutes=minutes)
    return Snapshot("k.river", at, tuple(Reading(c, at, v) for c, v in readings), complete=True)


def _spike(station: Station) -> float:
    t = station.thresholds
    assert t.start is not None and t.danger is not None
    return max(t.start + 3.0, t.danger + 0.5)  # "+3 m", and always past the danger level


@pytest.mark.parametrize("before", ["absent", "just above start"])
def test_a_one_reading_spike_into_every_one_of_the_155_crisis_gauges_pages_no_one(
    crisis_stations: dict[str, Station],
    before: str,
) -> None:
    assert len(crisis_stations) == 155
    snaps = [_snap(0)]  # everything low: the feed lists nothing
    for i, (code, station) in enumerate(sorted(crisis_stations.items())):
        t0 = 30 * i + 10
        base = () if before == "absent" else ((code, station.thresholds.start + 0.05),)  # type: ignore[operator]
        snaps += [_snap(t0, *base), _snap(t0 + 10, (code, _spike(station))), _snap(t0 + 20, *base)]
    result = replay(snaps, crisis_stations)
    assert [a for a in result.alerts if a.kind == "rise"] == []
    assert result.alerts == []
    assert sorted({h.station_code for h in result.held}) == sorted(crisis_stations)  # each held, none believed
    assert result.confirmed == []


def test_two_agreeing_readings_after_a_jump_alert_once_one_reading_late(crisis_stations: dict[str, Station]) -> None:
    code, station = "3900000050", crisis_stations["3900000050"]  # 鍛冶屋瀬橋: start 206.81, danger 212.71
    result = replay([_snap(0), _snap(10, (code, 213.0)), _snap(20, (code, 213.2))], crisis_stations)
    assert [(a.kind, a.level) for a in result.alerts] == [("rise", 213.2)]
    assert [h.level for h in result.confirmed] == [213.0] and "needs a second reading" in result.held[0].reason
    assert station.thresholds.danger == 212.71


def test_a_gauge_vanishing_at_8_6_m_says_nothing_until_it_could_have_fallen(
    crisis_stations: dict[str, Station],
) -> None:
    code = "3900000064"  # 椎名 (室戸市): start 4.00 m, danger 8.12 m
    start, danger = crisis_stations[code].thresholds.start, crisis_stations[code].thresholds.danger
    assert (start, danger) == (4.0, 8.12)
    high = 8.6
    rising = [_snap(10 * i, (code, start + (high - start) * i / 6)) for i in range(7)]
    gone = [_snap(70 + 10 * i) for i in range(6)]  # an hour without it
    result = replay([*rising, *gone], crisis_stations)
    assert [a.kind for a in result.alerts] == ["rise"]  # the crossing, and no "fell below" afterwards
    assert result.no_data == [code] and result.states[code].missing_since == T0 + timedelta(minutes=70)
    assert result.states[code].level == pytest.approx(high)
