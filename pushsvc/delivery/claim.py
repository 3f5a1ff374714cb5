"""Leasing batches to workers: most urgent lane first, short bounded transactions, renewable leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from pushsvc.db import is_postgres
from pushsvc.delivery.drafts import FINAL_STATUSES, PRIORITY_LIFE, ClaimedBatch, Message
from pushsvc.delivery.enqueue import message_for
from pushsvc.delivery.models import DeliveryBatch, Notification
from pushsvc.timeutil import as_utc as _utc


def bound_transaction(db_session: Session, lease_seconds: float) -> None:
    """On PostgreSQL, end this transaction (and free its locks) if its process freezes inside it.

    A worker stopped (SIGSTOP, a VM pause, a debugger) between two statements of a short transaction
    would otherwise hold its row locks (the notification's counters) and stall every other worker.
    Half the lease, at least a second: well above any real step, and still over before the lease is.
    A third (1.7 s with the tests' 5 s lease) once ended a worker's own result record on a loaded
    machine, and the batch was sent twice.
    """
    if is_postgres(db_session):
        ms = str(int(max(1.0, lease_seconds / 2) * 1000))
        db_session.execute(_BOUND, {"ms": ms})


_BOUND = text(
    "SELECT set_config('idle_in_transaction_session_timeout', :ms, true), set_config('statement_timeout', :ms, true)"
)  # one round trip, this transaction only


def claim_batch(
    db_session: Session,
    *,
    worker_id: str,
    lease_seconds: float,
    now: datetime | None = None,
    oldest_first: bool = False,
    more_urgent_than: int | None = None,
) -> tuple[ClaimedBatch, Message] | None:
    """Lease the next due batch: pending and due, or leased by a worker whose lease ran out.

    The most urgent lane first, then the longest waiting; ``oldest_first`` (one claim in
    ``FAIR_EVERY``) takes the longest waiting batch of any lane but still puts lane 0 first;
    ``more_urgent_than`` only takes a batch of a lane before that one (a full worker making room for it).
    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so workers on many machines never wait on each other.
    SQLite (one worker): the conditional UPDATE below is the guard.
    """
    now = _utc(now or datetime.now(UTC))
    due = or_(
        and_(DeliveryBatch.status == "pending", DeliveryBatch.not_before <= now),
        and_(DeliveryBatch.status == "leased", DeliveryBatch.lease_expires_at < now),
    )
    if more_urgent_than is not None:
        due = and_(due, DeliveryBatch.priority < more_urgent_than)
    order = (DeliveryBatch.priority > PRIORITY_LIFE,) if oldest_first else (DeliveryBatch.priority,)
    stmt = select(DeliveryBatch.id).where(due).order_by(*order, DeliveryBatch.not_before, DeliveryBatch.id).limit(1)
    if is_postgres(db_session):
        stmt = stmt.with_for_update(skip_locked=True)
    batch_id = db_session.execute(stmt).scalar()
    if batch_id is None:
        return None
    claimed = db_session.execute(
        update(DeliveryBatch)
        .where(DeliveryBatch.id == batch_id, due)
        .values(
            status="leased",
            lease_owner=worker_id,
            attempt=DeliveryBatch.attempt + 1,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    batch = db_session.get(DeliveryBatch, batch_id, populate_existing=True)
    assert batch is not None
    n = db_session.get(Notification, batch.notification_id, populate_existing=True)
    assert n is not None
    if n.status in FINAL_STATUSES:
        batch.status = "cancelled" if n.status == "cancelled" else "done"
        return None
    if n.status == "queued":
        n.status = "sending"
    return ClaimedBatch(batch.id, n.id, batch.attempt, list(batch.pending_ids), worker_id), message_for(n)


def renew_lease(db_session: Session, claim: ClaimedBatch, *, lease_seconds: float, now: datetime | None = None) -> bool:
    now = _utc(now or datetime.now(UTC))
    res = db_session.execute(
        update(DeliveryBatch)
        .where(
            DeliveryBatch.id == claim.batch_id,
            DeliveryBatch.lease_owner == claim.worker_id,
            DeliveryBatch.status == "leased",
        )
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]
