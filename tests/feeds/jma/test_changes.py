"""Only what changes for a municipality is news: JMA telegrams applied to the alert state.

(Rewritten from the tests of the removed ``detect_changes``: the same cases, now through
``statement_of`` and ``pushsvc.alerts``; the 取消 case is keyed by the telegram, not by office + InfoKind.)
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import Transition
from pushsvc.feeds.jma import parse_telegram, statement_of
from tests.feeds.jma.kochi import KOCHI, MUROTO, kochi_warning, resolver, rewrite, sample

RAIN_ADVISORY = ("大雨注意報", "10", "発表")
RAIN_WARNING = ("大雨警報", "03", "発表")
SOURCE = "jma-test"


def _run(session: Session, data: bytes) -> list[Transition]:
    js = statement_of(parse_telegram(data, telegram_id="t"), resolver(), source=SOURCE)
    st = js.statement
    if js.mode == "skip":
        return []
    if js.mode == "cancel":
        return alerts.cancel_statement(session, source=SOURCE, ref=st.ref, at=st.at, now=st.at)
    return alerts.apply_statement(session, st, now=st.at)


def _changes(ts: list[Transition]) -> list[tuple[str, str, str]]:
    return [(t.change, t.area, t.value.product) for t in ts]


def _force(session: Session) -> list[tuple[str, str]]:
    return sorted((a.area, a.product) for a in alerts.in_force(session))


def test_first_warning_is_issued_with_its_level(session: Session) -> None:
    [t] = _run(session, kochi_warning({KOCHI: [RAIN_ADVISORY], MUROTO: []}))
    assert (t.change, t.area, t.phenomenon) == ("issued", "39201", "weather:大雨")
    assert t.after is not None and (t.after.level, t.after.severity) == (2, "advisory")


def test_restatement_sends_nothing(session: Session) -> None:
    _run(session, kochi_warning({KOCHI: [RAIN_ADVISORY]}))
    assert _run(session, kochi_warning({KOCHI: [("大雨注意報", "10", "継続")]}, info_type="発表")) == []
    assert _force(session) == [("39201", "大雨注意報")]


def test_upgrade_from_advisory_to_warning_is_raised(session: Session) -> None:
    _run(session, kochi_warning({KOCHI: [RAIN_ADVISORY]}))
    [t] = _run(session, _later(kochi_warning({KOCHI: [RAIN_WARNING]})))
    assert (t.change, t.value.severity, t.before.product if t.before else "") == ("raised", "warning", "大雨注意報")


def test_lifted_warning_and_absent_kind_in_a_full_telegram_are_lifted_other_towns_untouched(session: Session) -> None:
    _run(session, kochi_warning({KOCHI: [RAIN_WARNING], MUROTO: [RAIN_WARNING]}))
    assert _changes(_run(session, _later(kochi_warning({KOCHI: []})))) == [("lifted", "39201", "大雨警報")]
    assert _force(session) == [("39202", "大雨警報")]
    lifted = _later(kochi_warning({MUROTO: [("大雨警報", "03", "解除")]}), 2)
    assert _changes(_run(session, lifted)) == [("lifted", "39202", "大雨警報")] and _force(session) == []


def test_downgrade_from_emergency_warning_is_lowered_once(session: Session) -> None:
    [first] = _run(session, kochi_warning({KOCHI: [("大雨特別警報", "33", "発表")]}))
    assert first.value.severity == "emergency" and first.value.level == 5
    down = _later(kochi_warning({KOCHI: [("大雨警報", "03", "特別警報から警報")]}))
    assert [(t.change, t.value.severity) for t in _run(session, down)] == [("lowered", "warning")]
    assert _run(session, _later(down, 2)) == []


def test_single_hazard_form_never_lifts_other_hazards(session: Session) -> None:
    _run(session, kochi_warning({KOCHI: [RAIN_WARNING, ("雷注意報", "14", "発表")]}))
    thunder_only = rewrite(sample("warnings/15_16_07_241226_VPWW61.xml"), {"0121400": KOCHI})
    ts = _run(session, thunder_only)
    assert all(t.phenomenon != "weather:大雨" for t in ts) and ("39201", "大雨警報") in _force(session)


def test_training_and_test_telegrams_are_skipped() -> None:
    for status in ("訓練", "試験"):
        js = statement_of(
            parse_telegram(kochi_warning({KOCHI: [RAIN_WARNING]}, status=status)), resolver(), source=SOURCE
        )
        assert js.mode == "skip" and js.skipped == f"Control/Status {status}"


def test_cancel_withdraws_what_the_cancelled_telegram_issued(session: Session) -> None:
    issue = rewrite(
        sample("landslide/17_04_01_250630_VXWW50.xml"),
        {"1420600": KOCHI, "1438300": MUROTO},
        event_id="高知県土砂災害警戒情報",
    )
    _run(session, issue)
    cancel = rewrite(
        sample("landslide/17_04_01_250630_VXWW50.xml"),
        {"1420600": KOCHI},
        event_id="高知県土砂災害警戒情報",
        info_type="取消",
    )
    assert _changes(_run(session, cancel)) == [
        ("cancelled", "39201", "土砂災害警戒情報"),
        ("cancelled", "39202", "土砂災害警戒情報"),
    ]
    assert _force(session) == []


def test_real_tsunami_cancellation_is_a_cancel_of_its_own_telegram() -> None:
    t = parse_telegram(sample("tsunami/38-39_03_01_210805_VTSE41.xml"))
    js = statement_of(t, resolver(), source=SOURCE)
    assert t.is_cancel and js.mode == "cancel" and t.head.event_id in js.statement.ref


def test_quake_reports_only_stronger_intensities_for_the_same_event(session: Session) -> None:
    data = rewrite(sample("quake/32-35_07_06_240613_VXSE53.xml"), {"2222200": KOCHI})
    assert _run(session, data)
    assert _run(session, data) == []


def test_a_telegram_kind_we_do_not_notify_is_skipped_with_a_reason() -> None:
    js = statement_of(parse_telegram(sample("tsunami/32-39_11_03_250206_VTSE51.xml")), resolver(), source=SOURCE)
    assert js.mode == "skip" and js.skipped is not None


def _later(data: bytes, minutes: int = 1) -> bytes:
    """The same telegram reported ``minutes`` later (each real telegram has its own ReportDateTime)."""
    t = parse_telegram(data)
    return rewrite(data.decode(), report_datetime=(t.head.report_datetime + timedelta(minutes=minutes)).isoformat())
