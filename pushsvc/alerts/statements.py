"""Applying what a source says: issue, raise, lower and lift; 取消 (cancel) and 訂正 (correct) a statement;
recording which notification told residents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.alerts.models import AlertState, AlertTransition
from pushsvc.alerts.records import (
    IN_FORCE,
    record_transition,
    restore,
    rows_of,
    set_value,
    snapshot,
    utc,
    value_of,
)
from pushsvc.alerts.schemas import AreaValue, Change, Statement, Transition, Value


def apply_statement(db_session: Session, statement: Statement, *, now: datetime) -> list[Transition]:
    """Apply a statement; returns the transitions that should produce notifications, in a stable order.

    Per key: a value where nothing was in force is ``issued``; a higher rank ``raised``, a lower ``lowered``;
    the same rank is a restatement (継続: confirmed, nothing to say); ``None`` where something is in force
    is ``lifted``. With a scope, every in-force alert of the source inside it that the statement does not
    name is ``lifted`` too. A key last stated at a later time than this statement is left alone (the feed
    delivered out of order).
    """
    at, now = utc(statement.at), utc(now)
    rows = rows_of(db_session, statement.source)
    out: list[Transition] = []
    named: set[tuple[str, str, str]] = set()
    for item in statement.items:
        key = (item.phenomenon, item.area, item.district)
        named.add(key)
        row = rows.get(key)
        if row is not None and utc(row.confirmed_at) > at:
            continue
        row, t = _apply_one(db_session, statement, item, row, at, now)
        if row is not None:
            rows[key] = row
        if t is not None:
            out.append(t)
    if statement.scope is not None:
        for key, row in sorted(rows.items()):
            if key in named or row.status != IN_FORCE or not statement.scope.covers(row.phenomenon, row.area):
                continue
            if utc(row.confirmed_at) > at:
                continue
            out.append(_lift(db_session, row, statement.ref, at, now))
    db_session.flush()
    return out


def _lift(db_session: Session, row: AlertState, ref: str, at: datetime, now: datetime) -> Transition:
    before = snapshot(row)
    row.status, row.ended_at, row.confirmed_at, row.statement, row.stale = "lifted", at, at, ref, False
    return record_transition(db_session, row, "lifted", before, ref, at, now)


def _apply_one(
    db_session: Session, st: Statement, item: AreaValue, row: AlertState | None, at: datetime, now: datetime
) -> tuple[AlertState | None, Transition | None]:
    """One key: its row (created on first issuance) and its transition, if residents should hear of it."""
    v = item.value
    if v is None:
        if row is None or row.status != IN_FORCE:
            return row, None
        return row, _lift(db_session, row, st.ref, at, now)
    if row is None:
        row = AlertState(
            source=st.source,
            phenomenon=item.phenomenon,
            area=item.area,
            district=item.district,
            status="new",
            issued_at=at,
            changed_at=at,
            confirmed_at=at,
            statement=st.ref,
            stale=False,
        )
        set_value(row, v)
        db_session.add(row)
        db_session.flush()
    before = snapshot(row)
    old = value_of(row)
    row.confirmed_at, row.stale = at, False
    if old is None:
        set_value(row, v)
        row.status, row.issued_at, row.changed_at, row.ended_at, row.statement = IN_FORCE, at, at, None, st.ref
        row.notification_id = None
        return row, record_transition(db_session, row, "issued", None, st.ref, at, now)
    if v.rank < old.rank and st.only_raise:
        return row, None
    if v.rank == old.rank:
        set_value(row, v)  # a restatement may refine the wording or detail; residents are not told again
        return row, None
    set_value(row, v)
    row.changed_at, row.statement = at, st.ref
    change: Change = "raised" if v.rank > old.rank else "lowered"
    return row, record_transition(db_session, row, change, before, st.ref, at, now)


def _live_transitions(db_session: Session, source: str, ref: str) -> list[tuple[AlertTransition, AlertState]]:
    rows = db_session.execute(
        select(AlertTransition, AlertState)
        .join(AlertState, AlertState.id == AlertTransition.alert_id)
        .where(
            AlertTransition.source == source,
            AlertTransition.statement == ref,
            AlertTransition.withdrawn.is_(False),
            AlertTransition.change.in_(("issued", "raised", "lowered", "lifted", "corrected")),
        )
        .order_by(AlertTransition.id.desc())
    )
    return [(t, row) for t, row in rows]


def _revert(db_session: Session, source: str, ref: str, now: datetime) -> list[tuple[AlertTransition, AlertState]]:
    """Undo every change statement ``ref`` made, newest first; a key a later statement has changed since
    keeps that later value (only the withdrawn notifications are corrected)."""
    found = _live_transitions(db_session, source, ref)
    for t, row in found:
        t.withdrawn = True
        if row.statement == ref:
            restore(row, t.before, now=now)
    db_session.flush()
    return found


def cancel_statement(db_session: Session, *, source: str, ref: str, at: datetime, now: datetime) -> list[Transition]:
    """取消: withdraw what statement ``ref`` changed and nothing else; the state returns to what it was before.

    Each returned ``cancelled`` transition carries the notifications that announced the withdrawn change,
    so the correction reaches exactly their recipients. A ref that changed nothing returns nothing.
    """
    at, now = utc(at), utc(now)
    out = []
    for t, row in reversed(_revert(db_session, source, ref, now)):
        told = t.after if t.change != "lifted" else t.before
        out.append(
            record_transition(
                db_session,
                row,
                "cancelled",
                told,
                f"cancel:{ref}"[:255],
                at,
                now,
                t.notification_ids or [],
                undoes=t.change,
            )
        )
    db_session.flush()
    return out


def correct_statement(db_session: Session, statement: Statement, *, now: datetime) -> list[Transition]:
    """訂正: the statement replaces the one with the same ref; only keys whose outcome differs from what
    residents were told come back, as ``corrected`` (carrying the notifications that told them)."""
    now = utc(now)
    reverted = _revert(db_session, statement.source, statement.ref, now)
    told: dict[int, tuple[dict[str, Any] | None, list[int]]] = {}
    told_change: dict[int, str] = {}
    for t, row in reversed(reverted):
        told[row.id] = (t.after, list(t.notification_ids or []))
        told_change[row.id] = t.change
    fresh = apply_statement(db_session, statement, now=now)
    by_alert = {t.alert_id: t for t in fresh}
    out: list[Transition] = []
    for alert_id in sorted(set(told) | set(by_alert)):
        found = db_session.get(AlertState, alert_id)
        assert found is not None
        row = found
        was, notified = told.get(alert_id, (None, []))
        was_value = Value.from_dict(was) if was else None
        now_value = value_of(row)
        if (was_value is None and now_value is None) or (was_value is not None and was_value.same(now_value)):
            if notified and row.status == IN_FORCE:
                row.notification_id = notified[-1]  # what residents were told stands
            continue
        if alert_id not in told:
            out.append(by_alert[alert_id])  # the correction changed a key the original did not touch
            continue
        out.append(
            record_transition(
                db_session,
                row,
                "corrected",
                was,
                statement.ref,
                utc(statement.at),
                now,
                notified,
                undoes=told_change.get(alert_id),
            )
        )
    db_session.flush()
    return out


def attach_notification(db_session: Session, transitions: Iterable[Transition], notification_id: int) -> None:
    """Record that ``notification_id`` told residents about these transitions (a 取消 finds it here); an
    alert whose current value it announced shows it in the public feeds."""
    ids = [t.id for t in transitions]
    if not ids:
        return
    rows = db_session.execute(
        select(AlertTransition, AlertState)
        .join(AlertState, AlertState.id == AlertTransition.alert_id)
        .where(AlertTransition.id.in_(ids))
    )
    for t, row in rows:
        t.notification_ids = [*(t.notification_ids or []), notification_id]
        if t.change in ("issued", "raised", "lowered", "corrected") and row.status == IN_FORCE:
            row.notification_id = notification_id
    db_session.flush()
