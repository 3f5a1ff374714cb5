"""Accepting a notification: validate, resolve recipients, write its batches; withdrawing one (cancel)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select, text, update
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.db import after_commit, is_postgres
from pushsvc.delivery.drafts import (
    FINAL_STATUSES,
    PRIORITIES,
    PRIORITY_EMERGENCY,
    SEVERITIES,
    Message,
    NotificationDraft,
)
from pushsvc.delivery.models import DeliveryBatch, Notification, NotificationReference
from pushsvc.errors import NotFound, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.subscriptions import service as subscriptions
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import CATEGORIES

log = logging.getLogger(__name__)


def _validate(db_session: Session, draft: NotificationDraft) -> None:
    if draft.severity not in SEVERITIES:
        raise ValidationProblem(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
    if draft.category not in CATEGORIES:
        raise ValidationProblem(f"category must be one of {', '.join(CATEGORIES)}", field="category")
    if not (draft.title.get("ja") or "").strip():
        raise ValidationProblem("a Japanese title is required (other languages fall back to it)", field="title.ja")
    if draft.ttl() < 0 or draft.ttl() > 28 * 86400:
        raise ValidationProblem("ttl_seconds must be between 0 and 28 days", field="ttl_seconds")
    if draft.lane() not in PRIORITIES:
        raise ValidationProblem(f"priority must be one of {', '.join(map(str, PRIORITIES))}", field="priority")
    if draft.recipient_ids is None and not draft.municipality_codes and draft.area is None:
        raise ValidationProblem("a target needs municipality codes or an area", field="target")
    if draft.municipality_codes:
        known = geo_service.places_by_code(db_session, draft.municipality_codes)
        unknown = sorted(set(draft.municipality_codes) - set(known))
        if unknown:
            raise ValidationProblem(
                f"unknown municipality codes: {', '.join(unknown)}", field="target.municipality_codes"
            )


def create_notification(
    db_session: Session, draft: NotificationDraft, *, settings: Settings, now: datetime | None = None
) -> Notification:
    """Validate, resolve recipients and enqueue every batch; the caller's commit makes it durable.

    A draft marked ``first_batch_early`` (緊急地震速報, tsunami) gets only its first batch here, found
    without resolving everyone; the rest are appended in a transaction of their own right after the
    caller's commit (``db.after_commit``), so a worker is already sending while they are written. Until
    then the notification is ``appending``; a worker resumes an append that a dying process left undone.
    """
    now = _utc(now or datetime.now(UTC))
    _validate(db_session, draft)
    early = (
        draft.first_batch_early
        and draft.recipient_ids is None
        and draft.area is None
        and bool(draft.municipality_codes)
    )
    if draft.recipient_ids is not None:
        recipients = sorted(set(draft.recipient_ids))
    elif early:
        recipients = subscriptions.first_recipients(
            db_session,
            municipality_codes=draft.municipality_codes,
            category=draft.category,
            test_only=draft.test,
            now=now,
            limit=settings.delivery_batch_size,
        )
    else:
        recipients = subscriptions.find_recipients(
            db_session,
            municipality_codes=draft.municipality_codes,
            area=draft.area,
            category=draft.category,
            test_only=draft.test,
            now=now,
        )
    n = Notification(
        source=draft.source,
        category=draft.category,
        severity=draft.severity,
        title=dict(draft.title),
        body=dict(draft.body),
        url=draft.url,
        target_codes=sorted(set(draft.municipality_codes)),
        target_geom=draft.area,
        ttl_seconds=draft.ttl(),
        topic=draft.topic or "",
        test=draft.test,
        status="queued",
        priority=draft.lane(),
        reference_id=draft.reference_id,
        extra=dict(draft.extra),
        targeted=0,
        appending=early and bool(recipients),
        sent=0,
        gone=0,
        failed=0,
        retrying=0,
        expired=0,
        created_at=now,
        expires_at=now + timedelta(seconds=draft.ttl()),
    )
    db_session.add(n)
    db_session.flush()
    _add_references(db_session, n.id, draft)
    if not n.topic:
        n.topic = f"n{n.id}"
    if not n.url:
        n.url = f"{settings.public_base_url.rstrip('/')}/alerts/{n.id}"
    if not _add_batches(db_session, n, recipients, settings=settings, now=now):
        n.status, n.finished_at = "done", now
    db_session.flush()
    if n.appending:
        notification_id = n.id
        after_commit(db_session, lambda s: append_recipients(s, notification_id, settings=settings))
    return n


def _add_batches(
    db_session: Session, n: Notification, recipients: list[int], *, settings: Settings, now: datetime
) -> int:
    """Write ``recipients`` as batches of ``n`` (counted in ``targeted``) and wake the workers; how many."""
    rows = batch_rows(n, recipients, size=settings.delivery_batch_size, now=now)
    if rows:
        db_session.execute(insert(DeliveryBatch), rows)
        n.targeted += len(recipients)
        wake_workers(db_session, n.priority)
    return len(recipients)


def batch_rows(n: Notification, recipients: list[int], *, size: int, now: datetime) -> list[dict[str, Any]]:
    """New batches of ``n`` for ``recipients``, due now, in its lane. Quiet hours hold nobody: the worker
    sends silently to those inside them."""
    return [
        {
            "notification_id": n.id,
            "status": "pending",
            "pending_ids": recipients[i : i + size],
            "sent_ids": [],
            "attempt": 0,
            "retrying": 0,
            "not_before": now,
            "priority": n.priority,
        }
        for i in range(0, len(recipients), size)
    ]


RESUME_AFTER_S = 10.0  # an append not finished this long after acceptance was left undone by a dying process


def append_recipients(
    db_session: Session, notification_id: int, *, settings: Settings, now: datetime | None = None
) -> int:
    """Write the rest of an ``appending`` notification's recipients (everyone in its target not yet
    addressed) and end its appending; how many were added. A cancelled one gets nobody more.

    The notification's row is locked only by the last statement, which also decides who appends: the
    request's own step and a worker resuming it may both compute, only the first to end ``appending``
    keeps its batches. Locking it any earlier made the worker claiming the first batch (which marks
    the notification as sending) wait for the whole append.
    """
    now = _utc(now or datetime.now(UTC))
    n = db_session.get(Notification, notification_id, populate_existing=True)
    if n is None or not n.appending:
        return 0
    added: list[int] = []
    if n.status != "cancelled":
        everyone = subscriptions.find_recipients(
            db_session, municipality_codes=n.target_codes, category=n.category, test_only=n.test, now=now
        )
        already = _addressed(db_session, n.id)
        added = [sid for sid in everyone if sid not in already]
    if not (added and _append_batches(db_session, n, added, settings=settings, now=now)):
        added = []
        db_session.execute(
            update(Notification)
            .where(Notification.id == n.id, Notification.appending.is_(True))
            .values(appending=False)
            .execution_options(synchronize_session=False)
        )
    _finish_if_complete(db_session, n.id, now)
    return len(added)


def _append_batches(
    db_session: Session, n: Notification, added: list[int], *, settings: Settings, now: datetime
) -> bool:
    """The batches of ``added``, kept only if this call is the one that ends ``n``'s appending."""
    savepoint = db_session.begin_nested()
    db_session.execute(insert(DeliveryBatch), batch_rows(n, added, size=settings.delivery_batch_size, now=now))
    reopen = Notification.status.in_(tuple(FINAL_STATUSES))  # its first batch was done before the rest came
    taken = db_session.execute(
        update(Notification)
        .where(Notification.id == n.id, Notification.appending.is_(True), Notification.status != "cancelled")
        .values(
            appending=False,
            targeted=Notification.targeted + len(added),
            status=case((reopen, "sending"), else_=Notification.status),
            finished_at=case((reopen, None), else_=Notification.finished_at),
        )
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        savepoint.rollback()
        return False
    savepoint.commit()
    wake_workers(db_session, n.priority)
    return True


def resume_appending(db_session: Session, *, settings: Settings, now: datetime | None = None) -> list[int]:
    """Finish the appends a process that died after a first commit left undone (run by every worker)."""
    now = _utc(now or datetime.now(UTC))
    stale = (
        db_session.execute(
            select(Notification.id).where(
                Notification.appending.is_(True), Notification.created_at < now - timedelta(seconds=RESUME_AFTER_S)
            )
        )
        .scalars()
        .all()
    )
    resumed = []
    for notification_id in stale:
        log.warning("notification %s: resuming the append of its recipients", notification_id)
        append_recipients(db_session, notification_id, settings=settings, now=now)
        resumed.append(notification_id)
    return resumed


def _add_references(db_session: Session, notification_id: int, draft: NotificationDraft) -> None:
    """Record every notification the draft follows up, so each one's late deliveries reach this one too."""
    refs = [r for r in dict.fromkeys([draft.reference_id, *draft.also_references]) if r is not None]
    if refs:
        db_session.execute(
            insert(NotificationReference), [{"notification_id": notification_id, "reference_id": r} for r in refs]
        )
        db_session.execute(
            update(Notification)
            .where(Notification.id.in_(refs))
            .values(followed_up=True)
            .execution_options(synchronize_session=False)
        )


def references_of(db_session: Session, notification_id: int) -> list[int]:
    """Every notification this one corrects or cancels, oldest first (``reference_id`` is only the first)."""
    return list(
        db_session.execute(
            select(NotificationReference.reference_id)
            .where(NotificationReference.notification_id == notification_id)
            .order_by(NotificationReference.reference_id)
        ).scalars()
    )


def get_notification(db_session: Session, notification_id: int) -> Notification:
    n = db_session.get(Notification, notification_id)
    if n is None:
        raise NotFound(f"no notification {notification_id}", field="id")
    return n


def message_for(n: Notification) -> Message:
    return Message(
        id=n.id,
        category=n.category,
        severity=n.severity,
        title=n.title,
        body=n.body,
        url=n.url or "",
        ttl_seconds=n.ttl_seconds,
        topic=n.topic,
        expires_at=_utc(n.expires_at),
        status=n.status,
        priority=n.priority,
    )


WAKE_CHANNEL = "pushsvc_urgent"  # PostgreSQL NOTIFY channel: a lane <= PRIORITY_EMERGENCY batch was enqueued


def wake_workers(db_session: Session, priority: int) -> None:
    """On PostgreSQL, tell listening workers (at commit) that urgent batches are due, so a busy worker
    claims them at once instead of at its next poll; polling stays the fallback (and SQLite's way)."""
    if priority <= PRIORITY_EMERGENCY and is_postgres(db_session):
        db_session.execute(_NOTIFY, {"lane": str(priority)})


_NOTIFY = text(f"SELECT pg_notify('{WAKE_CHANNEL}', :lane)")


def cancel_notification(db_session: Session, notification_id: int, *, now: datetime | None = None) -> Notification:
    """Stop every unsent batch at once (batches in flight stop at their next record) and withdraw it.

    A notification that already finished is withdrawn too: cancelled, it leaves the public alert
    feeds and the portal, whether it reached everyone, nobody, or ran out of time. Its counters stay.
    """
    now = _utc(now or datetime.now(UTC))
    n = get_notification(db_session, notification_id)
    if n.status == "cancelled":
        return n
    db_session.execute(
        update(DeliveryBatch)
        .where(DeliveryBatch.notification_id == n.id, DeliveryBatch.status == "pending")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    n.status, n.retrying = "cancelled", 0
    n.finished_at = n.finished_at or now
    db_session.flush()
    return n


def _addressed(db_session: Session, notification_id: int) -> set[int]:
    """Recipients a notification is still being sent to or has reached."""
    ids: set[int] = set()
    for pending, sent in db_session.execute(
        select(DeliveryBatch.pending_ids, DeliveryBatch.sent_ids).where(
            DeliveryBatch.notification_id == notification_id
        )
    ):
        ids.update(pending)
        ids.update(sent)
    return ids


def _finish_if_complete(db_session: Session, notification_id: int, now: datetime) -> None:
    open_batches = db_session.execute(
        select(func.count())
        .select_from(DeliveryBatch)
        .where(DeliveryBatch.notification_id == notification_id, DeliveryBatch.status.in_(("pending", "leased")))
    ).scalar_one()
    if open_batches:
        return
    n = db_session.get(Notification, notification_id, populate_existing=True)
    assert n is not None
    if n.status in FINAL_STATUSES or n.appending:  # appending: more batches are on their way
        return
    # "expired": the TTL ran out before anyone could be reached; otherwise "done" (counters say the rest).
    n.status = "expired" if n.expired and not n.sent else "done"
    n.finished_at = now
