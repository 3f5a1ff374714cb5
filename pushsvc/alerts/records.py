"""Alert rows and their transitions: reading a row's value, snapshotting it for a 取消, writing transitions.

Shared by ``statements`` (what a source says) and ``current`` (what is in force, silent sources).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.alerts.models import AlertState, AlertTransition
from pushsvc.alerts.schemas import Change, Transition, Value

IN_FORCE = "in_force"


def utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def value_of(row: AlertState) -> Value | None:
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


def snapshot(row: AlertState) -> dict[str, Any] | None:
    """The row's current value with the bookkeeping a 取消 needs to put it back exactly."""
    v = value_of(row)
    if v is None:
        return None
    return {
        **v.to_dict(),
        "issued_at": utc(row.issued_at).isoformat(),
        "changed_at": utc(row.changed_at).isoformat(),
        "statement": row.statement,
        "notification_id": row.notification_id,
    }


def set_value(row: AlertState, v: Value) -> None:
    row.product, row.name = v.product, {"ja": v.name_ja, "en": v.name_en}
    row.level, row.severity, row.rank, row.detail = v.level, v.severity, v.rank, dict(v.detail)


def restore(row: AlertState, snap: dict[str, Any] | None, *, now: datetime) -> None:
    if snap is None:
        row.status, row.ended_at = "cancelled", now
        return
    set_value(row, Value.from_dict(snap))
    row.status, row.ended_at, row.stale = IN_FORCE, None, False
    row.issued_at = datetime.fromisoformat(snap["issued_at"])
    row.changed_at = datetime.fromisoformat(snap["changed_at"])
    row.statement, row.notification_id = snap["statement"], snap.get("notification_id")


def record_transition(
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
    after = snapshot(row)
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
    return transition_out(t, row)


def transition_out(t: AlertTransition, row: AlertState) -> Transition:
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
        at=utc(t.stated_at),
        notification_ids=tuple(t.notification_ids or ()),
        undoes=t.undoes,  # type: ignore[arg-type]
    )


def rows_of(db_session: Session, source: str) -> dict[tuple[str, str, str], AlertState]:
    rows = db_session.execute(select(AlertState).where(AlertState.source == source)).scalars()
    return {(r.phenomenon, r.area, r.district): r for r in rows}
