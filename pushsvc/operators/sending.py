"""Composing a message (texts, drill marks), previewing its reach, accepting it and handing it to delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.errors import ValidationProblem
from pushsvc.operators import accounts
from pushsvc.operators.models import MessageMunicipality, Operator, OperatorMessage
from pushsvc.operators.reach import Reach, reach_needing_approval, scope_of
from pushsvc.operators.schemas import MessageIn, PreviewOut, Translation
from pushsvc.operators.targets import ResolvedTarget, resolve_target
from pushsvc.subscriptions import service as subscriptions
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import LANGUAGES

TEST_MARK = {"ja": "【訓練】", i18n.EASY_JAPANESE: "【訓練】"}
TEST_MARK_OTHER = "[TEST] "
MAX_SCHEDULE_AHEAD = timedelta(days=7)


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


def dispatch(
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
        dispatch(db_session, m, settings=settings, now=now)
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
