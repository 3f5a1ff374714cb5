"""Who one operator reaches within the approval window, and when that needs a second operator's approval.

Shared by every path that reaches residents (messages, CAP, pushed notices), through ``service``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.geo import service as geo_service
from pushsvc.operators import accounts
from pushsvc.operators.models import PREFECTURE, MessageMunicipality, Operator, OperatorMessage
from pushsvc.subscriptions import service as subscriptions


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


def touched_codes(db_session: Session, message_id: int) -> list[str]:
    return list(
        db_session.execute(
            select(MessageMunicipality.municipality_code)
            .where(MessageMunicipality.message_id == message_id)
            .order_by(MessageMunicipality.municipality_code)
        ).scalars()
    )
