"""Alert-state service: apply what a source says, get back the changes to tell residents. Never commits.

See the package docstring for the interface and the rules.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pushsvc.alerts.models import AlertState, AlertTransition
from pushsvc.alerts.schemas import AlertStateOut, AreaValue, Change, Statement, Transition, Value

IN_FORCE = "in_force"


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _value(row: AlertState) -> Value | None:
    if row.status != IN_FORCE:
        return None
    return Value(
        row.product,
        row.name.get("ja", row.product),
        row.name.get("en", ""),
        row.level,
        row.severity,  # type: ignore[arg-type]
        row.rank,
        dict(row.detail or {}),
    )


def _snapshot(row: AlertState) -> dict[str, Any] | None:
    """The row's current value with the bookkeeping a 取消 needs to put it back exactly."""
    v = _value(row)
    if v is None:
        return None
    return {
        **v.to_dict(),
        "issued_at": _utc(row.issued_at).isoformat(),
        "changed_at": _utc(row.changed_at).isoformat(),
        "statement": row.statement,
        "notification_id": row.notification_id,
    }


def _set(row: AlertState, v: Value) -> None:
    row.product, row.name = v.product, {"ja": v.name_ja, "en": v.name_en}
    row.level, row.severity, row.rank, row.detail = v.level, v.severity, v.rank, dict(v.detail)


def _restore(row: AlertState, snap: dict[str, Any] | None, *, now: datetime) -> None:
    if snap is None:
        row.status, row.ended_at = "cancelled", now
        return
    _set(row, Value.from_dict(snap))
    row.status, row.ended_at, row.stale = IN_FORCE, None, False
    row.issued_at = datetime.fromisoformat(snap["issued_at"])
    row.changed_at = datetime.fromisoformat(snap["changed_at"])
    row.statement, row.notification_id = snap["statement"], snap.get("notification_id")


def _transition(
    db_session: Session,
    row: AlertState,
    change: Change,
    before: dict[str, Any] | None,
    statement: str,
    at: datetime,
    now: datetime,
    notification_ids: Sequence[int] = (),
    undoes: str | None = None,
) -> Transition:
    after = _snapshot(row)
    t = AlertTransition(
        alert_id=row.id,
        source=row.source,
        statement=statement,
        change=change,
        before=before,
        after=after,
        notification_ids=list(notification_ids),
        withdrawn=False,
        stated_at=at,
        created_at=now,
        undoes=undoes,
    )
    db_session.add(t)
    db_session.flush()
    return _out(t, row)


def _out(t: AlertTransition, row: AlertState) -> Transition:
    return Transition(
        id=t.id,
        alert_id=row.id,
        source=row.source,
        phenomenon=row.phenomenon,
        area=row.area,
        district=row.district,
        change=t.change,  # type: ignore[arg-type]
        before=Value.from_dict(t.before) if t.before else None,
        after=Value.from_dict(t.after) if t.after else None,
        statement=t.statement,
        at=_utc(t.stated_at),
        notification_ids=tuple(t.notification_ids or ()),
        undoes=t.undoes,  # type: ignore[arg-type]
    )


def _rows(db_session: Session, source: str) -> dict[tuple[str, str, str], AlertState]:
    rows = db_session.execute(select(AlertState).where(AlertState.source == source)).scalars()
    return {(r.phenomenon, r.area, r.district): r for r in rows}


def apply_statement(db_session: Session, statement: Statement, *, now: datetime) -> list[Transition]:
    """Apply a statement; returns the transitions that should produce notifications, in a stable order.

    Per key: a value where nothing was in force is ``issued``; a higher rank ``raised``, a lower ``lowered``;
    the same rank is a restatement (継続: confirmed, nothing to say); ``None`` where something is in force
    is ``lifted``. With a scope, every in-force alert of the source inside it that the statement does not
    name is ``lifted`` too. A key last stated at a later time than this statement is left alone (the feed
    delivered out of order).
    """
    at, now = _utc(statement.at), _utc(now)
    rows = _rows(db_session, statement.source)
    out: list[Transition] = []
    named: set[tuple[str, str, str]] = set()
    for item in statement.items:
        key = (item.phenomenon, item.area, item.district)
        named.add(key)
        row = rows.get(key)
        if row is not None and _utc(row.confirmed_at) > at:
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
            if _utc(row.confirmed_at) > at:
                continue
            out.append(_lift(db_session, row, statement.ref, at, now))
    db_session.flush()
    return out


def _lift(db_session: Session, row: AlertState, ref: str, at: datetime, now: datetime) -> Transition:
    before = _snapshot(row)
    row.status, row.ended_at, row.confirmed_at, row.statement, row.stale = "lifted", at, at, ref, False
    return _transition(db_session, row, "lifted", before, ref, at, now)


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
        _set(row, v)
        db_session.add(row)
        db_session.flush()
    before = _snapshot(row)
    old = _value(row)
    row.confirmed_at, row.stale = at, False
    if old is None:
        _set(row, v)
        row.status, row.issued_at, row.changed_at, row.ended_at, row.statement = IN_FORCE, at, at, None, st.ref
        row.notification_id = None
        return row, _transition(db_session, row, "issued", None, st.ref, at, now)
    if v.rank < old.rank and st.only_raise:
        return row, None
    if v.rank == old.rank:
        _set(row, v)  # a restatement may refine the wording or detail; residents are not told again
        return row, None
    _set(row, v)
    row.changed_at, row.statement = at, st.ref
    change: Change = "raised" if v.rank > old.rank else "lowered"
    return row, _transition(db_session, row, change, before, st.ref, at, now)


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
            _restore(row, t.before, now=now)
    db_session.flush()
    return found


def cancel_statement(db_session: Session, *, source: str, ref: str, at: datetime, now: datetime) -> list[Transition]:
    """取消: withdraw what statement ``ref`` changed and nothing else; the state returns to what it was before.

    Each returned ``cancelled`` transition carries the notifications that announced the withdrawn change,
    so the correction reaches exactly their recipients. A ref that changed nothing returns nothing.
    """
    at, now = _utc(at), _utc(now)
    out = []
    for t, row in reversed(_revert(db_session, source, ref, now)):
        told = t.after if t.change != "lifted" else t.before
        out.append(
            _transition(
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
    now = _utc(now)
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
        now_value = _value(row)
        if (was_value is None and now_value is None) or (was_value is not None and was_value.same(now_value)):
            if notified and row.status == IN_FORCE:
                row.notification_id = notified[-1]  # what residents were told stands
            continue
        if alert_id not in told:
            out.append(by_alert[alert_id])  # the correction changed a key the original did not touch
            continue
        out.append(
            _transition(
                db_session,
                row,
                "corrected",
                was,
                statement.ref,
                _utc(statement.at),
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


def _state_out(row: AlertState) -> AlertStateOut:
    return AlertStateOut(
        id=row.id,
        source=row.source,
        phenomenon=row.phenomenon,
        area=row.area,
        district=row.district,
        product=row.product,
        name=dict(row.name),
        level=row.level,
        severity=row.severity,
        status=row.status,
        issued_at=_utc(row.issued_at),
        changed_at=_utc(row.changed_at),
        confirmed_at=_utc(row.confirmed_at),
        stale=row.stale,
        notification_id=row.notification_id,
    )


def in_force(
    db_session: Session, *, areas: Collection[str] | None = None, sources: Collection[str] | None = None
) -> list[AlertStateOut]:
    """What is in force now, as its sources last said it: by municipality and/or source, highest level first."""
    stmt = select(AlertState).where(AlertState.status == IN_FORCE)
    if areas is not None:
        stmt = stmt.where(AlertState.area.in_(list(areas)))
    if sources is not None:
        stmt = stmt.where(AlertState.source.in_(list(sources)))
    rows = db_session.execute(stmt.order_by(AlertState.area, AlertState.id)).scalars()
    out = [_state_out(r) for r in rows]
    out.sort(key=lambda a: (-(a.level or 0), a.area, a.id))
    return out


def version(db_session: Session) -> tuple[Any, ...]:
    """Changes whenever what is in force may have changed: a cheap key for per-process caches."""
    row = db_session.execute(_VERSION).first()
    return tuple(row) if row is not None else ()


_VERSION = select(  # built once: building the statement costs more than running it
    select(func.max(AlertTransition.id)).scalar_subquery(),
    select(func.max(AlertState.confirmed_at)).scalar_subquery(),
    select(func.count()).select_from(AlertState).where(AlertState.stale.is_(True)).scalar_subquery(),
)


def mark_stale(db_session: Session, source: str, stale: bool = True) -> int:
    """Flag (or unflag) every in-force alert of a source that has stopped telling us anything: it stays
    listed (the source's last word stands) but is shown as not confirmed since ``confirmed_at``."""
    result = db_session.execute(
        update(AlertState)
        .where(AlertState.source == source, AlertState.status == IN_FORCE, AlertState.stale.is_not(stale))
        .values(stale=stale)
        .execution_options(synchronize_session=False)
    )
    db_session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def stale_sources(db_session: Session) -> dict[str, int]:
    """Sources with alerts flagged stale, and how many."""
    rows = db_session.execute(
        select(AlertState.source, func.count())
        .where(AlertState.status == IN_FORCE, AlertState.stale.is_(True))
        .group_by(AlertState.source)
    )
    return {s: int(n) for s, n in rows}


def expire_silent(db_session: Session, source: str, *, confirmed_before: datetime, now: datetime) -> list[Transition]:
    """Clean up after a source that went silent: its alerts not confirmed since ``confirmed_before`` end
    as ``expired``. Only for a source that failed to answer; never a reason to tell residents anything."""
    now = _utc(now)
    rows = (
        db_session.execute(
            select(AlertState).where(
                AlertState.source == source,
                AlertState.status == IN_FORCE,
                AlertState.confirmed_at < _utc(confirmed_before),
            )
        )
        .scalars()
        .all()
    )
    out = []
    for row in rows:
        before = _snapshot(row)
        row.status, row.ended_at = "expired", now
        out.append(_transition(db_session, row, "expired", before, f"expire:{now.isoformat()}", now, now))
    return out


def history(
    db_session: Session, *, source: str | None = None, area: str | None = None, limit: int = 200
) -> list[Transition]:
    """Recent transitions, newest first (for operators and tests)."""
    stmt = select(AlertTransition, AlertState).join(AlertState, AlertState.id == AlertTransition.alert_id)
    if source is not None:
        stmt = stmt.where(AlertTransition.source == source)
    if area is not None:
        stmt = stmt.where(AlertState.area == area)
    rows = db_session.execute(stmt.order_by(AlertTransition.id.desc()).limit(limit))
    return [_out(t, r) for t, r in rows]
