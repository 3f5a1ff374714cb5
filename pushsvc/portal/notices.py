"""Operators' notices on the resident's portal: publishing (optionally pushed), withdrawing, what is in
force for an area, and residents acknowledging the important ones. Functions take ``db_session`` and
never commit.

Notices in force come from a per-process snapshot (``pushsvc.cache``) checked against a cheap version, so
a portal answer costs one version check and, with important notices, one ack lookup.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pushsvc.cache import Snapshot, detached
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.errors import Forbidden, NotFound, ValidationProblem
from pushsvc.operators import accounts
from pushsvc.operators import service as operator_messages
from pushsvc.operators.accounts import Operator
from pushsvc.portal import alerts
from pushsvc.portal.models import Notice, NoticeAck
from pushsvc.portal.schemas import NoticeIn, NoticeOut, text_in
from pushsvc.subscriptions.service import Subscription
from pushsvc.timeutil import as_utc as _utc

NOTICES_TTL_S = 60.0  # the version check sees every change; this only bounds what it could miss
_notices: Snapshot[tuple[Notice, ...]] = Snapshot(NOTICES_TTL_S)


def ensure_notice_scope(op: Operator, codes: Collection[str]) -> None:
    """403 unless the operator may reach every municipality; a prefecture-wide notice (no codes) is the
    prefecture's alone, because it reaches residents of municipalities the operator does not serve."""
    if not codes and not accounts.is_prefecture(op):
        raise Forbidden(
            f"operator {op.name!r} may not publish prefecture-wide notices; name municipalities",
            field="municipality_codes",
        )
    accounts.ensure_scope(op, codes, field="municipality_codes")


def publish_notice(
    db_session: Session, data: NoticeIn, *, operator: Operator, settings: Settings, now: datetime
) -> Notice:
    """Store a notice; with ``push`` it is also sent as a notification to the same municipalities.

    Validation (422) comes before scope (403), so an operator learns about a typo before a refusal.
    """
    if _utc(data.expires_at) <= _utc(now):
        raise ValidationProblem("expires_at is in the past", field="expires_at")
    codes = sorted(set(data.municipality_codes))
    known = alerts.areas(db_session)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationProblem(f"unknown municipality codes: {', '.join(unknown)}", field="municipality_codes")
    ensure_notice_scope(operator, codes)
    if data.push:  # the messages' approval rule: a pushed notice is a path to residents like any other
        reach = operator_messages.reach_needing_approval(
            db_session,
            operator,
            municipality_codes=codes or sorted(known),
            area=None,
            touched=codes or sorted(known),
            category=data.category,
            severity="info",
            test=False,
            settings=settings,
            now=_utc(now),
        )
        if reach.needs_approval:
            raise Forbidden(
                f"{reach.reason}; a notice cannot wait for approval, so send it as a message "
                "(POST /api/v1/messages) and publish it unpushed",
                field="push",
            )
    notice = Notice(
        title=dict(data.title),
        body=dict(data.body),
        important=data.important,
        municipality_codes=codes,
        published_by=operator.name[:64],
        created_at=_utc(now),
        expires_at=_utc(data.expires_at),
    )
    db_session.add(notice)
    db_session.flush()
    if data.push:
        ttl = max(0, min(28 * 86400, int((_utc(data.expires_at) - _utc(now)).total_seconds())))
        n = delivery.create_notification(
            db_session,
            delivery.NotificationDraft(
                source="notice",
                category=data.category,
                severity="info",
                title=dict(data.title),
                body=dict(data.body),
                municipality_codes=codes or sorted(known),
                ttl_seconds=ttl,
                extra={"notice_id": notice.id},
            ),
            settings=settings,
            now=now,
        )
        notice.notification_id = n.id
    db_session.flush()
    accounts.audit(
        db_session,
        "notice.publish",
        operator=operator,
        now=_utc(now),
        notice_id=notice.id,
        municipalities=codes,
        important=data.important,
        notification_id=notice.notification_id,
        category=data.category,
    )
    return notice


def withdraw_notice(db_session: Session, notice_id: int, *, operator: Operator, now: datetime) -> Notice:
    """Take a notice down; a pushed notice's notification leaves the public alert feeds with it."""
    notice = db_session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}", field="id")
    ensure_notice_scope(operator, notice.municipality_codes)
    if notice.withdrawn_at is None:
        notice.withdrawn_at = _utc(now)
        if notice.notification_id is not None:
            delivery.cancel_notification(db_session, notice.notification_id, now=now)
        accounts.audit(
            db_session,
            "notice.withdraw",
            operator=operator,
            now=_utc(now),
            notice_id=notice.id,
            municipalities=list(notice.municipality_codes),
            notification_id=notice.notification_id,
        )
    db_session.flush()
    return notice


def _notices_version(db_session: Session) -> tuple[Any, ...]:
    """Changes when a notice is published (newest id and time: SQLite may reuse an id) or withdrawn."""
    row = db_session.execute(_NOTICES_VERSION).first()
    return tuple(row) if row is not None else ()


_NOTICES_VERSION = (
    select(Notice.id, Notice.created_at, select(func.count(Notice.withdrawn_at)).scalar_subquery())
    .order_by(Notice.id.desc())
    .limit(1)
)  # built once: building costs more than running it


def active_notices(db_session: Session, *, codes: Collection[str] | None, now: datetime) -> list[Notice]:
    """Notices in force for any of ``codes`` (prefecture-wide ones always); None = every notice.

    From this process's snapshot (shared objects: read, never change them).
    """

    def load() -> tuple[Notice, ...]:
        rows = db_session.execute(
            select(Notice)
            .where(Notice.withdrawn_at.is_(None), Notice.expires_at > _utc(now))
            .order_by(Notice.important.desc(), Notice.created_at.desc(), Notice.id.desc())
        ).scalars()
        return tuple(detached(n) for n in rows)

    wanted = set(codes) if codes is not None else None
    return [
        n
        for n in _notices.get(db_session, _notices_version(db_session), load)
        if _utc(n.expires_at) > _utc(now)
        and (wanted is None or not n.municipality_codes or wanted & set(n.municipality_codes))
    ]


def acknowledge(db_session: Session, sub: Subscription, notice_id: int, *, now: datetime) -> None:
    """Record that the resident saw the notice (idempotent); it then leaves their portal."""
    codes = {p.municipality_code for p in sub.places}
    if not any(n.id == notice_id for n in active_notices(db_session, codes=codes, now=now)):
        raise NotFound(f"no notice {notice_id} in force for this subscription", field="id")
    exists = db_session.execute(
        select(NoticeAck.id).where(NoticeAck.notice_id == notice_id, NoticeAck.subscription_id == sub.id)
    ).first()
    if exists:
        return
    try:
        with db_session.begin_nested():
            db_session.add(NoticeAck(notice_id=notice_id, subscription_id=sub.id, acked_at=_utc(now)))
    except IntegrityError:  # the same resident acknowledged twice at once
        pass


def notice_out(n: Notice, lang: str, acknowledged: bool = False) -> NoticeOut:
    return NoticeOut(
        id=n.id,
        important=n.important,
        lang=lang if lang in n.title else "ja",
        title=text_in(n.title, lang),
        body=text_in(n.body or {}, lang),
        municipality_codes=list(n.municipality_codes),
        created_at=_utc(n.created_at),
        expires_at=_utc(n.expires_at),
        acknowledged=acknowledged,
    )


def resident_notices(db_session: Session, sub: Subscription, codes: set[str], now: datetime) -> list[NoticeOut]:
    """Important notices not yet acknowledged, then the other notices of the resident's areas."""
    found = active_notices(db_session, codes=codes, now=now)
    important = [n.id for n in found if n.important]
    acked = (
        set(
            db_session.execute(
                select(NoticeAck.notice_id).where(
                    NoticeAck.subscription_id == sub.id, NoticeAck.notice_id.in_(important)
                )
            ).scalars()
        )
        if important
        else set()
    )
    return [notice_out(n, sub.lang) for n in found if not (n.important and n.id in acked)]
