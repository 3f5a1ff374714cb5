"""Only what changes for a municipality is sent: restatements are silent, lifts and cancels are short."""

from __future__ import annotations

import json

from pushsvc.feeds.jma import ChangeSet, State, detect_changes, parse_telegram
from tests.feeds.jma.kochi import KOCHI, MUROTO, kochi_warning, resolver, rewrite, sample

RAIN_ADVISORY = ("大雨注意報", "10", "発表")
RAIN_WARNING = ("大雨警報", "03", "発表")


def _run(state: State, data: bytes) -> ChangeSet:
    return detect_changes(state, parse_telegram(data, telegram_id="t"), resolver())


def _after(*telegrams: bytes) -> ChangeSet:
    state: State = {}
    result = ChangeSet((), {})
    for data in telegrams:
        result = _run(state, data)
        state = result.state
    return result


def test_first_warning_is_issued_and_state_is_json() -> None:
    result = _run({}, kochi_warning({KOCHI: [RAIN_ADVISORY], MUROTO: []}))
    [event] = result.events
    assert (event.change, event.municipalities, event.severity) == ("issued", ("39201",), "advisory")
    assert event.title_ja == "大雨注意報（発表）" and event.title_en == "Heavy rain advisory issued"
    assert "高知市" in event.body_ja
    assert json.loads(json.dumps(result.state)) == result.state
    assert result.state["39201"]["weather:大雨"]["kind"] == "大雨注意報"


def test_restatement_sends_nothing() -> None:
    first = kochi_warning({KOCHI: [RAIN_ADVISORY]})
    again = kochi_warning({KOCHI: [("大雨注意報", "10", "継続")]})
    result = _after(first, again)
    assert result.events == () and "weather:大雨" in result.state["39201"]


def test_upgrade_from_advisory_to_warning_notifies() -> None:
    result = _after(kochi_warning({KOCHI: [RAIN_ADVISORY]}), kochi_warning({KOCHI: [RAIN_WARNING]}))
    [event] = result.events
    assert (event.change, event.severity, event.previous_kind_name) == ("upgraded", "warning", "大雨注意報")


def test_lifted_warning_gets_a_short_kaijo_message() -> None:
    lifted = kochi_warning({KOCHI: [("大雨警報", "03", "解除")]})
    result = _after(kochi_warning({KOCHI: [RAIN_WARNING]}), lifted)
    [event] = result.events
    assert (event.change, event.severity, event.title_ja) == ("lifted", "info", "大雨警報（解除）")
    assert "解除" in event.body_ja and result.state == {}


def test_absent_kind_in_a_full_telegram_is_lifted_but_other_towns_are_untouched() -> None:
    result = _after(kochi_warning({KOCHI: [RAIN_WARNING], MUROTO: [RAIN_WARNING]}), kochi_warning({KOCHI: []}))
    assert [(e.change, e.municipalities) for e in result.events] == [("lifted", ("39201",))]
    assert "39202" in result.state


def test_downgrade_from_emergency_warning_is_reported_once() -> None:
    special = kochi_warning({KOCHI: [("大雨特別警報", "33", "発表")]})
    down = kochi_warning({KOCHI: [("大雨警報", "03", "特別警報から警報")]})
    first = _run({}, special)
    assert first.events[0].severity == "emergency"
    result = _run(first.state, down)
    assert [(e.change, e.severity) for e in result.events] == [("downgraded", "warning")]
    assert _run(result.state, down).events == ()


def test_single_hazard_form_never_lifts_other_hazards() -> None:
    state = _run({}, kochi_warning({KOCHI: [RAIN_WARNING, ("雷注意報", "14", "発表")]})).state
    thunder_only = rewrite(sample("warnings/15_16_07_241226_VPWW61.xml"), {"0121400": KOCHI})
    result = _run(state, thunder_only)
    assert "weather:大雨" in result.state["39201"]
    assert all(e.topic != "weather:大雨" for e in result.events)


def test_training_and_test_telegrams_are_skipped() -> None:
    for status in ("訓練", "試験"):
        result = _run({"39201": {}}, kochi_warning({KOCHI: [RAIN_WARNING]}, status=status))
        assert result.events == () and result.skipped == f"Control/Status {status}"
        assert result.state == {"39201": {}}


def test_cancel_reaches_the_recipients_of_the_cancelled_event() -> None:
    issue = rewrite(sample("landslide/17_04_01_250630_VXWW50.xml"), {"1420600": KOCHI, "1438300": MUROTO},
                    event_id="高知県土砂災害警戒情報")
    first = _run({}, issue)
    cancel = rewrite(sample("landslide/17_04_01_250630_VXWW50.xml"), {"1420600": KOCHI},
                     event_id="高知県土砂災害警戒情報", info_type="取消")
    result = _run(first.state, cancel)
    assert result.cancelled_event_id == "高知県土砂災害警戒情報"
    [event] = result.events
    assert (event.change, event.municipalities, event.event_id) == ("cancel", ("39201", "39202"),
                                                                    "高知県土砂災害警戒情報")
    assert "取り消" in event.body_ja and result.state == {}


def test_real_tsunami_cancellation_reports_its_event_id() -> None:
    t = parse_telegram(sample("tsunami/38-39_03_01_210805_VTSE41.xml"))
    result = detect_changes({}, t, resolver())
    assert t.is_cancel and result.cancelled_event_id == t.head.event_id and result.events == ()


def test_quake_reports_only_stronger_intensities_for_the_same_event() -> None:
    data = rewrite(sample("quake/32-35_07_06_240613_VXSE53.xml"), {"2222200": KOCHI})
    first = _run({}, data)
    assert _run(first.state, data).events == ()


def test_a_telegram_kind_we_do_not_notify_is_skipped_with_a_reason() -> None:
    result = _run({}, sample("tsunami/32-39_11_03_250206_VTSE51.xml").encode())
    assert result.events == () and result.skipped is not None
