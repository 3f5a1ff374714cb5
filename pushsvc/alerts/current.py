"""What is in force now, a cache key for it, history, and sources that went silent (stale flags, expiry)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pushsvc.alerts.models import AlertState, AlertTransition
from pushsvc.alerts.records import (
    IN_FORCE,
    record_transition,
    snapshot,
    transition_out,
    utc,
)
from pushsvc.alerts.schemas import AlertStateOut, Transition


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
        issued_at=utc(row.issued_at),
        changed_at=utc(row.changed_at),
        confirmed_at=utc(row.confirmed_at),
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
    now = utc(now)
    rows = (
        db_session.execute(
            select(AlertState).where(
                AlertState.source == source,
                AlertState.status == IN_FORCE,
                AlertState.confirmed_at < utc(confirmed_before),
            )
        )
        .scalars()
        .all()
    )
    out = []
    for row in rows:
        before = snapshot(row)
        row.status, row.ended_at = "expired", now
        out.append(record_transition(db_session, row, "expired", before, f"expire:{now.isoformat()}", now, now))
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
    return [transition_out(t, r) for t, r in rows]
