"""Training devices (訓練用端末): phones that receive operators' test messages (【訓練】).

Only an operator can make a phone one, by issuing a one-time enrolment code (a link and a QR code) that
the phone's resident page redeems with its own subscription token. The public subscription API has no
way to set the flag, so nobody can make themselves a recipient of training messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pushsvc.errors import NotFound, ProblemError
from pushsvc.subscriptions.models import Subscription, TrainingEnrolment
from pushsvc.subscriptions.service import hash_token, new_token

ENROLMENT_TTL = timedelta(hours=24)


class EnrolmentUnusable(ProblemError):
    status = 410
    title = "Enrolment link no longer valid"
    slug = "enrolment-unusable"


@dataclass(frozen=True)
class Issued:
    id: int
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class TrainingDevice:
    subscription_id: int
    label: str
    lang: str
    enrolled_at: datetime | None
    enrolled_by: str | None


def issue(db_session: Session, *, issued_by: str, label: str, now: datetime) -> Issued:
    """A new one-time code; only its hash is stored."""
    code = new_token()
    row = TrainingEnrolment(
        code_hash=hash_token(code), label=label, issued_by=issued_by, created_at=now, expires_at=now + ENROLMENT_TTL
    )
    db_session.add(row)
    db_session.flush()
    return Issued(row.id, code, row.expires_at)


def redeem(db_session: Session, sub: Subscription, code: str, *, now: datetime) -> TrainingEnrolment:
    """Make ``sub`` a training device with ``code``; a code works once, before it expires."""
    row = db_session.execute(
        select(TrainingEnrolment).where(TrainingEnrolment.code_hash == hash_token(code.strip())).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such enrolment code", field="code")
    if row.used_at is not None:
        raise EnrolmentUnusable("this enrolment link was already used; ask the operator for a new one", field="code")
    if row.expires_at.astimezone(UTC) <= now:
        raise EnrolmentUnusable("this enrolment link has expired; ask the operator for a new one", field="code")
    row.used_at, row.subscription_id = now, sub.id
    sub.test_device = True
    db_session.flush()
    return row


def list_devices(db_session: Session) -> list[TrainingDevice]:
    rows = db_session.execute(
        select(
            Subscription.id,
            Subscription.lang,
            TrainingEnrolment.label,
            TrainingEnrolment.used_at,
            TrainingEnrolment.issued_by,
        )
        .outerjoin(TrainingEnrolment, TrainingEnrolment.subscription_id == Subscription.id)
        .where(Subscription.test_device.is_(True))
        .order_by(Subscription.id)
    ).all()
    return [TrainingDevice(r[0], r[2] or "", r[1], r[3], r[4]) for r in rows]


def remove(db_session: Session, subscription_id: int) -> None:
    """The phone stops receiving training messages (it stays subscribed as a resident)."""
    done = db_session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.test_device.is_(True))
        .values(test_device=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"subscription {subscription_id} is not a training device", field="id")
