"""Engine behaviour on small hand-made sequences: hysteresis, falls, disappearance, spikes, state, messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pushsvc.feeds.river import (
    AlertRules,
    Evaluation,
    Reading,
    Snapshot,
    Station,
    StationState,
    Thresholds,
    apply_station_config,
    evaluate,
    load_station_config,
    municipality_code,
    parse_time,
    replay,
)

T0 = datetime(2026, 6, 2, 11, 0, tzinfo=UTC)  # 20:00 JST
INO = Station(  # real kawabou thresholds of 伊野 (仁淀川), いの町
    code="2255900400009",
    name="伊野",
    river="仁淀川",
    municipality="39386",
    thresholds=Thresholds(standby=5.0, caution=6.6, evacuation=8.15, danger=8.8, flooding=9.75),
    source="kawabou",
    downstream=("39205",),
)
GAUGE = Station(  # real crisis gauge 鍛冶屋瀬橋, 四万十町
    code="3900000050",
    name="鍛冶屋瀬橋",
    municipality="39412",
    thresholds=Thresholds(start=206.81, danger=212.71),
    source="k.river",
)


def run(
    station: Station, levels: list[float | None], *, minutes: int = 60, rules: AlertRules | None = None
) -> Evaluation:
    """One reading per step; ``None`` = the gauge is missing from a complete k.river snapshot."""
    snaps = []
    for i, level in enumerate(levels):
        at = T0 + timedelta(minutes=minutes * i)
        readings = () if level is None else (Reading(station.code, at, level),)
        snaps.append(Snapshot(source=station.source, taken_at=at, readings=readings, complete=True))
    return replay(snaps, {station.code: station}, rules)


def kinds(result: Evaluation) -> list[tuple[str, str]]:
    return [(a.kind, a.stage) for a in result.alerts]


def test_rise_alerts_once_per_stage_with_severity_by_level() -> None:
    result = run(INO, [7.0, 8.2, 8.5, 8.9, 9.2, 9.8])
    assert kinds(result) == [("rise", "evacuation"), ("rise", "danger"), ("rise", "flooding")]
    assert [a.severity for a in result.alerts] == ["warning", "emergency", "emergency"]
    assert [a.alert_level for a in result.alerts] == [3, 4, 5]


def test_a_jump_past_two_thresholds_sends_one_alert_for_the_higher() -> None:
    assert kinds(run(INO, [7.5, 8.9])) == [("rise", "danger")]


def test_hysteresis_no_realert_until_below_the_margin_then_a_clear_message() -> None:
    # 8.9 above danger 8.8; dips to 8.7 (within 0.2 m) and back: no new alert; 8.5 re-arms with a message.
    result = run(INO, [8.5, 8.9, 8.7, 8.95, 8.62, 8.5, 8.9])
    assert kinds(result) == [("rise", "evacuation"), ("rise", "danger"), ("fall", "danger"), ("rise", "danger")]
    fall = result.alerts[2]
    # 8.5 is still above 避難判断水位 (8.15): Lv3 stays in force, so the message has Lv3's severity and action
    assert fall.severity == "warning" and fall.level == 8.5 and fall.threshold == 8.8 and fall.alert_level == 3
    assert fall.stage_after == "evacuation" and "高齢者等" in fall.body_ja
    assert "氾濫危険水位（8.80m）を下回りました" in fall.body_ja
    assert "back below the flood danger level (8.80 m)" in fall.body_en


def test_margin_is_configurable_in_metres_or_as_a_fraction_of_the_span() -> None:
    assert kinds(run(INO, [8.9, 8.75, 8.9], rules=AlertRules(rearm_margin_m=0.0))) == [
        ("rise", "danger"),
        ("fall", "danger"),
        ("rise", "danger"),
    ]
    # span of 伊野 = 8.8 - 5.0 = 3.8 m; 10% = 0.38 m, so 8.5 does not re-arm
    assert kinds(run(INO, [8.9, 8.5, 8.9], rules=AlertRules(rearm_margin_fraction=0.1))) == [("rise", "danger")]


def test_disappearing_from_the_complete_feed_near_its_start_level_is_a_fall_below_it() -> None:
    result = run(GAUGE, [207.0, 208.0, None, 208.5])  # within 0.3 spans of its start level: it fell
    assert result.alerts == [] and result.no_data == []
    result = run(GAUGE, [210.0, 213.0, 209.0, 207.5, None, 210.0, 213.0])  # (213 straight from low: confirmed first)
    assert kinds(result) == [("rise", "danger"), ("fall", "danger"), ("rise", "danger")]
    fall = result.alerts[1]
    assert fall.level == 209.0 and fall.severity == "info" and fall.stage_after is None


def test_vanishing_from_well_above_its_start_level_is_no_data_not_a_fall() -> None:
    """(Was: any absence was a fall below start level, so a gauge gone at 213 m said "fell below".)"""
    result = run(GAUGE, [210.0, 213.0, None, None, 213.2], minutes=10)
    assert kinds(result) == [("rise", "danger")]  # nothing said while it was gone, and no re-alert after
    assert result.no_data == [GAUGE.code] and result.states[GAUGE.code].missing_since is None
    gone = run(GAUGE, [210.0, 213.0, None], minutes=10)
    assert gone.states[GAUGE.code].missing_since == T0 + timedelta(minutes=20)
    # gone long enough to have fallen 6.2 m at 1 span (5.9 m) an hour: then it is believed
    late = run(GAUGE, [210.0, 213.0, None, None], minutes=40)
    assert kinds(late) == [("rise", "danger"), ("fall", "danger")] and late.alerts[1].level is None
    assert "観測開始水位（206.81m）未満" in late.alerts[1].body_ja


def test_a_partial_snapshot_does_not_mean_the_missing_stations_fell() -> None:
    high = evaluate(Snapshot("k.river", T0, (Reading(GAUGE.code, T0, 213.0),), complete=True), {GAUGE.code: GAUGE}, {})
    later = T0 + timedelta(hours=1)
    partial = evaluate(Snapshot("k.river", later, (), complete=False), {GAUGE.code: GAUGE}, high.states)
    assert partial.alerts == [] and partial.states[GAUGE.code].level == 213.0


def test_an_isolated_spike_is_held_and_discarded_when_the_next_reading_is_normal() -> None:
    result = run(GAUGE, [207.0, 216.5, 207.2])  # +9.5 m in an hour; limit 1.5 spans of 5.9 m = 8.85 m/h
    assert result.alerts == []
    assert [h.level for h in result.held] == [216.5] and "rose" in result.held[0].reason
    assert [h.level for h in result.discarded] == [216.5]
    assert result.states[GAUGE.code].held_level is None and result.states[GAUGE.code].level == 207.2


def test_a_fast_rise_confirmed_by_the_next_reading_alerts_one_reading_late() -> None:
    # 10-minute polling: +9.5 m is held; 216.8 ten minutes later is still too fast from 207.0 but consistent
    # with 216.5, so the two sensor values confirm each other
    result = run(GAUGE, [207.0, 216.5, 216.8], minutes=10)
    assert [h.level for h in result.held] == [216.5] and [h.level for h in result.confirmed] == [216.5]
    assert [(a.kind, a.level) for a in result.alerts] == [("rise", 216.8)]


def test_readings_above_the_ceiling_are_never_confirmed_by_each_other() -> None:
    # 2 spans (11.8 m) above danger is beyond any bank: even two agreeing readings stay held
    result = run(GAUGE, [212.0, 225.0, 225.3, 212.5])
    assert result.alerts == [] and "highest threshold" in result.held[1].reason


def test_a_repeated_observation_time_is_ignored() -> None:
    snap = Snapshot("k.river", T0, (Reading(GAUGE.code, T0, 213.0),), complete=True)
    first = evaluate(snap, {GAUGE.code: GAUGE}, {})
    again = evaluate(snap, {GAUGE.code: GAUGE}, first.states)
    assert len(first.alerts) == 1 and again.alerts == [] and again.states == first.states


def test_state_survives_a_json_round_trip_mid_event(
    event_snapshots: list[Snapshot], crisis_stations: dict[str, Station]
) -> None:
    """The poller stores state between polls: stopping and resuming must not re-alert or lose a fall."""
    whole = replay(event_snapshots, crisis_stations)
    half = len(event_snapshots) // 2
    first = replay(event_snapshots[:half], crisis_stations)
    stored = json.loads(json.dumps({c: s.to_dict() for c, s in first.states.items()}))
    second = replay(
        event_snapshots[half:], crisis_stations, states={c: StationState.from_dict(d) for c, d in stored.items()}
    )
    assert [a.id for a in first.alerts + second.alerts] == [a.id for a in whole.alerts]
    json.dumps([a.to_dict() for a in whole.alerts])  # alerts are JSON-ready too


def test_alert_text_names_river_station_level_threshold_action_and_targets(tmp_path: Path) -> None:
    config = tmp_path / "river.toml"
    config.write_text(
        '[stations."3900000050"]\nriver = "四万十川"\ndownstream = ["39210", "392120"]\n', encoding="utf-8"
    )
    station = apply_station_config({GAUGE.code: GAUGE}, load_station_config(config))[GAUGE.code]
    alert = run(station, [213.83]).alerts[0]
    assert alert.municipalities == ("39412", "39210", "39212")
    assert alert.topic == "river-3900000050" and alert.id == "river-3900000050-rise-danger-20260602T110000Z"
    assert alert.title_ja == "【危険水位超過・警戒レベル4相当】鍛冶屋瀬橋（四万十川）"
    assert alert.body_ja == (
        "鍛冶屋瀬橋（四万十川）の水位が213.83m（6月2日20:00観測）となり、危険水位（212.71m）を超えました。"
        "【警戒レベル4相当】危険な場所から全員避難してください（避難指示の対象）。"
    )
    assert "213.83 m, above the flood danger level (212.71 m)" in alert.body_en
    assert "Everyone must evacuate" in alert.body_en and "四万十川" in alert.title_en
    evacuation = run(INO, [8.2]).alerts[0]
    assert "避難判断水位（8.15m）" in evacuation.body_ja and "高齢者等避難" in evacuation.body_ja
    assert evacuation.municipalities == ("39386", "39205")


def test_jst_timestamps_become_aware_utc() -> None:
    expected = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)
    assert parse_time("2026-06-02T22:00:00+09:00") == expected
    assert parse_time("2026/06/02 22:00") == expected
    assert parse_time("2026-06-02 22:00:00") == expected
    assert parse_time("2026-06-02T13:00:00.000Z") == expected
    assert parse_time("2026-06-03") == datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


def test_municipality_codes_in_every_form_normalise_to_five_digits() -> None:
    assert municipality_code("39202") == municipality_code(39202) == "39202"
    assert municipality_code("392014") == "39201"  # JIS with check digit
    assert municipality_code("3920200") == "39202"  # JMA 7-digit
    assert municipality_code(1100) == "01100"  # numeric copy that lost its leading zero


def test_rules_load_from_settings_mapping() -> None:
    rules = AlertRules.from_mapping({"rearm_margin_m": 0.3, "spike": {"max_rise_spans_per_hour": 2.0}})
    assert rules.margin(INO) == 0.3
    assert rules.spike.max_rise_spans_per_hour == 2.0 and rules.spike.ceiling_spans == 2.0
