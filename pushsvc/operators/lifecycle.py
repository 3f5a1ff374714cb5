"""After a message is accepted: expiry and schedules, approval by a second operator, cancellation and correction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.errors import Conflict, Forbidden, NotFound, ValidationProblem
from pushsvc.operators import accounts
from pushsvc.operators.models import PREFECTURE, MessageMunicipality, Operator, OperatorMessage
from pushsvc.operators.reach import touched_codes
from pushsvc.operators.schemas import FollowUpIn, Translation
from pushsvc.operators.sending import dispatch, texts
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import LANGUAGES, scrub_texts

OPEN = ("awaiting_approval", "scheduled", "sent")
FOLLOW_UP_MARK = {"cancellation": ("【取消】", "[Cancelled] "), "correction": ("【訂正】", "[Correction] ")}
CANCEL_BODY = i18n.texts("message.cancelled")


def status_of(db_session: Session, message_id: int, *, now: datetime | None = None) -> tuple[str, int | None]:
    """(status, notification id) of a message, for domains waiting on its approval."""
    refresh(db_session, now=now)
    m = db_session.get(OperatorMessage, message_id, populate_existing=True)
    if m is None:
        raise NotFound(f"no message {message_id}", field="id")
    return m.status, m.notification_id


def refresh(db_session: Session, *, now: datetime | None = None) -> None:
    """Expire messages nobody approved in time, and mark scheduled ones whose time has come as sent."""
    now = _utc(now or datetime.now(UTC))
    overdue = db_session.execute(
        select(OperatorMessage.id, OperatorMessage.author_id, OperatorMessage.approval_deadline).where(
            OperatorMessage.status == "awaiting_approval", OperatorMessage.approval_deadline < now
        )
    ).all()
    for mid, author_id, deadline in overdue:
        done = db_session.execute(
            update(OperatorMessage)
            .where(OperatorMessage.id == mid, OperatorMessage.status == "awaiting_approval")
            .values(
                status="expired",
                closed_at=now,
                note=f"not approved by {_utc(deadline).isoformat() if deadline else 'the deadline'}; nothing was sent",
            )
            .execution_options(synchronize_session="fetch")
        )
        if done.rowcount:  # type: ignore[attr-defined]
            accounts.audit(db_session, "message.expired", message_id=mid, now=now, author_id=author_id)
    db_session.execute(
        update(OperatorMessage)
        .where(OperatorMessage.status == "scheduled", OperatorMessage.scheduled_at <= now)
        .values(status="sent")
        .execution_options(synchronize_session="fetch")
    )
    db_session.flush()


def get_message(db_session: Session, op: Operator, message_id: int) -> OperatorMessage:
    """A message the operator may see: 404 if none, 403 if it belongs to other municipalities only."""
    m = db_session.get(OperatorMessage, message_id, populate_existing=True)
    if m is None:
        raise NotFound(f"no message {message_id}", field="id")
    touched = touched_codes(db_session, m.id)
    if op.role != PREFECTURE and not set(touched) & set(op.municipalities):
        raise Forbidden(f"message {message_id} is outside operator {op.name!r}'s municipalities", field="id")
    return m


def approve(
    db_session: Session, op: Operator, message_id: int, *, settings: Settings, now: datetime | None = None
) -> OperatorMessage:
    now = _utc(now or datetime.now(UTC))
    refresh(db_session, now=now)
    m = get_message(db_session, op, message_id)
    if m.author_id == op.id:
        raise Forbidden("a message cannot be approved by its own author", field="id")
    if m.status != "awaiting_approval":
        raise Conflict(
            f"message {m.id} is {m.status}, not awaiting approval" + (f": {m.note}" if m.note else ""), field="id"
        )
    accounts.ensure_scope(op, touched_codes(db_session, m.id))
    m.approver_id, m.approved_at, m.note = op.id, now, ""
    dispatch(db_session, m, settings=settings, now=now)
    accounts.audit(db_session, "message.approve", operator=op, message_id=m.id, now=now, recipients=m.recipients)
    db_session.flush()
    return m


def _follow_up_texts(m: OperatorMessage, kind: str, patch: FollowUpIn) -> tuple[dict[str, str], dict[str, str]]:
    """A correction says what the operator wrote; a cancellation repeats the original's titles."""
    if kind == "correction":
        assert patch.title is not None
        return texts(patch.title, patch.body or "", patch.lang, test=m.test, prefix=FOLLOW_UP_MARK[kind])
    # The original's titles as stored: scrubbed, so a message stored before text was checked can be cancelled.
    stored = scrub_texts(m.title)
    own = {k: t.body for k, t in patch.lang.items()}
    lang: dict[str, Translation] = {
        k: Translation.model_construct(title=v, body=own.get(k) or CANCEL_BODY.get(k, CANCEL_BODY["en"]))
        for k, v in stored.items()
        if k != "ja" and k in LANGUAGES
    }
    return texts(stored.get("ja", ""), patch.body or CANCEL_BODY["ja"], lang, test=m.test, prefix=FOLLOW_UP_MARK[kind])


def _follow_up(
    db_session: Session,
    op: Operator,
    m: OperatorMessage,
    kind: str,
    patch: FollowUpIn,
    *,
    settings: Settings,
    now: datetime,
) -> OperatorMessage | None:
    """Stop what is unsent; tell exactly those who received ``m`` (same Topic, so a queued copy is replaced)."""
    received: list[int] = []
    topic = None
    in_flight = 0
    if m.notification_id is not None:
        n = delivery.cancel_notification(db_session, m.notification_id, now=now)
        received, topic = delivery.recipients_who_received(db_session, n.id), n.topic
        in_flight = delivery.batches_in_flight(db_session, n.id)
    m.status, m.closed_at = "cancelled" if kind == "cancellation" else "corrected", now
    m.note = patch.reason
    if not received and not in_flight:  # a batch still in a worker's hands may yet reach someone
        return None
    titles, bodies = _follow_up_texts(m, kind, patch)
    f = OperatorMessage(
        kind=kind,
        status="sent",
        author_id=op.id,
        reference_id=m.id,
        category=m.category,
        severity=m.severity,
        title=titles,
        body=bodies,
        target={"recipients_of": m.id},
        area=None,
        target_codes=m.target_codes,
        prefecture_wide=False,
        test=m.test,
        ttl_seconds=m.ttl_seconds,
        source=m.source,
        note=patch.reason,
        created_at=now,
    )
    db_session.add(f)
    db_session.flush()
    codes = touched_codes(db_session, m.id)
    if codes:
        db_session.execute(insert(MessageMunicipality), [{"message_id": f.id, "municipality_code": c} for c in codes])
    dispatch(
        db_session, f, settings=settings, now=now, recipient_ids=received, topic=topic, reference_id=m.notification_id
    )
    return f


def cancel_or_correct(
    db_session: Session,
    op: Operator,
    message_id: int,
    kind: str,
    patch: FollowUpIn,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> OperatorMessage:
    """One call: stop unsent batches and, if anyone received it, send them the cancellation/correction."""
    now = _utc(now or datetime.now(UTC))
    refresh(db_session, now=now)
    m = get_message(db_session, op, message_id)
    accounts.ensure_scope(op, touched_codes(db_session, m.id))
    if m.kind == "cancellation":
        raise Conflict("a cancellation cannot itself be cancelled or corrected", field="id")
    if m.status not in OPEN:
        raise Conflict(f"message {m.id} is already {m.status}", field="id")
    if kind == "correction":
        if not patch.title:
            raise ValidationProblem("a correction needs the corrected title", field="title")
        if m.status != "sent":
            raise Conflict(
                f"message {m.id} is {m.status} and has reached nobody: cancel it and send a new one", field="id"
            )
    follow = _follow_up(db_session, op, m, kind, patch, settings=settings, now=now)
    accounts.audit(
        db_session,
        f"message.{'cancel' if kind == 'cancellation' else 'correct'}",
        operator=op,
        message_id=m.id,
        now=now,
        follow_up_id=follow.id if follow else None,
        received=follow.recipients if follow else 0,
        reason=patch.reason,
    )
    db_session.flush()
    return m
