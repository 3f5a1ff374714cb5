"""Operator messages: preview, send (or hold for approval / a schedule), approve, cancel, correct.

Services take ``db_session`` and never commit: the request boundary commits the message row, its
audit entry and delivery's batches together, so a message is either fully accepted or not at all.

Status of a message (``OperatorMessage.status``):
``awaiting_approval`` → ``expired`` (nobody approved in time; nothing was sent) or ``scheduled``/``sent``;
``scheduled`` → ``sent`` when its time comes; ``sent`` is handed to delivery (see ``delivery.status``);
any of these → ``cancelled`` or ``corrected``. Expiry is applied whenever messages are read or
acted on (``refresh``), so what the author sees is always current.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.errors import Conflict, Forbidden, NotFound, ValidationProblem
from pushsvc.operators import accounts
from pushsvc.operators.models import PREFECTURE, MessageMunicipality, Operator, OperatorMessage
from pushsvc.operators.schemas import FollowUpIn, MessageIn, PreviewOut
from pushsvc.operators.targets import ResolvedTarget, resolve_target
from pushsvc.subscriptions import service as subscriptions
from pushsvc.subscriptions.schemas import LANGUAGES

TEST_MARK = {"ja": "【訓練】", i18n.EASY_JAPANESE: "【訓練】"}
TEST_MARK_OTHER = "[TEST] "
MAX_SCHEDULE_AHEAD = timedelta(days=7)
OPEN = ("awaiting_approval", "scheduled", "sent")
FOLLOW_UP_MARK = {"cancellation": ("【取消】", "[Cancelled] "), "correction": ("【訂正】", "[Correction] ")}
CANCEL_BODY = i18n.texts("message.cancelled")


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _mark(lang: str, text: str) -> str:
    mark = TEST_MARK.get(lang, TEST_MARK_OTHER)
    return text if mark.strip() in text else mark + text


def texts(title: str, body: str, lang: dict[str, dict[str, str]], *, test: bool,
          prefix: tuple[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Titles and bodies by language; drills are marked 【訓練】/[TEST] in every language, always."""
    titles, bodies = {"ja": title}, {"ja": body}
    for code, t in lang.items():
        if (code not in LANGUAGES and code != i18n.EASY_JAPANESE) or code == "ja":
            raise ValidationProblem(f"translations are for {', '.join((*LANGUAGES[1:], i18n.EASY_JAPANESE))}",
                                    field=f"lang.{code}")
        if set(t) - {"title", "body"} or not (t.get("title") or "").strip():
            raise ValidationProblem("a translation is {'title', 'body'} with a title", field=f"lang.{code}")
        titles[code], bodies[code] = t["title"][:200], t.get("body", "")[:2000]
    if prefix:
        titles = {k: (prefix[0] if k == "ja" else prefix[1]) + v for k, v in titles.items()}
    if test:
        titles = {k: _mark(k, v) for k, v in titles.items()}
        bodies = {k: _mark(k, v) for k, v in bodies.items()}
    return titles, bodies


def _resolve(db_session: Session, op: Operator, body: MessageIn, settings: Settings) -> ResolvedTarget:
    target = resolve_target(db_session, body.target, prefecture=settings.prefecture)
    accounts.ensure_scope(op, target.touched)
    return target


def _needs_approval(severity: str, target: ResolvedTarget, test: bool) -> bool:
    """Drills reach only test devices, so they never wait for a second operator."""
    return not test and (severity == "emergency" or target.prefecture_wide)


def preview(db_session: Session, op: Operator, body: MessageIn, *, settings: Settings,
            now: datetime | None = None) -> PreviewOut:
    """Who a message would reach, counted per person, before anything is sent."""
    now = _utc(now or datetime.now(UTC))
    target = _resolve(db_session, op, body, settings)
    when = max(now, _utc(body.scheduled_at)) if body.scheduled_at else now
    kwargs: dict[str, Any] = {"municipality_codes": target.codes, "area": target.area,
                              "category": body.category, "test_only": body.test, "now": when}
    counts = subscriptions.count_recipients_by(db_session, **kwargs)
    dead = delivery.known_dead(db_session, subscriptions.find_recipients(db_session, **kwargs), now=now)
    if target.prefecture_wide:
        accounts.audit(db_session, "message.preview", operator=op, now=now, municipalities=len(target.touched),
                       recipients=counts["total"], prefecture_wide=True)
    return PreviewOut(recipients=counts["total"], by_municipality=counts["by_municipality"],
                      by_lang=counts["by_lang"], known_dead=len(dead), prefecture_wide=target.prefecture_wide,
                      needs_approval=_needs_approval(body.severity, target, body.test),
                      municipalities=target.touched)


def _dispatch(db_session: Session, m: OperatorMessage, *, settings: Settings, now: datetime,
              recipient_ids: list[int] | None = None, topic: str | None = None,
              reference_id: int | None = None) -> None:
    """Hand the message to delivery. A scheduled one becomes batches that are not due before its time."""
    when = max(now, _utc(m.scheduled_at)) if m.scheduled_at else now
    n = delivery.create_notification(db_session, delivery.NotificationDraft(
        source="operator" if m.source == "api" else m.source, category=m.category, severity=m.severity,
        title=m.title, body=m.body, municipality_codes=m.target_codes if recipient_ids is None else (),
        area=m.area if recipient_ids is None else None, ttl_seconds=m.ttl_seconds, topic=topic, test=m.test,
        recipient_ids=recipient_ids, reference_id=reference_id, extra={"operator_message_id": m.id, "kind": m.kind},
    ), settings=settings, now=when)
    m.notification_id, m.recipients = n.id, n.targeted
    m.status = "scheduled" if when > now else "sent"


def submit(db_session: Session, op: Operator, body: MessageIn, *, settings: Settings, now: datetime | None = None,
           source: str = "api", cap: tuple[str, str] | None = None) -> OperatorMessage:
    """Accept a message: sent now, scheduled, or held for a second operator's approval."""
    now = _utc(now or datetime.now(UTC))
    target = _resolve(db_session, op, body, settings)
    if body.scheduled_at is not None:
        if body.scheduled_at.tzinfo is None:
            raise ValidationProblem("scheduled_at needs a UTC offset (e.g. +09:00)", field="scheduled_at")
        if not now - timedelta(minutes=1) <= _utc(body.scheduled_at) <= now + MAX_SCHEDULE_AHEAD:
            raise ValidationProblem("scheduled_at must be between now and 7 days ahead", field="scheduled_at")
    titles, bodies = texts(body.title, body.body, body.lang, test=body.test)
    m = OperatorMessage(
        kind="message", status="awaiting_approval", author_id=op.id, category=body.category,
        severity=body.severity, title=titles, body=bodies, target=body.target.model_dump(exclude_none=True),
        area=target.area, target_codes=target.codes, prefecture_wide=target.prefecture_wide, test=body.test,
        ttl_seconds=body.ttl_seconds, source=source, cap_identifier=cap[0] if cap else None,
        cap_sender=cap[1] if cap else None, note="", created_at=now,
        scheduled_at=_utc(body.scheduled_at) if body.scheduled_at else None,
    )
    db_session.add(m)
    db_session.flush()
    if target.touched:
        db_session.execute(insert(MessageMunicipality),
                           [{"message_id": m.id, "municipality_code": c} for c in target.touched])
    if _needs_approval(body.severity, target, body.test):
        m.approval_deadline = now + timedelta(seconds=settings.operator_approval_timeout_s)
        m.recipients = len(subscriptions.find_recipients(
            db_session, municipality_codes=target.codes, area=target.area, category=body.category, now=now))
        m.note = "waiting for a second operator's approval"
    else:
        _dispatch(db_session, m, settings=settings, now=now)
    accounts.audit(db_session, "message.send", operator=op, message_id=m.id, now=now, status=m.status,
                   severity=m.severity, test=m.test, recipients=m.recipients, municipalities=target.touched,
                   source=source)
    db_session.flush()
    return m


def refresh(db_session: Session, *, now: datetime | None = None) -> None:
    """Expire messages nobody approved in time, and mark scheduled ones whose time has come as sent."""
    now = _utc(now or datetime.now(UTC))
    overdue = db_session.execute(
        select(OperatorMessage.id, OperatorMessage.author_id, OperatorMessage.approval_deadline)
        .where(OperatorMessage.status == "awaiting_approval", OperatorMessage.approval_deadline < now)
    ).all()
    for mid, author_id, deadline in overdue:
        done = db_session.execute(
            update(OperatorMessage).where(OperatorMessage.id == mid, OperatorMessage.status == "awaiting_approval")
            .values(status="expired", closed_at=now,
                    note=f"not approved by {_utc(deadline).isoformat() if deadline else 'the deadline'}; "
                         "nothing was sent")
            .execution_options(synchronize_session="fetch"))
        if done.rowcount:  # type: ignore[attr-defined]
            accounts.audit(db_session, "message.expired", message_id=mid, now=now, author_id=author_id)
    db_session.execute(
        update(OperatorMessage).where(OperatorMessage.status == "scheduled", OperatorMessage.scheduled_at <= now)
        .values(status="sent").execution_options(synchronize_session="fetch"))
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


def touched_codes(db_session: Session, message_id: int) -> list[str]:
    return list(db_session.execute(
        select(MessageMunicipality.municipality_code).where(MessageMunicipality.message_id == message_id)
        .order_by(MessageMunicipality.municipality_code)).scalars())


def approve(db_session: Session, op: Operator, message_id: int, *, settings: Settings,
            now: datetime | None = None) -> OperatorMessage:
    now = _utc(now or datetime.now(UTC))
    refresh(db_session, now=now)
    m = get_message(db_session, op, message_id)
    if m.author_id == op.id:
        raise Forbidden("a message cannot be approved by its own author", field="id")
    if m.status != "awaiting_approval":
        raise Conflict(f"message {m.id} is {m.status}, not awaiting approval" + (f": {m.note}" if m.note else ""),
                       field="id")
    accounts.ensure_scope(op, touched_codes(db_session, m.id))
    m.approver_id, m.approved_at, m.note = op.id, now, ""
    _dispatch(db_session, m, settings=settings, now=now)
    accounts.audit(db_session, "message.approve", operator=op, message_id=m.id, now=now, recipients=m.recipients)
    db_session.flush()
    return m


def _follow_up(db_session: Session, op: Operator, m: OperatorMessage, kind: str, patch: FollowUpIn, *,
               settings: Settings, now: datetime) -> OperatorMessage | None:
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
    if kind == "correction":
        assert patch.title is not None
        titles, bodies = texts(patch.title, patch.body or "", patch.lang, test=m.test,
                               prefix=FOLLOW_UP_MARK[kind])
    else:
        lang = {k: {"title": v, "body": (patch.lang.get(k) or {}).get("body") or CANCEL_BODY.get(k, CANCEL_BODY["en"])}
                for k, v in m.title.items() if k != "ja"}
        titles, bodies = texts(m.title["ja"], patch.body or CANCEL_BODY["ja"], lang, test=m.test,
                               prefix=FOLLOW_UP_MARK[kind])
    f = OperatorMessage(
        kind=kind, status="sent", author_id=op.id, reference_id=m.id, category=m.category, severity=m.severity,
        title=titles, body=bodies, target={"recipients_of": m.id}, area=None, target_codes=m.target_codes,
        prefecture_wide=False, test=m.test, ttl_seconds=m.ttl_seconds, source=m.source, note=patch.reason,
        created_at=now,
    )
    db_session.add(f)
    db_session.flush()
    codes = touched_codes(db_session, m.id)
    if codes:
        db_session.execute(insert(MessageMunicipality), [{"message_id": f.id, "municipality_code": c} for c in codes])
    _dispatch(db_session, f, settings=settings, now=now, recipient_ids=received, topic=topic,
              reference_id=m.notification_id)
    return f


def cancel_or_correct(db_session: Session, op: Operator, message_id: int, kind: str, patch: FollowUpIn, *,
                      settings: Settings, now: datetime | None = None) -> OperatorMessage:
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
            raise Conflict(f"message {m.id} is {m.status} and has reached nobody: cancel it and send a new one",
                           field="id")
    follow = _follow_up(db_session, op, m, kind, patch, settings=settings, now=now)
    accounts.audit(db_session, f"message.{'cancel' if kind == 'cancellation' else 'correct'}", operator=op,
                   message_id=m.id, now=now, follow_up_id=follow.id if follow else None,
                   received=follow.recipients if follow else 0, reason=patch.reason)
    db_session.flush()
    return m
