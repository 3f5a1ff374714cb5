"""Issuing, changing and lifting (解除) evacuation orders; finding and listing them.

Which order may change, and to what, is decided here; how each change goes out as an operator message
and when the order takes it is ``changes``. Functions take ``db_session`` and never commit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.errors import Conflict, Forbidden, NotFound, ValidationProblem
from pushsvc.evacuation.changes import refresh, submit_change
from pushsvc.evacuation.districts import municipality_name, order_area
from pushsvc.evacuation.models import EvacuationOrder
from pushsvc.evacuation.schemas import LiftIn, OrderChangeIn, OrderIn
from pushsvc.operators import accounts
from pushsvc.operators.accounts import Operator
from pushsvc.shelters import service as shelters
from pushsvc.shelters.schemas import Hazard, hazard_label
from pushsvc.timeutil import as_utc as _utc

IN_FORCE = ("pending", "in_force")  # pending: first issue awaiting approval (not yet public)
ATTRIBUTION = "避難情報：各市町村"


def _check_shelters(db_session: Session, op: Operator, site_ids: list[str], hazards: Collection[Hazard]) -> None:
    """Opened sites must exist, be the operator's to open, and be designated for every hazard of the order."""
    if not site_ids:
        return
    codes = shelters.municipality_of(db_session, site_ids, field="shelters")
    accounts.ensure_scope(op, set(codes.values()), field="shelters")
    wrong = shelters.unsuitable(db_session, site_ids, hazards)
    if wrong:
        raise ValidationProblem(
            f"{', '.join(wrong)} is not designated for "
            f"{'・'.join(hazard_label(h, 'ja') for h in hazards)}; open another site",
            field="shelters",
        )


def issue(
    db_session: Session,
    op: Operator,
    body: OrderIn,
    *,
    settings: Settings,
    now: datetime | None = None,
    source: str = "console",
    cap: tuple[str, str] | None = None,
) -> EvacuationOrder:
    """Issue 高齢者等避難 / 避難指示 / 緊急安全確保 for an area of one municipality."""
    now = _utc(now or datetime.now(UTC))
    refresh(db_session, now=now)
    name = municipality_name(db_session, body.municipality_code, settings.prefecture, "municipality_code")
    accounts.ensure_scope(op, [body.municipality_code], field="municipality_code")
    area = order_area(db_session, body.municipality_code, name, body.area, settings.prefecture)
    hazards = list(dict.fromkeys(body.hazards))
    _check_shelters(db_session, op, body.shelters, hazards)
    o = EvacuationOrder(
        municipality_code=body.municipality_code,
        status="pending",
        level=0,
        hazards=hazards,
        area_kind=area.kind,
        districts=area.districts,
        area=area.geom,
        area_label=area.label,
        reason=body.reason,
        note=body.note,
        shelter_ids=list(body.shelters),
        test=body.test,
        author_id=op.id,
        source=source,
        cap_sender=cap[1] if cap else None,
        cap_identifier=cap[0] if cap else None,
        history=[],
        created_at=now,
        updated_at=now,
    )
    db_session.add(o)
    db_session.flush()
    o.topic = f"evac{o.id}"
    fields = {
        "level": body.level,
        "hazards": hazards,
        "shelter_ids": list(body.shelters),
        "reason": body.reason,
        "note": body.note,
    }
    submit_change(db_session, op, o, "issue", fields, settings=settings, now=now, source=source, cap=cap)
    return o


def get_order(db_session: Session, op: Operator | None, order_id: int) -> EvacuationOrder:
    o = db_session.get(EvacuationOrder, order_id, populate_existing=True)
    if o is None:
        raise NotFound(f"no evacuation order {order_id}", field="id")
    if op is not None and not accounts.in_scope(op, [o.municipality_code]):
        raise Forbidden(f"order {order_id} is outside operator {op.name!r}'s municipalities", field="id")
    return o


def _changeable(db_session: Session, op: Operator, order_id: int, now: datetime) -> EvacuationOrder:
    """The order, if this operator may change it and it is in force with no change awaiting approval."""
    refresh(db_session, now=now)
    o = get_order(db_session, op, order_id)
    accounts.ensure_scope(op, [o.municipality_code], field="id")
    if o.status not in IN_FORCE:
        raise Conflict(f"order {o.id} is {o.status}; issue a new one", field="id")
    if o.pending_message_id is not None:
        raise Conflict(f"order {o.id} has a change awaiting approval (message {o.pending_message_id})", field="id")
    return o


def change(
    db_session: Session,
    op: Operator,
    order_id: int,
    body: OrderChangeIn,
    *,
    settings: Settings,
    now: datetime | None = None,
    source: str = "console",
    cap: tuple[str, str] | None = None,
) -> EvacuationOrder:
    """Raise or lower the level (or update hazards, shelters, reason): same Topic, new text."""
    now = _utc(now or datetime.now(UTC))
    o = _changeable(db_session, op, order_id, now)
    hazards = list(dict.fromkeys(body.hazards)) if body.hazards is not None else cast(list[Hazard], list(o.hazards))
    site_ids = list(body.shelters) if body.shelters is not None else list(o.shelter_ids)
    _check_shelters(db_session, op, site_ids, hazards)
    fields = {
        "level": body.level,
        "hazards": hazards,
        "shelter_ids": site_ids,
        "reason": body.reason if body.reason is not None else o.reason,
        "note": body.note if body.note is not None else o.note,
    }
    action = "raise" if body.level > o.level else "lower" if body.level < o.level else "update"
    submit_change(db_session, op, o, action, fields, settings=settings, now=now, source=source, cap=cap)
    return o


def lift(
    db_session: Session,
    op: Operator,
    order_id: int,
    body: LiftIn,
    *,
    settings: Settings,
    now: datetime | None = None,
    source: str = "console",
    cap: tuple[str, str] | None = None,
) -> EvacuationOrder:
    """解除: residents of the area are told, and the order leaves the portal and the feeds."""
    now = _utc(now or datetime.now(UTC))
    o = _changeable(db_session, op, order_id, now)
    if o.status == "pending":
        raise Conflict(
            f"order {o.id} is awaiting approval and reached nobody: cancel message {o.pending_message_id} instead",
            field="id",
        )
    fields = {
        "level": o.level,
        "hazards": list(o.hazards),
        "shelter_ids": list(o.shelter_ids),
        "reason": o.reason,
        "note": body.note,
    }
    submit_change(db_session, op, o, "lift", fields, settings=settings, now=now, source=source, cap=cap)
    return o


def list_orders(db_session: Session, op: Operator, *, include_lifted: bool = False) -> list[EvacuationOrder]:
    refresh(db_session)
    stmt = select(EvacuationOrder).order_by(EvacuationOrder.level.desc(), EvacuationOrder.id.desc()).limit(200)
    if not include_lifted:
        stmt = stmt.where(EvacuationOrder.status.in_(IN_FORCE))
    if not accounts.is_prefecture(op):
        stmt = stmt.where(EvacuationOrder.municipality_code.in_(op.municipalities))
    return list(db_session.execute(stmt).scalars())


def find_by_cap(db_session: Session, sender: str, identifiers: Collection[str]) -> EvacuationOrder | None:
    """The order an earlier CAP alert of this sender created or changed (Update/Cancel act on it)."""
    wanted = set(identifiers)
    if not wanted:
        return None
    for o in db_session.execute(
        select(EvacuationOrder).where(EvacuationOrder.cap_sender == sender).order_by(EvacuationOrder.id.desc())
    ).scalars():
        seen = {o.cap_identifier, *(h.get("cap") for h in o.history), (o.pending or {}).get("cap")}
        if wanted & seen:
            return o
    return None
