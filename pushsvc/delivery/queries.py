"""Read-only questions about delivery: queue depth, known-dead phones, the public alert lists, KPI figures."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pushsvc.delivery.enqueue import get_notification
from pushsvc.delivery.models import DeliveryBatch, DeliveryFailure, Notification
from pushsvc.errors import NotFound
from pushsvc.timeutil import as_utc as _utc


def queue_depth(db_session: Session) -> int:
    """Recipients waiting in open batches (for /metrics and the console)."""
    rows = db_session.execute(
        select(DeliveryBatch.pending_ids).where(DeliveryBatch.status.in_(("pending", "leased")))
    ).scalars()
    return sum(len(r) for r in rows)


KNOWN_DEAD_WINDOW = timedelta(days=7)
KNOWN_DEAD_MIN_MESSAGES = 2


def known_dead(db_session: Session, subscription_ids: Collection[int], *, now: datetime | None = None) -> set[int]:
    """Subscriptions that failed for two or more different notifications in the last seven days.

    404/410 subscriptions are deleted at once, so they never show up here; what remains "known-dead"
    is a phone that keeps failing (rejected, refused, or retried until the TTL ran out). Counting
    distinct notifications keeps the retries of a single message from marking anyone dead.
    """
    now = _utc(now or datetime.now(UTC))
    ids = sorted(set(subscription_ids))
    dead: set[int] = set()
    for i in range(0, len(ids), 5000):
        rows = db_session.execute(
            select(DeliveryFailure.subscription_id)
            .where(
                DeliveryFailure.subscription_id.in_(ids[i : i + 5000]),
                DeliveryFailure.created_at >= now - KNOWN_DEAD_WINDOW,
            )
            .group_by(DeliveryFailure.subscription_id)
            .having(func.count(func.distinct(DeliveryFailure.notification_id)) >= KNOWN_DEAD_MIN_MESSAGES)
        ).scalars()
        dead.update(rows)
    return dead


# --- read-only queries for the public alert feeds and KPI (issue 7) ----------------------------


def active_alerts(
    db_session: Session, *, now: datetime | None = None, category: str | None = None, limit: int = 500
) -> list[Notification]:
    """Public alerts in force: not tests, not cancelled, TTL not run out; newest first."""
    now = _utc(now or datetime.now(UTC))
    stmt = (
        select(Notification)
        .where(Notification.test.is_(False), Notification.status != "cancelled", Notification.expires_at > now)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    if category is not None:
        stmt = stmt.where(Notification.category == category)
    return list(db_session.execute(stmt).scalars())


def recent_alerts(db_session: Session, *, since: datetime, limit: int = 500) -> list[Notification]:
    """Public alerts created since ``since`` whatever their state now (ended, cancelled): newest first."""
    stmt = (
        select(Notification)
        .where(Notification.test.is_(False), Notification.created_at >= _utc(since))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(db_session.execute(stmt).scalars())


def active_alerts_version(db_session: Session) -> tuple[Any, ...]:
    """Changes whenever ``active_alerts`` may have changed other than by the clock: a notification was
    created (newest id and its time, so a reused SQLite id is still noticed) or one was cancelled.
    Two index lookups, so a reader may cache the list per process and check this on every request."""
    row = db_session.execute(_ACTIVE_VERSION).first()
    return tuple(row) if row is not None else ()


_ACTIVE_VERSION = (  # built once: constructing the statement costs more than running it
    select(
        Notification.id,
        Notification.created_at,
        select(func.count()).select_from(Notification).where(Notification.status == "cancelled").scalar_subquery(),
    )
    .order_by(Notification.id.desc())
    .limit(1)
)


def public_alert(db_session: Session, notification_id: int) -> Notification:
    """One non-test notification, in force or not (the alert page still opens after it ends)."""
    n = db_session.get(Notification, notification_id)
    if n is None or n.test:
        raise NotFound(f"no alert {notification_id}", field="id")
    return n


def delivery_stats(db_session: Session, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Counters and timestamps of the non-test notifications created in [start, end), for the KPI."""
    cols = (
        Notification.source,
        Notification.category,
        Notification.targeted,
        Notification.sent,
        Notification.gone,
        Notification.failed,
        Notification.expired,
        Notification.created_at,
        Notification.half_sent_at,
        Notification.last_sent_at,
    )
    rows = db_session.execute(
        select(*cols).where(
            Notification.test.is_(False), Notification.created_at >= _utc(start), Notification.created_at < _utc(end)
        )
    )
    return [dict(r._mapping) for r in rows]


def push_outcome_counts(db_session: Session) -> dict[str, Any]:
    """Totals since the start (Prometheus counters): pushes by outcome and failed attempts by HTTP status."""
    sums = db_session.execute(
        select(
            func.coalesce(func.sum(Notification.sent), 0),
            func.coalesce(func.sum(Notification.gone), 0),
            func.coalesce(func.sum(Notification.failed), 0),
            func.coalesce(func.sum(Notification.expired), 0),
            func.count(Notification.id),
        )
    ).one()
    codes = db_session.execute(
        select(DeliveryFailure.status_code, func.count()).group_by(DeliveryFailure.status_code)
    ).all()
    return {
        "sent": int(sums[0]),
        "gone": int(sums[1]),
        "failed": int(sums[2]),
        "expired": int(sums[3]),
        "notifications": int(sums[4]),
        "failure_status": {str(c or "none"): int(n) for c, n in codes},
    }


def oldest_due_at(db_session: Session, *, now: datetime) -> datetime | None:
    """When the longest-waiting due batch became due (None = nothing waiting): /metrics' staleness signal."""
    at = db_session.execute(
        select(DeliveryBatch.not_before)
        .where(DeliveryBatch.status == "pending", DeliveryBatch.not_before <= now)
        .order_by(DeliveryBatch.not_before)
        .limit(1)
    ).scalar()
    return _utc(at) if at is not None else None


def send_timings(db_session: Session) -> list[tuple[str, datetime, datetime, datetime | None]]:
    """(severity, accepted, first push, last push) of every notification that has sent: delivery latency."""
    rows = db_session.execute(
        select(
            Notification.severity, Notification.created_at, Notification.first_sent_at, Notification.last_sent_at
        ).where(Notification.first_sent_at.is_not(None))
    )
    return [
        (sev, _utc(c), _utc(f), _utc(last) if last is not None else None) for sev, c, f, last in rows if f is not None
    ]


def amend_body(db_session: Session, notification_id: int, body: Mapping[str, str]) -> None:
    """Replace the text the alert page and the portal show (and late deliveries carry), e.g. when a later
    津波情報 gives the first wave's arrival. Residents who already received it are not told again."""
    n = get_notification(db_session, notification_id)
    n.body = {**(n.body or {}), **dict(body)}
    db_session.flush()
