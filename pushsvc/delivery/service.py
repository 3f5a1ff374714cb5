"""Delivery service: accept a notification, split its recipients into leased batches, record outcomes.

Acceptance is one transaction: the notification, its resolved recipients and every batch are written
together, so a crash either loses the whole request (the caller saw an error) or loses nothing.
Workers then lease batches; a killed worker's lease runs out and another worker takes the batch.
Only that batch can be sent twice, and the Topic header lets push services collapse the duplicate.

Claiming, sending and recording are separate short transactions (no transaction is open while a
worker waits on the network or sleeps), a lease is short and renewed while its batch is in flight, and
``record_results`` writes only for the worker that still holds the lease for the attempt it made: a
worker that froze and woke up late cannot overwrite what its successor did.

Priority lanes (``DeliveryBatch.priority``, copied from ``Notification.priority``; lower goes first):

====  ===========================  =====================================================================
lane  constant                     what
====  ===========================  =====================================================================
0     ``PRIORITY_LIFE``            緊急地震速報 (EEW) and tsunami warnings: producers set it explicitly;
                                   by default any ``quake_tsunami`` warning or emergency
1     ``PRIORITY_EMERGENCY``       other emergencies (警戒レベル4 and above: 避難指示, 緊急安全確保, 特別警報)
2     ``PRIORITY_WARNING``         warnings
3     ``PRIORITY_ROUTINE``         advisories and information
====  ===========================  =====================================================================

Workers always claim the most urgent due batch; one claim in ``FAIR_EVERY`` takes the oldest due batch
below lane 0 instead, so a long emergency fan-out never starves routine messages forever, while lane 0
is never passed over. TTL per kind when the producer gives none: ``TTL_EEW_S`` (minutes; EEW producers
pass it), warnings and emergencies ``TTL_WARNING_S`` (hours), the rest a day.

Quiet hours never hold a message: within a resident's quiet hours ``info``/``advisory`` go out at once
as silent notifications (the worker marks the payload), warnings and emergencies ring, and follow-ups
(corrections, 取消, 解除) are sent at once like everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, case, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.db import is_postgres
from pushsvc.delivery.models import DeliveryBatch, DeliveryFailure, NotificationReference
from pushsvc.delivery.models import Notification as Notification  # handed out: others may name the type
from pushsvc.errors import NotFound, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.subscriptions import service as subscriptions
from pushsvc.timeutil import JST
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import CATEGORIES
from pushsvc.webpush.sender import MAX_RETRY_AFTER_S, Outcome, PushResult, backoff_delay

log = logging.getLogger(__name__)

SEVERITIES = ("info", "advisory", "warning", "emergency")
QUIET_HOURS_APPLY = frozenset({"info", "advisory"})  # silent within a resident's quiet hours
FINAL_STATUSES = frozenset({"done", "cancelled", "expired"})
# RFC 8030 Urgency: "low" lets a phone on battery wait for power or Wi-Fi; emergencies wake it at once.
URGENCY = {"info": "low", "advisory": "normal", "warning": "high", "emergency": "high"}

PRIORITY_LIFE, PRIORITY_EMERGENCY, PRIORITY_WARNING, PRIORITY_ROUTINE = 0, 1, 2, 3
PRIORITIES = (PRIORITY_LIFE, PRIORITY_EMERGENCY, PRIORITY_WARNING, PRIORITY_ROUTINE)
FAIR_EVERY = 8  # one claim in this many takes the oldest due batch below lane 0 (no starvation)
TTL_EEW_S = 60  # a 緊急地震速報 is useless once the shaking has arrived: a phone offline for a minute drops it
TTL_WARNING_S = 6 * 3600
TTL_NOTICE_S = 86400
LAST_CHANCE_S = 2.0  # a retry that would land after the TTL is made this long before it runs out instead


def default_priority(category: str, severity: str) -> int:
    """The lane of a message whose producer did not choose one."""
    if category == "quake_tsunami" and severity in ("warning", "emergency"):
        return PRIORITY_LIFE
    if severity == "emergency":
        return PRIORITY_EMERGENCY
    if severity == "warning":
        return PRIORITY_WARNING
    return PRIORITY_ROUTINE


def default_ttl(severity: str) -> int:
    """Seconds a push service keeps a message for an offline phone when the producer gave no TTL."""
    return TTL_WARNING_S if severity in ("warning", "emergency") else TTL_NOTICE_S


@dataclass
class NotificationDraft:
    """What any source (operator, river, JMA, CAP) asks delivery to send."""

    source: str
    category: str
    severity: str
    title: dict[str, str]
    body: dict[str, str]
    municipality_codes: Sequence[str] = ()
    area: BaseGeometry | None = None
    url: str | None = None
    ttl_seconds: int | None = None  # None: by kind (``default_ttl``); EEW producers pass ``TTL_EEW_S``
    topic: str | None = None
    test: bool = False
    reference_id: int | None = None
    also_references: Sequence[int] = ()  # further notifications this corrects (a JMA 取消 withdrawing several)
    extra: dict[str, Any] = field(default_factory=dict)
    recipient_ids: Collection[int] | None = None  # exact recipients (corrections), instead of the target
    priority: int | None = None  # lane (``PRIORITY_*``, 0 first); None: ``default_priority`` of category/severity

    def lane(self) -> int:
        return default_priority(self.category, self.severity) if self.priority is None else self.priority

    def ttl(self) -> int:
        return default_ttl(self.severity) if self.ttl_seconds is None else self.ttl_seconds


@dataclass(frozen=True)
class ClaimedBatch:
    batch_id: int
    notification_id: int
    attempt: int
    pending_ids: list[int]
    worker_id: str


@dataclass(frozen=True)
class Message:
    """The notification as a worker needs it to send: texts by language, headers, deadline."""

    id: int
    category: str
    severity: str
    title: dict[str, str]
    body: dict[str, str]
    url: str
    ttl_seconds: int
    topic: str
    expires_at: datetime
    status: str
    priority: int = PRIORITY_ROUTINE

    def text(self, lang: str) -> tuple[str, str]:
        """Title and body in the resident's language, else やさしい日本語 where given, else Japanese."""
        return i18n.pick(self.title, lang) or self.title["ja"], i18n.pick(self.body, lang) or ""

    @property
    def urgency(self) -> str:
        return "high" if self.priority <= PRIORITY_EMERGENCY else URGENCY.get(self.severity, "normal")

    def silent_for(self, quiet_start: time | None, quiet_end: time | None, now: datetime) -> bool:
        """Whether this message reaches a resident within their quiet hours, so it must not make a sound."""
        return self.severity in QUIET_HOURS_APPLY and _quiet_until(now, quiet_start, quiet_end) is not None


def _validate(db_session: Session, draft: NotificationDraft) -> None:
    if draft.severity not in SEVERITIES:
        raise ValidationProblem(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
    if draft.category not in CATEGORIES:
        raise ValidationProblem(
            f"category must be one of {', '.join(CATEGORIES)}", field="category"
        )
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
            raise ValidationProblem(f"unknown municipality codes: {', '.join(unknown)}",
                                    field="target.municipality_codes")


def _quiet_until(now: datetime, start: time | None, end: time | None) -> datetime | None:
    """When a resident's quiet hours (JST wall clock) end, if ``now`` falls inside them."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(JST)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=JST).astimezone(UTC)


def create_notification(
    db_session: Session, draft: NotificationDraft, *, settings: Settings, now: datetime | None = None
) -> Notification:
    """Validate, resolve recipients and enqueue every batch; the caller's commit makes it durable."""
    now = _utc(now or datetime.now(UTC))
    _validate(db_session, draft)
    if draft.recipient_ids is not None:
        recipients = sorted(set(draft.recipient_ids))
    else:
        recipients = subscriptions.find_recipients(
            db_session, municipality_codes=draft.municipality_codes, area=draft.area,
            category=draft.category, test_only=draft.test, now=now,
        )
    n = Notification(
        source=draft.source, category=draft.category, severity=draft.severity,
        title=dict(draft.title), body=dict(draft.body), url=draft.url,
        target_codes=sorted(set(draft.municipality_codes)), target_geom=draft.area,
        ttl_seconds=draft.ttl(), topic=draft.topic or "", test=draft.test, status="queued", priority=draft.lane(),
        reference_id=draft.reference_id, extra=dict(draft.extra), targeted=len(recipients),
        sent=0, gone=0, failed=0, retrying=0, expired=0,
        created_at=now, expires_at=now + timedelta(seconds=draft.ttl()),
    )
    db_session.add(n)
    db_session.flush()
    _add_references(db_session, n.id, draft)
    if not n.topic:
        n.topic = f"n{n.id}"
    if not n.url:
        n.url = f"{settings.public_base_url.rstrip('/')}/alerts/{n.id}"
    size = settings.delivery_batch_size
    rows = [  # quiet hours hold nobody: the worker sends silently to those inside them
        {"notification_id": n.id, "status": "pending", "pending_ids": recipients[i:i + size], "sent_ids": [],
         "attempt": 0, "retrying": 0, "not_before": now, "priority": n.priority}
        for i in range(0, len(recipients), size)
    ]
    if rows:
        db_session.execute(insert(DeliveryBatch), rows)
        wake_workers(db_session, n.priority)
    else:
        n.status, n.finished_at = "done", now
    db_session.flush()
    return n


def _add_references(db_session: Session, notification_id: int, draft: NotificationDraft) -> None:
    """Record every notification the draft follows up, so each one's late deliveries reach this one too."""
    refs = [r for r in dict.fromkeys([draft.reference_id, *draft.also_references]) if r is not None]
    if refs:
        db_session.execute(insert(NotificationReference),
                           [{"notification_id": notification_id, "reference_id": r} for r in refs])


def references_of(db_session: Session, notification_id: int) -> list[int]:
    """Every notification this one corrects or cancels, oldest first (``reference_id`` is only the first)."""
    return list(db_session.execute(
        select(NotificationReference.reference_id).where(NotificationReference.notification_id == notification_id)
        .order_by(NotificationReference.reference_id)
    ).scalars())


def get_notification(db_session: Session, notification_id: int) -> Notification:
    n = db_session.get(Notification, notification_id)
    if n is None:
        raise NotFound(f"no notification {notification_id}", field="id")
    return n


def message_for(n: Notification) -> Message:
    return Message(
        id=n.id, category=n.category, severity=n.severity, title=n.title, body=n.body, url=n.url or "",
        ttl_seconds=n.ttl_seconds, topic=n.topic, expires_at=_utc(n.expires_at), status=n.status,
        priority=n.priority,
    )


WAKE_CHANNEL = "pushsvc_urgent"  # PostgreSQL NOTIFY channel: a lane <= PRIORITY_EMERGENCY batch was enqueued


def wake_workers(db_session: Session, priority: int) -> None:
    """On PostgreSQL, tell listening workers (at commit) that urgent batches are due, so a busy worker
    claims them at once instead of at its next poll; polling stays the fallback (and SQLite's way)."""
    if priority <= PRIORITY_EMERGENCY and is_postgres(db_session):
        db_session.execute(_NOTIFY, {"lane": str(priority)})


_NOTIFY = text(f"SELECT pg_notify('{WAKE_CHANNEL}', :lane)")


def bound_transaction(db_session: Session, lease_seconds: float) -> None:
    """On PostgreSQL, end this transaction (and free its locks) if its process freezes inside it.

    A worker stopped (SIGSTOP, a VM pause, a debugger) between two statements of a short transaction
    would otherwise hold its row locks (the notification's counters) and stall every other worker.
    A third of the lease, at least a second: well above any real step, well below the lease.
    """
    if is_postgres(db_session):
        ms = str(int(max(1.0, lease_seconds / 3) * 1000))
        db_session.execute(_BOUND, {"ms": ms})


_BOUND = text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true), "
              "set_config('statement_timeout', :ms, true)")  # one round trip, this transaction only


def claim_batch(
    db_session: Session, *, worker_id: str, lease_seconds: float, now: datetime | None = None,
    oldest_first: bool = False, more_urgent_than: int | None = None,
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
    order = ((DeliveryBatch.priority > PRIORITY_LIFE,) if oldest_first else (DeliveryBatch.priority,))
    stmt = select(DeliveryBatch.id).where(due).order_by(*order, DeliveryBatch.not_before, DeliveryBatch.id).limit(1)
    if is_postgres(db_session):
        stmt = stmt.with_for_update(skip_locked=True)
    batch_id = db_session.execute(stmt).scalar()
    if batch_id is None:
        return None
    claimed = db_session.execute(
        update(DeliveryBatch)
        .where(DeliveryBatch.id == batch_id, due)
        .values(status="leased", lease_owner=worker_id, attempt=DeliveryBatch.attempt + 1,
                lease_expires_at=now + timedelta(seconds=lease_seconds))
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
        .where(DeliveryBatch.id == claim.batch_id, DeliveryBatch.lease_owner == claim.worker_id,
               DeliveryBatch.status == "leased")
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


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
    sent: list[int] = []
    gone: list[int] = []
    failed = 0
    retry: list[tuple[int, float]] = []
    failures = []
    for sid in batch.pending_ids:
        result = results.get(sid)
        if result is None:  # unsubscribed while queued: nobody left to reach
            gone.append(sid)
            continue
        if result.outcome is Outcome.SENT:
            sent.append(sid)
            continue
        failures.append({"notification_id": n.id, "subscription_id": sid, "attempt": claim.attempt,
                         "outcome": str(result.outcome), "status_code": result.status,
                         "reason": result.reason[:500]})
        if result.outcome is Outcome.GONE:
            gone.append(sid)
        elif result.retryable:
            retry.append((sid, min(MAX_RETRY_AFTER_S, max(0.0, result.retry_after or 0.0))))
        else:
            failed += 1
    for sid in gone:
        if sid in results:
            subscriptions.delete_subscription(db_session, sid)
    if failures:
        db_session.execute(insert(DeliveryFailure), failures)

    expires_at = _utc(n.expires_at)
    backoff = backoff_delay(claim.attempt, base_s=backoff_base_s)
    throttled = [sid for sid, ra in retry if ra > backoff]
    waits = {"batch": max([backoff] + [ra for _, ra in retry if ra <= backoff]),
             "throttled": max([ra for _, ra in retry if ra > backoff], default=0.0)}
    when = {k: _retry_time(now, v, expires_at) for k, v in waits.items()}
    expired = 0
    if n.status == "cancelled":
        expired, retry, throttled = len(retry), [], []
    else:
        if when["throttled"] is None:
            expired += len(throttled)
            throttled = []
        keep = [sid for sid, ra in retry if ra <= backoff]
        if keep and when["batch"] is None:
            expired += len(keep)
            keep = []
        retry = [(sid, 0.0) for sid in keep]
    if throttled:
        db_session.execute(insert(DeliveryBatch), [{
            "notification_id": n.id, "status": "pending", "pending_ids": throttled, "sent_ids": [],
            "attempt": claim.attempt, "retrying": len(throttled), "not_before": when["throttled"],
            "priority": batch.priority}])
    batch.sent_ids = [*batch.sent_ids, *sent]
    batch.pending_ids = [sid for sid, _ in retry]
    retrying_delta = len(retry) + len(throttled) - batch.retrying
    batch.retrying = len(retry)
    batch.lease_owner = None
    batch.lease_expires_at = None
    if retry and when["batch"] is not None:
        batch.status, batch.not_before = "pending", when["batch"]
    else:
        batch.status = "cancelled" if n.status == "cancelled" else "done"

    _count(db_session, n.id, now, sent, {
        "gone": Notification.gone + len(gone), "failed": Notification.failed + failed,
        "expired": Notification.expired + expired, "retrying": Notification.retrying + retrying_delta})
    _finish_if_complete(db_session, n.id, now)
    return True


def record_progress(db_session: Session, claim: ClaimedBatch, sent: Collection[int], *,
                    now: datetime | None = None) -> bool:
    """Write down, mid-batch, who a push service already accepted it for (the holder only)."""
    return claim.batch_id not in record_progress_many(db_session, [(claim, sent)], now=now)


def record_progress_many(db_session: Session, progress: Sequence[tuple[ClaimedBatch, Collection[int]]], *,
                         now: datetime | None = None) -> set[int]:
    """Checkpoint several batches in one short transaction: move who was accepted from pending to sent.

    A worker killed mid-batch makes its successor resend only what was accepted since the last
    checkpoint, so the worker checkpoints all its batches together every ``CHECKPOINT_EVERY`` accepted
    (worker.py): duplicates after a crash stay under that, however many batches were in flight.
    Core statements, one row read and one write per batch: this runs several times per batch.
    Returns the ids of the batches whose lease ``claim`` no longer holds (nothing written for those).
    """
    now = _utc(now or datetime.now(UTC))
    claims = {c.batch_id: (c, set(ids)) for c, ids in progress}
    stmt = (select(DeliveryBatch.id, DeliveryBatch.lease_owner, DeliveryBatch.attempt, DeliveryBatch.pending_ids,
                   DeliveryBatch.sent_ids, DeliveryBatch.notification_id)
            .where(DeliveryBatch.id.in_(sorted(claims)), DeliveryBatch.status == "leased"))
    if is_postgres(db_session):
        stmt = stmt.with_for_update()
    lost = set(claims)
    writes: list[dict[str, Any]] = []
    done_by_notification: dict[int, list[int]] = {}
    for batch_id, owner, attempt, pending, already, notification_id in db_session.execute(stmt):
        claim, wanted = claims[batch_id]
        if owner != claim.worker_id or attempt != claim.attempt:
            continue
        lost.discard(batch_id)
        done = [sid for sid in pending if sid in wanted]
        if done:
            writes.append({"id": batch_id, "sent_ids": [*already, *done],
                           "pending_ids": [sid for sid in pending if sid not in wanted]})
            done_by_notification.setdefault(notification_id, []).extend(done)
    if writes:
        db_session.execute(update(DeliveryBatch), writes)
    for notification_id, done in done_by_notification.items():
        _count(db_session, notification_id, now, done, {})
    for batch_id in lost:
        log.warning("batch %s is no longer held by this worker; its checkpoint is dropped", batch_id)
    return lost


def _held(db_session: Session, claim: ClaimedBatch) -> DeliveryBatch | None:
    """The batch, locked, if ``claim`` still holds its lease for the attempt it made; None otherwise."""
    stmt = select(DeliveryBatch).where(
        DeliveryBatch.id == claim.batch_id, DeliveryBatch.status == "leased",
        DeliveryBatch.lease_owner == claim.worker_id, DeliveryBatch.attempt == claim.attempt)
    if is_postgres(db_session):
        stmt = stmt.with_for_update()
    batch = db_session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if batch is None:
        log.warning("batch %s attempt %s is no longer held by %s; its results are dropped",
                    claim.batch_id, claim.attempt, claim.worker_id)
    return batch


def _count(db_session: Session, notification_id: int, now: datetime, sent: list[int],
           values: dict[str, Any]) -> None:
    """Add an attempt's outcomes to the notification's counters and times; follow-ups reach the newly sent.

    One UPDATE (half_sent_at folded in as a CASE) that also says whether any follow-up references the
    notification, so the common case (none) costs one round trip, not three.
    """
    values = {**values, "sent": Notification.sent + len(sent)}
    if sent:
        values["last_sent_at"] = now
        values["first_sent_at"] = func.coalesce(Notification.first_sent_at, now)
        values["half_sent_at"] = case(
            (and_(Notification.half_sent_at.is_(None), (Notification.sent + len(sent)) * 2 >= Notification.targeted),
             now), else_=Notification.half_sent_at)
    stmt = (update(Notification).where(Notification.id == notification_id).values(**values)
            .execution_options(synchronize_session=False))
    if not sent:
        db_session.execute(stmt)
        return
    followed = db_session.execute(stmt.returning(_FOLLOWED_UP)).scalar()
    db_session.flush()
    if followed:
        _extend_follow_ups(db_session, notification_id, sent, now)


_FOLLOWED_UP = (select(NotificationReference.notification_id)
                .where(NotificationReference.reference_id == Notification.id).exists())


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
        NotificationReference.reference_id == notification_id)
    follow_ups = db_session.execute(
        select(Notification).where(Notification.id.in_(referencing),
                                   Notification.status != "cancelled", Notification.expires_at > now)
    ).scalars().all()
    for f in follow_ups:
        # A follow-up of several notifications may already be addressed to someone this one just reached.
        added = sorted(set(sent) - _addressed(db_session, f.id))
        if not added:
            continue
        db_session.execute(insert(DeliveryBatch), [{
            "notification_id": f.id, "status": "pending", "pending_ids": added, "sent_ids": [], "attempt": 0,
            "retrying": 0, "not_before": now, "priority": f.priority}])
        wake_workers(db_session, f.priority)
        f.targeted += len(added)
        if f.status in FINAL_STATUSES:
            f.status, f.finished_at = "sending", None
    if follow_ups:
        db_session.flush()


def _addressed(db_session: Session, notification_id: int) -> set[int]:
    """Recipients a notification is still being sent to or has reached."""
    ids: set[int] = set()
    for pending, sent in db_session.execute(select(DeliveryBatch.pending_ids, DeliveryBatch.sent_ids)
                                            .where(DeliveryBatch.notification_id == notification_id)):
        ids.update(pending)
        ids.update(sent)
    return ids


def batches_in_flight(db_session: Session, notification_id: int) -> int:
    """Batches a worker holds right now: their recipients may still receive the notification."""
    return int(db_session.execute(
        select(func.count()).select_from(DeliveryBatch).where(
            DeliveryBatch.notification_id == notification_id, DeliveryBatch.status == "leased")
    ).scalar_one())


def _finish_if_complete(db_session: Session, notification_id: int, now: datetime) -> None:
    open_batches = db_session.execute(
        select(func.count()).select_from(DeliveryBatch).where(
            DeliveryBatch.notification_id == notification_id, DeliveryBatch.status.in_(("pending", "leased")))
    ).scalar_one()
    if open_batches:
        return
    n = db_session.get(Notification, notification_id, populate_existing=True)
    assert n is not None
    if n.status in FINAL_STATUSES:
        return
    # "expired": the TTL ran out before anyone could be reached; otherwise "done" (counters say the rest).
    n.status = "expired" if n.expired and not n.sent else "done"
    n.finished_at = now


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
        .values(status="cancelled").execution_options(synchronize_session=False)
    )
    n.status, n.retrying = "cancelled", 0
    n.finished_at = n.finished_at or now
    db_session.flush()
    return n


def recipients_who_received(db_session: Session, notification_id: int) -> list[int]:
    """Exactly the subscriptions a push service accepted this notification for."""
    ids: set[int] = set()
    for sent_ids in db_session.execute(
        select(DeliveryBatch.sent_ids).where(DeliveryBatch.notification_id == notification_id)
    ).scalars():
        ids.update(sent_ids)
    return sorted(ids)


def failures_of(db_session: Session, notification_id: int, limit: int = 100) -> list[DeliveryFailure]:
    return list(db_session.execute(
        select(DeliveryFailure).where(DeliveryFailure.notification_id == notification_id)
        .order_by(DeliveryFailure.id.desc()).limit(limit)
    ).scalars())


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
            .where(DeliveryFailure.subscription_id.in_(ids[i:i + 5000]),
                   DeliveryFailure.created_at >= now - KNOWN_DEAD_WINDOW)
            .group_by(DeliveryFailure.subscription_id)
            .having(func.count(func.distinct(DeliveryFailure.notification_id)) >= KNOWN_DEAD_MIN_MESSAGES)
        ).scalars()
        dead.update(rows)
    return dead


# --- read-only queries for the public alert feeds and KPI (issue 7) ----------------------------

def active_alerts(db_session: Session, *, now: datetime | None = None, category: str | None = None,
                  limit: int = 500) -> list[Notification]:
    """Public alerts in force: not tests, not cancelled, TTL not run out; newest first."""
    now = _utc(now or datetime.now(UTC))
    stmt = (select(Notification)
            .where(Notification.test.is_(False), Notification.status != "cancelled", Notification.expires_at > now)
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    if category is not None:
        stmt = stmt.where(Notification.category == category)
    return list(db_session.execute(stmt).scalars())


def recent_alerts(db_session: Session, *, since: datetime, limit: int = 500) -> list[Notification]:
    """Public alerts created since ``since`` whatever their state now (ended, cancelled): newest first."""
    stmt = (select(Notification).where(Notification.test.is_(False), Notification.created_at >= _utc(since))
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    return list(db_session.execute(stmt).scalars())


def active_alerts_version(db_session: Session) -> tuple[Any, ...]:
    """Changes whenever ``active_alerts`` may have changed other than by the clock: a notification was
    created (newest id and its time, so a reused SQLite id is still noticed) or one was cancelled.
    Two index lookups, so a reader may cache the list per process and check this on every request."""
    row = db_session.execute(_ACTIVE_VERSION).first()
    return tuple(row) if row is not None else ()


_ACTIVE_VERSION = (  # built once: constructing the statement costs more than running it
    select(Notification.id, Notification.created_at, select(func.count()).select_from(Notification)
           .where(Notification.status == "cancelled").scalar_subquery())
    .order_by(Notification.id.desc()).limit(1))


def public_alert(db_session: Session, notification_id: int) -> Notification:
    """One non-test notification, in force or not (the alert page still opens after it ends)."""
    n = db_session.get(Notification, notification_id)
    if n is None or n.test:
        raise NotFound(f"no alert {notification_id}", field="id")
    return n


def delivery_stats(db_session: Session, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Counters and timestamps of the non-test notifications created in [start, end), for the KPI."""
    cols = (Notification.source, Notification.category, Notification.targeted, Notification.sent,
            Notification.gone, Notification.failed, Notification.expired, Notification.created_at,
            Notification.half_sent_at, Notification.last_sent_at)
    rows = db_session.execute(select(*cols).where(
        Notification.test.is_(False), Notification.created_at >= _utc(start), Notification.created_at < _utc(end)))
    return [dict(r._mapping) for r in rows]


def push_outcome_counts(db_session: Session) -> dict[str, Any]:
    """Totals since the start (Prometheus counters): pushes by outcome and failed attempts by HTTP status."""
    sums = db_session.execute(select(
        func.coalesce(func.sum(Notification.sent), 0), func.coalesce(func.sum(Notification.gone), 0),
        func.coalesce(func.sum(Notification.failed), 0), func.coalesce(func.sum(Notification.expired), 0),
        func.count(Notification.id))).one()
    codes = db_session.execute(
        select(DeliveryFailure.status_code, func.count()).group_by(DeliveryFailure.status_code)).all()
    return {"sent": int(sums[0]), "gone": int(sums[1]), "failed": int(sums[2]), "expired": int(sums[3]),
            "notifications": int(sums[4]), "failure_status": {str(c or "none"): int(n) for c, n in codes}}


def oldest_due_at(db_session: Session, *, now: datetime) -> datetime | None:
    """When the longest-waiting due batch became due (None = nothing waiting): /metrics' staleness signal."""
    at = db_session.execute(select(DeliveryBatch.not_before).where(
        DeliveryBatch.status == "pending", DeliveryBatch.not_before <= now)
        .order_by(DeliveryBatch.not_before).limit(1)).scalar()
    return _utc(at) if at is not None else None


def send_timings(db_session: Session) -> list[tuple[str, datetime, datetime, datetime | None]]:
    """(severity, accepted, first push, last push) of every notification that has sent: delivery latency."""
    rows = db_session.execute(select(
        Notification.severity, Notification.created_at, Notification.first_sent_at, Notification.last_sent_at)
        .where(Notification.first_sent_at.is_not(None)))
    return [(sev, _utc(c), _utc(f), _utc(last) if last is not None else None) for sev, c, f, last in rows
            if f is not None]


def amend_body(db_session: Session, notification_id: int, body: Mapping[str, str]) -> None:
    """Replace the text the alert page and the portal show (and late deliveries carry), e.g. when a later
    津波情報 gives the first wave's arrival. Residents who already received it are not told again."""
    n = get_notification(db_session, notification_id)
    n.body = {**(n.body or {}), **dict(body)}
    db_session.flush()
