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

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.errors import Conflict, Forbidden, NotFound, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.operators import accounts
from pushsvc.operators.models import PREFECTURE, MessageMunicipality, Operator, OperatorMessage
from pushsvc.operators.schemas import FollowUpIn, MessageIn, PreviewOut, Translation
from pushsvc.operators.targets import ResolvedTarget, resolve_target
from pushsvc.subscriptions import service as subscriptions
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import LANGUAGES, scrub_texts

TEST_MARK = {"ja": "【訓練】", i18n.EASY_JAPANESE: "【訓練】"}
TEST_MARK_OTHER = "[TEST] "
MAX_SCHEDULE_AHEAD = timedelta(days=7)
OPEN = ("awaiting_approval", "scheduled", "sent")
FOLLOW_UP_MARK = {"cancellation": ("【取消】", "[Cancelled] "), "correction": ("【訂正】", "[Correction] ")}
CANCEL_BODY = i18n.texts("message.cancelled")


def _mark(lang: str, text: str) -> str:
    mark = TEST_MARK.get(lang, TEST_MARK_OTHER)
    return text if mark.strip() in text else mark + text


def texts(
    title: str, body: str, lang: dict[str, Translation], *, test: bool, prefix: tuple[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Titles and bodies by language; drills are marked 【訓練】/[TEST] in every language, always."""
    titles, bodies = {"ja": title}, {"ja": body}
    for code, t in lang.items():
        if (code not in LANGUAGES and code != i18n.EASY_JAPANESE) or code == "ja":
            raise ValidationProblem(
                f"translations are for {', '.join((*LANGUAGES[1:], i18n.EASY_JAPANESE))}", field=f"lang.{code}"
            )
        if not t.title.strip():
            raise ValidationProblem("a translation is {'title', 'body'} with a title", field=f"lang.{code}.title")
        titles[code], bodies[code] = t.title[:200], t.body[:2000]
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


def scope_of(op: Operator) -> list[str] | None:
    """The municipalities whose residents an operator's messages may reach (None: the whole prefecture)."""
    return None if op.role == PREFECTURE else list(op.municipalities)


@dataclass(frozen=True)
class Reach:
    """What one operator reaches in the approval window, this message included, and whether that needs approval."""

    residents: int
    municipalities: int
    total_residents: int
    total_municipalities: int
    needs_approval: bool
    reason: str


def _recent_reach(db_session: Session, op: Operator, *, since: datetime, now: datetime) -> tuple[set[int], set[str]]:
    """Residents and municipalities the operator reached alone (no second operator) since ``since``:
    their sent or scheduled messages, and their notices pushed (from the audit log, which every path writes)."""
    ids: set[int] = set()
    codes: set[str] = set()
    within = scope_of(op)
    rows = db_session.execute(
        select(OperatorMessage).where(
            OperatorMessage.author_id == op.id,
            OperatorMessage.kind == "message",
            OperatorMessage.test.is_(False),
            OperatorMessage.approver_id.is_(None),
            OperatorMessage.created_at >= since,
            OperatorMessage.status.in_(("scheduled", "sent", "cancelled", "corrected")),
        )
    ).scalars()
    for m in rows:
        codes.update(touched_codes(db_session, m.id))
        ids.update(
            subscriptions.find_recipients(
                db_session, municipality_codes=m.target_codes, area=m.area, category=m.category, now=now, within=within
            )
        )
    for entry in accounts.list_audit(db_session, action="notice.publish", operator_id=op.id, since=since, limit=1000):
        if entry.detail.get("notification_id") is None:
            continue
        notice_codes = list(entry.detail.get("municipalities") or [])
        codes.update(notice_codes or _all_codes(db_session))
        ids.update(
            subscriptions.find_recipients(
                db_session,
                municipality_codes=notice_codes or _all_codes(db_session),
                category=str(entry.detail.get("category") or "area_info"),
                now=now,
            )
        )
    return ids, codes


def _all_codes(db_session: Session) -> list[str]:
    return [p.code for p in geo_service.list_places(db_session)]


def reach_needing_approval(
    db_session: Session,
    op: Operator,
    *,
    municipality_codes: Collection[str],
    area: BaseGeometry | None,
    touched: Collection[str],
    category: str,
    severity: str,
    test: bool,
    settings: Settings,
    now: datetime,
) -> Reach:
    """The approval rule, for every path that reaches residents (messages, CAP, pushed notices).

    A second operator must approve an emergency, and anything that would make one operator's reach
    within ``operator_approval_window_s`` (their unapproved messages and pushed notices, this one
    included) more than ``operator_approval_share`` of the prefecture's municipalities, or of its
    residents once it has at least ``operator_approval_min_residents``. Counting the window, not the
    message, means a prefecture-wide message split into parts needs approval all the same. Drills
    reach only test devices and never wait.
    """
    since = now - timedelta(seconds=settings.operator_approval_window_s)
    ids, codes = _recent_reach(db_session, op, since=since, now=now)
    within = scope_of(op)
    codes.update(touched if within is None else set(touched) & set(within))
    ids.update(
        subscriptions.find_recipients(
            db_session, municipality_codes=municipality_codes, area=area, category=category, now=now, within=within
        )
    )
    total_m = geo_service.count_municipalities(db_session, settings.prefecture)
    total_r = subscriptions.count_residents(db_session, prefecture=settings.prefecture, now=now)
    share = settings.operator_approval_share
    window = f"{settings.operator_approval_window_s // 60} minutes"
    reason = ""
    if severity == "emergency":
        reason = "an emergency needs a second operator's approval"
    elif total_m and len(codes) > math.floor(total_m * share):
        reason = (
            f"with this, {op.name} reaches {len(codes)} of {total_m} municipalities within {window}: "
            "a second operator must approve"
        )
    elif total_r >= settings.operator_approval_min_residents and len(ids) > math.floor(total_r * share):
        reason = (
            f"with this, {op.name} reaches {len(ids)} of {total_r} residents within {window}: "
            "a second operator must approve"
        )
    return Reach(len(ids), len(codes), total_r, total_m, bool(reason) and not test, "" if test else reason)


def _reach(
    db_session: Session, op: Operator, body: MessageIn, target: ResolvedTarget, settings: Settings, now: datetime
) -> Reach:
    return reach_needing_approval(
        db_session,
        op,
        municipality_codes=target.codes,
        area=target.area,
        touched=target.touched,
        category=body.category,
        severity=body.severity,
        test=body.test,
        settings=settings,
        now=now,
    )


def preview(
    db_session: Session, op: Operator, body: MessageIn, *, settings: Settings, now: datetime | None = None
) -> PreviewOut:
    """Who a message would reach, counted per person, before anything is sent."""
    now = _utc(now or datetime.now(UTC))
    target = _resolve(db_session, op, body, settings)
    when = max(now, _utc(body.scheduled_at)) if body.scheduled_at else now
    kwargs: dict[str, Any] = {
        "municipality_codes": target.codes,
        "area": target.area,
        "category": body.category,
        "test_only": body.test,
        "now": when,
        "within": scope_of(op),
    }
    counts = subscriptions.count_recipients_by(db_session, **kwargs)
    dead = delivery.known_dead(db_session, subscriptions.find_recipients(db_session, **kwargs), now=now)
    if target.prefecture_wide:
        accounts.audit(
            db_session,
            "message.preview",
            operator=op,
            now=now,
            municipalities=len(target.touched),
            recipients=counts["total"],
            prefecture_wide=True,
        )
    reach = _reach(db_session, op, body, target, settings, now)
    return PreviewOut(
        recipients=counts["total"],
        by_municipality=counts["by_municipality"],
        by_lang=counts["by_lang"],
        known_dead=len(dead),
        prefecture_wide=target.prefecture_wide,
        needs_approval=reach.needs_approval,
        approval_reason=reach.reason or None,
        municipalities=target.touched,
        reach_limited_to=scope_of(op),
        window_residents=reach.residents,
        window_municipalities=reach.municipalities,
    )


def _dispatch(
    db_session: Session,
    m: OperatorMessage,
    *,
    settings: Settings,
    now: datetime,
    recipient_ids: list[int] | None = None,
    topic: str | None = None,
    reference_id: int | None = None,
) -> None:
    """Hand the message to delivery. A scheduled one becomes batches that are not due before its time."""
    when = max(now, _utc(m.scheduled_at)) if m.scheduled_at else now
    author = db_session.get(Operator, m.author_id)
    within = scope_of(author) if author is not None else []
    if recipient_ids is None and within is not None:
        # A municipal author reaches only residents whose place resolved to their municipalities,
        # whatever the area drawn: an offshore square must not reach a neighbouring town's coast.
        recipient_ids = subscriptions.find_recipients(
            db_session,
            municipality_codes=m.target_codes,
            area=m.area,
            category=m.category,
            test_only=m.test,
            now=when,
            within=within,
        )
        targeted = True
    else:
        targeted = recipient_ids is None
    n = delivery.create_notification(
        db_session,
        delivery.NotificationDraft(
            source="operator" if m.source == "api" else m.source,
            category=m.category,
            severity=m.severity,
            title=m.title,
            body=m.body,
            municipality_codes=m.target_codes if targeted else (),
            area=m.area if targeted else None,
            ttl_seconds=m.ttl_seconds,
            topic=topic or m.topic,
            test=m.test,
            recipient_ids=recipient_ids,
            reference_id=reference_id,
            extra={**(m.extra or {}), "operator_message_id": m.id, "kind": m.kind},
        ),
        settings=settings,
        now=when,
    )
    m.notification_id, m.recipients = n.id, n.targeted
    m.status = "scheduled" if when > now else "sent"


def submit(
    db_session: Session,
    op: Operator,
    body: MessageIn,
    *,
    settings: Settings,
    now: datetime | None = None,
    source: str = "api",
    cap: tuple[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    topic: str | None = None,
    waive_approval: str | None = None,
) -> OperatorMessage:
    """Accept a message: sent now, scheduled, or held for a second operator's approval.

    ``extra``/``topic`` go to the notification (a domain threading its updates on one Topic);
    ``waive_approval`` is the configured reason one operator may send what would need a second one
    (the audit entry says so)."""
    now = _utc(now or datetime.now(UTC))
    target = _resolve(db_session, op, body, settings)
    if body.scheduled_at is not None:
        if body.scheduled_at.tzinfo is None:
            raise ValidationProblem("scheduled_at needs a UTC offset (e.g. +09:00)", field="scheduled_at")
        if not now - timedelta(minutes=1) <= _utc(body.scheduled_at) <= now + MAX_SCHEDULE_AHEAD:
            raise ValidationProblem("scheduled_at must be between now and 7 days ahead", field="scheduled_at")
    titles, bodies = texts(body.title, body.body, body.lang, test=body.test)
    m = OperatorMessage(
        kind="message",
        status="awaiting_approval",
        author_id=op.id,
        category=body.category,
        severity=body.severity,
        title=titles,
        body=bodies,
        target=body.target.model_dump(exclude_none=True),
        area=target.area,
        target_codes=target.codes,
        prefecture_wide=target.prefecture_wide,
        test=body.test,
        ttl_seconds=body.ttl_seconds,
        source=source,
        cap_identifier=cap[0] if cap else None,
        cap_sender=cap[1] if cap else None,
        note="",
        created_at=now,
        scheduled_at=_utc(body.scheduled_at) if body.scheduled_at else None,
        extra=extra,
        topic=topic,
    )
    db_session.add(m)
    db_session.flush()
    if target.touched:
        db_session.execute(
            insert(MessageMunicipality), [{"message_id": m.id, "municipality_code": c} for c in target.touched]
        )
    reach = _reach(db_session, op, body, target, settings, now)
    waived = waive_approval if reach.needs_approval else None
    if reach.needs_approval and not waived:
        m.approval_deadline = now + timedelta(seconds=settings.operator_approval_timeout_s)
        m.recipients = len(
            subscriptions.find_recipients(
                db_session,
                municipality_codes=target.codes,
                area=target.area,
                category=body.category,
                now=now,
                within=scope_of(op),
            )
        )
        m.note = f"waiting for a second operator's approval: {reach.reason}"
    else:
        _dispatch(db_session, m, settings=settings, now=now)
        if waived:
            m.note = f"sent without a second operator: {waived}"
    accounts.audit(
        db_session,
        "message.send",
        operator=op,
        message_id=m.id,
        now=now,
        status=m.status,
        severity=m.severity,
        test=m.test,
        recipients=m.recipients,
        municipalities=target.touched,
        source=source,
        **({"approval_waived": waived} if waived else {}),
    )
    db_session.flush()
    return m


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


def touched_codes(db_session: Session, message_id: int) -> list[str]:
    return list(
        db_session.execute(
            select(MessageMunicipality.municipality_code)
            .where(MessageMunicipality.message_id == message_id)
            .order_by(MessageMunicipality.municipality_code)
        ).scalars()
    )


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
    _dispatch(db_session, m, settings=settings, now=now)
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
    _dispatch(
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
