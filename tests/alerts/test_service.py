"""The alert-state model: what a source last said is in force, and only real changes come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import AreaValue, Scope, Statement, Value
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery

T0 = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
KOCHI, MUROTO, AKI = "39201", "39202", "39203"
RAIN = "weather:大雨"
WAVES = "weather:波浪"


def _st(ref: str, minutes: int, *items: tuple[str, str, str | None], scope: Scope | None = None) -> Statement:
    return Statement(
        source="jma",
        ref=ref,
        at=T0 + timedelta(minutes=minutes),
        scope=scope,
        items=tuple(AreaValue(ph, area, Value.of(name) if name else None) for ph, area, name in items),
    )


def _apply(session: Session, st: Statement) -> list[tuple[str, str, str]]:
    return [(t.change, t.area, t.value.product) for t in alerts.apply_statement(session, st, now=st.at)]


def _in_force(session: Session, **kw: object) -> list[tuple[str, str]]:
    return sorted((a.area, a.product) for a in alerts.in_force(session, **kw))  # type: ignore[arg-type]


def _notify(session: Session, settings: Settings, area: str) -> int:
    return delivery.create_notification(
        session,
        delivery.NotificationDraft(
            source="jma",
            category="weather",
            severity="warning",
            title={"ja": "t"},
            body={"ja": "b"},
            municipality_codes=[area],
        ),
        settings=settings,
    ).id


def test_issue_raise_lower_restate_lift_gives_one_transition_per_real_change(session: Session) -> None:
    assert _apply(session, _st("a", 0, (RAIN, KOCHI, "大雨注意報"))) == [("issued", KOCHI, "大雨注意報")]
    assert _apply(session, _st("b", 10, (RAIN, KOCHI, "大雨警報"))) == [("raised", KOCHI, "大雨警報")]
    assert _apply(session, _st("c", 20, (RAIN, KOCHI, "大雨特別警報"))) == [("raised", KOCHI, "大雨特別警報")]
    assert _apply(session, _st("d", 30, (RAIN, KOCHI, "大雨警報"))) == [("lowered", KOCHI, "大雨警報")]
    assert _apply(session, _st("e", 40, (RAIN, KOCHI, "大雨警報"))) == []  # 継続
    [state] = alerts.in_force(session)
    assert (state.product, state.level, state.severity) == ("大雨警報", 3, "warning")
    assert state.issued_at == T0 and state.changed_at == T0 + timedelta(minutes=30)
    assert state.confirmed_at == T0 + timedelta(minutes=40)
    assert _apply(session, _st("f", 50, (RAIN, KOCHI, None))) == [("lifted", KOCHI, "大雨警報")]
    assert alerts.in_force(session) == []
    assert _apply(session, _st("g", 60, (RAIN, KOCHI, None))) == []  # lifting nothing says nothing


def test_a_full_restatement_lifts_what_it_no_longer_names_inside_its_scope_only(session: Session) -> None:
    scope = Scope(prefix="weather:", areas=frozenset({KOCHI, MUROTO}))
    _apply(
        session,
        _st("a", 0, (RAIN, KOCHI, "大雨警報"), (WAVES, MUROTO, "波浪注意報"), (RAIN, AKI, "大雨注意報"), scope=scope),
    )
    assert _apply(session, _st("b", 10, (WAVES, MUROTO, "波浪注意報"), scope=scope)) == [("lifted", KOCHI, "大雨警報")]
    assert _in_force(session) == [(MUROTO, "波浪注意報"), (AKI, "大雨注意報")]
    assert _in_force(session, areas={AKI}) == [(AKI, "大雨注意報")]
    assert _in_force(session, sources={"other"}) == []


def test_a_warning_restated_for_20_hours_stays_in_force_whatever_the_clock(session: Session) -> None:
    for hour in range(21):
        _apply(
            session,
            _st(
                f"r{hour}",
                hour * 60,
                (RAIN, KOCHI, "大雨警報"),
                scope=Scope(prefix="weather:", areas=frozenset({KOCHI})),
            ),
        )
    [state] = alerts.in_force(session)
    assert state.issued_at == T0 and state.confirmed_at == T0 + timedelta(hours=20)


def test_an_older_statement_delivered_late_changes_nothing(session: Session) -> None:
    _apply(session, _st("new", 10, (RAIN, KOCHI, "大雨警報")))
    assert _apply(session, _st("old", 5, (RAIN, KOCHI, None))) == []
    assert _in_force(session) == [(KOCHI, "大雨警報")]


def test_cancel_withdraws_exactly_one_statement_and_carries_its_notifications(
    session: Session, settings: Settings
) -> None:
    scope = Scope(prefix="weather:", areas=frozenset({KOCHI, MUROTO}))
    first = alerts.apply_statement(
        session, _st("a", 0, (WAVES, MUROTO, "波浪注意報"), (RAIN, KOCHI, "大雨注意報"), scope=scope), now=T0
    )
    older = _notify(session, settings, MUROTO)
    alerts.attach_notification(session, first, older)
    second = alerts.apply_statement(
        session, _st("b", 10, (WAVES, MUROTO, "波浪注意報"), (RAIN, KOCHI, "大雨警報"), scope=scope), now=T0
    )
    assert [(t.change, t.area) for t in second] == [("raised", KOCHI)]
    told = _notify(session, settings, KOCHI)
    alerts.attach_notification(session, second, told)

    [cancel] = alerts.cancel_statement(session, source="jma", ref="b", at=T0 + timedelta(minutes=10), now=T0)
    assert (cancel.change, cancel.area, cancel.notification_ids, cancel.undoes) == (
        "cancelled",
        KOCHI,
        (told,),
        "raised",
    )
    assert cancel.before is not None and cancel.before.product == "大雨警報"  # what residents were told
    assert cancel.after is not None and cancel.after.product == "大雨注意報"  # what holds again
    assert _in_force(session) == [(KOCHI, "大雨注意報"), (MUROTO, "波浪注意報")]
    assert alerts.cancel_statement(session, source="jma", ref="b", at=T0, now=T0) == []  # once only
    assert alerts.cancel_statement(session, source="jma", ref="nothing", at=T0, now=T0) == []


def test_cancelling_an_issuance_ends_it_and_cancelling_a_lift_restores_it(session: Session) -> None:
    _apply(session, _st("a", 0, (RAIN, KOCHI, "大雨警報")))
    [c] = alerts.cancel_statement(session, source="jma", ref="a", at=T0, now=T0)
    assert (c.change, c.after) == ("cancelled", None) and alerts.in_force(session) == []
    _apply(session, _st("b", 10, (RAIN, KOCHI, "大雨警報")))
    _apply(session, _st("c", 20, (RAIN, KOCHI, None)))
    [c] = alerts.cancel_statement(session, source="jma", ref="c", at=T0, now=T0)
    assert c.undoes == "lifted" and _in_force(session) == [(KOCHI, "大雨警報")]
    [state] = alerts.in_force(session)
    assert state.issued_at == T0 + timedelta(minutes=10)


def test_correction_reports_only_the_keys_whose_outcome_changed(session: Session, settings: Settings) -> None:
    issued = alerts.apply_statement(session, _st("a", 0, (RAIN, KOCHI, "大雨警報"), (RAIN, MUROTO, "大雨警報")), now=T0)
    n = _notify(session, settings, KOCHI)
    alerts.attach_notification(session, issued, n)
    fixed = _st("a", 0, (RAIN, KOCHI, "大雨警報"), (RAIN, MUROTO, "大雨注意報"))
    [c] = alerts.correct_statement(session, fixed, now=T0)
    assert (c.change, c.area, c.notification_ids) == ("corrected", MUROTO, (n,))
    assert c.before is not None and c.after is not None
    assert (c.before.product, c.after.product) == ("大雨警報", "大雨注意報")
    assert _in_force(session) == [(KOCHI, "大雨警報"), (MUROTO, "大雨注意報")]
    [kochi] = [a for a in alerts.in_force(session) if a.area == KOCHI]
    assert kochi.notification_id == n  # what 高知市 was told still stands


def test_a_silent_source_is_flagged_then_cleaned_up_without_telling_anyone(session: Session) -> None:
    _apply(session, _st("a", 0, (RAIN, KOCHI, "大雨警報")))
    assert alerts.mark_stale(session, "jma") == 1
    [state] = alerts.in_force(session)
    assert state.stale and alerts.stale_sources(session) == {"jma": 1}
    _apply(session, _st("b", 10, (RAIN, KOCHI, "大雨警報")))  # it speaks again
    assert not alerts.in_force(session)[0].stale
    [t] = alerts.expire_silent(session, "jma", confirmed_before=T0 + timedelta(hours=1), now=T0 + timedelta(hours=1))
    assert t.change == "expired" and alerts.in_force(session) == []


def test_version_moves_with_every_change_and_confirmation(session: Session) -> None:
    v0 = alerts.version(session)
    _apply(session, _st("a", 0, (RAIN, KOCHI, "大雨警報")))
    v1 = alerts.version(session)
    _apply(session, _st("b", 10, (RAIN, KOCHI, "大雨警報")))
    assert len({v0, v1, alerts.version(session)}) == 3
