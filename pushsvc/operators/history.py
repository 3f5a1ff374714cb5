"""Message history as operators see it: their municipalities' messages with delivery counters and timing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from pushsvc.delivery import service as delivery
from pushsvc.errors import ValidationProblem
from pushsvc.operators import accounts
from pushsvc.operators.models import PREFECTURE, MessageMunicipality, Operator, OperatorMessage
from pushsvc.operators.schemas import DeliveryOut, MessageOut, TimingOut
from pushsvc.operators.service import touched_codes
from pushsvc.timeutil import JST
from pushsvc.types import scrub, scrub_json, scrub_texts

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(9999, 12, 30)
STATUSES = ("awaiting_approval", "scheduled", "sent", "cancelled", "corrected", "expired")


def list_messages(
    db_session: Session,
    op: Operator,
    *,
    day: date | None = None,
    municipality: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[OperatorMessage]:
    """Newest first. ``day`` is a calendar day in Japan; municipal operators see their municipalities only."""
    stmt = select(OperatorMessage).order_by(OperatorMessage.id.desc()).limit(limit)
    if status is not None:
        if status not in STATUSES:
            raise ValidationProblem(f"status must be one of {', '.join(STATUSES)}", field="status")
        stmt = stmt.where(OperatorMessage.status == status)
    if day is not None:
        if not FIRST_DAY <= day <= LAST_DAY:  # the JST day's bounds in UTC must exist
            raise ValidationProblem(f"date must be between {FIRST_DAY} and {LAST_DAY}", field="date")
        # In UTC: SQLite keeps the wall-clock digits of an aware value, so a JST bound would be off by 9 h there.
        start = datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)
        stmt = stmt.where(OperatorMessage.created_at >= start, OperatorMessage.created_at < start + timedelta(days=1))
    codes = list(op.municipalities) if op.role != PREFECTURE else None
    if municipality is not None:
        accounts.ensure_scope(op, [municipality], field="municipality")
        codes = [municipality]
    if codes is not None:
        stmt = stmt.where(
            exists().where(
                MessageMunicipality.message_id == OperatorMessage.id, MessageMunicipality.municipality_code.in_(codes)
            )
        )
    return list(db_session.execute(stmt).scalars())


def _name(db_session: Session, operator_id: int | None) -> str | None:
    if operator_id is None:
        return None
    op = db_session.get(Operator, operator_id)
    return op.name if op else None


def to_out(db_session: Session, m: OperatorMessage) -> MessageOut:
    n = delivery.get_notification(db_session, m.notification_id) if m.notification_id else None
    follow_ups = list(
        db_session.execute(
            select(OperatorMessage.id).where(OperatorMessage.reference_id == m.id).order_by(OperatorMessage.id)
        ).scalars()
    )
    return MessageOut(
        id=m.id,
        kind=m.kind,
        status=m.status,
        note=scrub(m.note),
        author=_name(db_session, m.author_id) or "",
        approver=_name(db_session, m.approver_id),
        reference_id=m.reference_id,
        category=m.category,
        severity=m.severity,
        title=scrub_texts(m.title),
        body=scrub_texts(m.body),
        target=scrub_json(m.target),
        municipalities=touched_codes(db_session, m.id),
        prefecture_wide=m.prefecture_wide,
        test=m.test,
        recipients=m.recipients,
        source=m.source,
        approval_deadline=m.approval_deadline,
        follow_ups=follow_ups,
        delivery=DeliveryOut.model_validate(n) if n else None,
        timing=TimingOut(
            accepted=m.created_at,
            approved=m.approved_at,
            scheduled=m.scheduled_at,
            first_sent=n.first_sent_at if n else None,
            half_sent=n.half_sent_at if n else None,
            last_sent=n.last_sent_at if n else None,
            finished=n.finished_at if n else None,
        ),
    )
