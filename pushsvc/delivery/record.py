"""Recording what a worker's attempt did: results, follow-ups reaching the late, completion (checkpoints: progress)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.orm import Session

from pushsvc.db import is_postgres
from pushsvc.delivery.drafts import FINAL_STATUSES, LAST_CHANCE_S, ClaimedBatch
from pushsvc.delivery.enqueue import _addressed, _finish_if_complete, batch_rows, wake_workers
from pushsvc.delivery.models import DeliveryBatch, DeliveryFailure, Notification, NotificationReference
from pushsvc.subscriptions import service as subscriptions
from pushsvc.timeutil import as_utc as _utc
from pushsvc.webpush.sender import MAX_RETRY_AFTER_S, Outcome, PushResult, backoff_delay

log = logging.getLogger(__name__)


@dataclass
class _Sorted:
    """One attempt's outcomes by recipient: who got it, who is gone, who waits (with the wait asked)."""

    sent: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    failed: int = 0
    retry: list[tuple[int, float]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


def _sort(pending: Sequence[int], results: Mapping[int, PushResult], notification_id: int, attempt: int) -> _Sorted:
    out = _Sorted()
    for sid in pending:
        result = results.get(sid)
        if result is None:  # unsubscribed while queued: nobody left to reach
            out.gone.append(sid)
            continue
        if result.outcome is Outcome.SENT:
            out.sent.append(sid)
            continue
        out.failures.append(
            {
                "notification_id": notification_id,
                "subscription_id": sid,
                "attempt": attempt,
                "outcome": str(result.outcome),
                "status_code": result.status,
                "reason": result.reason[:500],
            }
        )
        if result.outcome is Outcome.GONE:
            out.gone.append(sid)
        elif result.retryable:
            out.retry.append((sid, min(MAX_RETRY_AFTER_S, max(0.0, result.retry_after or 0.0))))
        else:
            out.failed += 1
    return out


@dataclass
class _Retries:
    """Who is tried again with the batch, who moves to a batch of their own (throttled), who ran out of time."""

    keep: list[int]
    keep_at: datetime | None
    throttled: list[int]
    throttled_at: datetime | None
    expired: int


def _plan_retries(
    retry: list[tuple[int, float]], *, backoff: float, now: datetime, expires_at: datetime, cancelled: bool
) -> _Retries:
    """Throttled longer than the backoff: a batch of their own, so their wait delays nobody else. A retry
    that would land after the TTL is made just before it instead; one that cannot, expires."""
    if cancelled:
        return _Retries([], None, [], None, len(retry))
    keep = [sid for sid, ra in retry if ra <= backoff]
    throttled = [sid for sid, ra in retry if ra > backoff]
    keep_at = _retry_time(now, max([backoff] + [ra for _, ra in retry if ra <= backoff]), expires_at)
    throttled_at = _retry_time(now, max([ra for _, ra in retry if ra > backoff], default=0.0), expires_at)
    expired = 0
    if throttled_at is None:
        expired, throttled = len(throttled), []
    if keep and keep_at is None:
        expired, keep = expired + len(keep), []
    return _Retries(keep, keep_at, throttled, throttled_at, expired)


def record_results(
    db_session: Session,
    claim: ClaimedBatch,
    results: Mapping[int, PushResult],
    *,
    now: datetime | None = None,
    backoff_base_s: float = 2.0,
) -> bool:
    """Apply one attempt's outcomes: who got it, who is gone, who waits for a retry, who ran out of time.

    Only the worker holding the batch's lease for this very attempt may write; anyone else (a worker
    that froze past its lease and woke up) gets False and changes nothing: the batch is its successor's.
    Recipients a push service throttled for longer than the backoff move to a batch of their own, so
    their wait delays nobody else. A retry that would land after the TTL is made just before it instead:
    nothing expires untried.
    """
    now = _utc(now or datetime.now(UTC))
    batch = _held(db_session, claim)
    if batch is None:
        return False
    n = db_session.get(Notification, batch.notification_id, populate_existing=True)
    assert n is not None
    got = _sort(batch.pending_ids, results, n.id, claim.attempt)
    for sid in got.gone:
        if sid in results:
            subscriptions.delete_subscription(db_session, sid)
    if got.failures:
        db_session.execute(insert(DeliveryFailure), got.failures)
    plan = _plan_retries(
        got.retry,
        backoff=backoff_delay(claim.attempt, base_s=backoff_base_s),
        now=now,
        expires_at=_utc(n.expires_at),
        cancelled=n.status == "cancelled",
    )
    if plan.throttled:
        db_session.execute(
            insert(DeliveryBatch),
            [
                {
                    "notification_id": n.id,
                    "status": "pending",
                    "pending_ids": plan.throttled,
                    "sent_ids": [],
                    "attempt": claim.attempt,
                    "retrying": len(plan.throttled),
                    "not_before": plan.throttled_at,
                    "priority": batch.priority,
                }
            ],
        )
    batch.sent_ids = [*batch.sent_ids, *got.sent]
    batch.pending_ids = plan.keep
    retrying_delta = len(plan.keep) + len(plan.throttled) - batch.retrying
    batch.retrying = len(plan.keep)
    batch.lease_owner = None
    batch.lease_expires_at = None
    if plan.keep and plan.keep_at is not None:
        batch.status, batch.not_before = "pending", plan.keep_at
    else:
        batch.status = "cancelled" if n.status == "cancelled" else "done"

    _count(
        db_session,
        n.id,
        now,
        got.sent,
        {
            "gone": Notification.gone + len(got.gone),
            "failed": Notification.failed + got.failed,
            "expired": Notification.expired + plan.expired,
            "retrying": Notification.retrying + retrying_delta,
        },
    )
    _finish_if_complete(db_session, n.id, now)
    return True


def _held(db_session: Session, claim: ClaimedBatch) -> DeliveryBatch | None:
    """The batch, locked, if ``claim`` still holds its lease for the attempt it made; None otherwise."""
    stmt = select(DeliveryBatch).where(
        DeliveryBatch.id == claim.batch_id,
        DeliveryBatch.status == "leased",
        DeliveryBatch.lease_owner == claim.worker_id,
        DeliveryBatch.attempt == claim.attempt,
    )
    if is_postgres(db_session):
        stmt = stmt.with_for_update()
    batch = db_session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if batch is None:
        log.warning(
            "batch %s attempt %s is no longer held by %s; its results are dropped",
            claim.batch_id,
            claim.attempt,
            claim.worker_id,
        )
    return batch


def _count(db_session: Session, notification_id: int, now: datetime, sent: list[int], values: dict[str, Any]) -> None:
    """Add an attempt's outcomes to the notification's counters and times; follow-ups reach the newly sent.

    One UPDATE (half_sent_at folded in as a CASE) that also says whether any follow-up references the
    notification, so the common case (none) costs one round trip, not three.
    """
    values = {**values, "sent": Notification.sent + len(sent)}
    if sent:
        values["last_sent_at"] = now
        values["first_sent_at"] = func.coalesce(Notification.first_sent_at, now)
        values["half_sent_at"] = case(
            (
                and_(Notification.half_sent_at.is_(None), (Notification.sent + len(sent)) * 2 >= Notification.targeted),
                now,
            ),
            else_=Notification.half_sent_at,
        )
    stmt = (
        update(Notification)
        .where(Notification.id == notification_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not sent:
        db_session.execute(stmt)
        return
    followed = db_session.execute(stmt.returning(Notification.followed_up)).scalar()
    db_session.flush()
    if followed:
        _extend_follow_ups(db_session, notification_id, sent, now)


def _retry_time(now: datetime, delay_s: float, expires_at: datetime) -> datetime | None:
    """When to try again after ``delay_s``; just before the TTL runs out if that comes first; None when
    even that is too late (this attempt was the last chance)."""
    wanted = now + timedelta(seconds=delay_s)
    if wanted < expires_at:
        return wanted
    margin = min(LAST_CHANCE_S, max(0.0, (expires_at - now).total_seconds()) / 2)
    last = expires_at - timedelta(seconds=margin)
    return last if last > now + timedelta(milliseconds=50) else None


def _extend_follow_ups(db_session: Session, notification_id: int, sent: list[int], now: datetime) -> None:
    """Residents reached after a cancellation or correction was sent get it too.

    A follow-up goes to exactly those who received the original, but a batch already in a worker's
    hands when the operator (or JMA's 取消) cancelled can still deliver the original afterwards; those
    residents are added to every live follow-up here, as a new batch of it.
    """
    referencing = select(NotificationReference.notification_id).where(
        NotificationReference.reference_id == notification_id
    )
    follow_ups = (
        db_session.execute(
            select(Notification).where(
                Notification.id.in_(referencing), Notification.status != "cancelled", Notification.expires_at > now
            )
        )
        .scalars()
        .all()
    )
    for f in follow_ups:
        # A follow-up of several notifications may already be addressed to someone this one just reached.
        added = sorted(set(sent) - _addressed(db_session, f.id))
        if not added:
            continue
        db_session.execute(insert(DeliveryBatch), batch_rows(f, added, size=len(added), now=now))
        wake_workers(db_session, f.priority)
        f.targeted += len(added)
        if f.status in FINAL_STATUSES:
            f.status, f.finished_at = "sending", None
    if follow_ups:
        db_session.flush()


def batches_in_flight(db_session: Session, notification_id: int) -> int:
    """Batches a worker holds right now: their recipients may still receive the notification."""
    return int(
        db_session.execute(
            select(func.count())
            .select_from(DeliveryBatch)
            .where(DeliveryBatch.notification_id == notification_id, DeliveryBatch.status == "leased")
        ).scalar_one()
    )


def recipients_who_received(db_session: Session, notification_id: int) -> list[int]:
    """Exactly the subscriptions a push service accepted this notification for, asked by a follow-up.

    Marks the notification as followed up first, taking its row lock: a checkpoint or record committing
    at the same moment is either seen here (it held the lock first) or reads the mark on the row it
    updates and adds the residents it writes down to the follow-up (``_extend_follow_ups``). Read
    before the mark, one of them could fall between (a 取消 missing a resident who got the warning).
    """
    db_session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(followed_up=True)
        .execution_options(synchronize_session=False)
    )
    ids: set[int] = set()
    for sent_ids in db_session.execute(
        select(DeliveryBatch.sent_ids).where(DeliveryBatch.notification_id == notification_id)
    ).scalars():
        ids.update(sent_ids)
    return sorted(ids)


def failures_of(db_session: Session, notification_id: int, limit: int = 100) -> list[DeliveryFailure]:
    return list(
        db_session.execute(
            select(DeliveryFailure)
            .where(DeliveryFailure.notification_id == notification_id)
            .order_by(DeliveryFailure.id.desc())
            .limit(limit)
        ).scalars()
    )
