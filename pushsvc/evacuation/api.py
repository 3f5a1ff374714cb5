"""避難情報 over HTTP: open data (no login) and the operators' routes; thin over ``evacuation.service``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.errors import ValidationProblem
from pushsvc.evacuation import cap, service
from pushsvc.evacuation.schemas import (
    DistrictIn,
    DistrictOut,
    EvacuationList,
    LiftIn,
    OrderChangeIn,
    OrderIn,
    OrderOut,
)
from pushsvc.httpcache import PUBLIC, cached_model
from pushsvc.operators import accounts
from pushsvc.operators.api import CAP_MEDIA, cap_body
from pushsvc.operators.auth import CurrentOperator
from pushsvc.operators.schemas import AuditOut
from pushsvc.types import Lang, MunicipalityQuery

router = APIRouter(prefix="/api/v1/evacuation", tags=["evacuation"])
OrderId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _public(db_session: SessionDep, settings: SettingsDep, municipality: str | None, lang: str) -> EvacuationList:
    orders = service.in_force(db_session, municipality=municipality)
    names = service.names_of(db_session, {o.municipality_code for o in orders})
    return EvacuationList(
        orders=[service.public_out(db_session, o, lang, names, settings=settings) for o in orders],
        attribution=[service.ATTRIBUTION] if orders else [],
    )


@router.get("", response_model=EvacuationList)
def in_force(
    request: Request,
    db_session: SessionDep,
    settings: SettingsDep,
    municipality: MunicipalityQuery = None,
    lang: Lang = "ja",
) -> Response:
    """避難情報 in force (open data, no login): highest level first; lifted orders are not listed.

    Each order links its entry in the public alert feeds (``/api/v1/alerts.atom?category=evacuation``)
    and that entry's CAP 1.2, which carries the level as the ``EvacuationLevel`` parameter."""
    return cached_model(request, _public(db_session, settings, municipality, lang), PUBLIC)


@router.get("/orders", response_model=list[OrderOut])
def list_orders(op: CurrentOperator, db_session: SessionDep, include_lifted: bool = False) -> list[OrderOut]:
    orders = service.list_orders(db_session, op, include_lifted=include_lifted)
    return [service.order_out(db_session, o) for o in orders]


@router.post("/orders", status_code=201, response_model=OrderOut)
def issue(body: OrderIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> OrderOut:
    """Issue 高齢者等避難 (3), 避難指示 (4) or 緊急安全確保 (5); Lv4+ waits for a second operator unless the
    municipality's rule lets one person issue it now."""
    return service.order_out(db_session, service.issue(db_session, op, body, settings=settings))


@router.get("/orders/{order_id}", response_model=OrderOut)
def read(order_id: OrderId, op: CurrentOperator, db_session: SessionDep) -> OrderOut:
    service.refresh(db_session)
    return service.order_out(db_session, service.get_order(db_session, op, order_id))


@router.post("/orders/{order_id}/change", response_model=OrderOut)
def change(
    order_id: OrderId, body: OrderChangeIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep
) -> OrderOut:
    """Raise or lower the level (or change hazards, shelters, reason): same Topic, so phones show the new state."""
    return service.order_out(db_session, service.change(db_session, op, order_id, body, settings=settings))


@router.post("/orders/{order_id}/lift", response_model=OrderOut)
def lift(
    order_id: OrderId, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep, body: LiftIn | None = None
) -> OrderOut:
    """解除: the area is told, and the order leaves the portal and the public feeds."""
    return service.order_out(db_session, service.lift(db_session, op, order_id, body or LiftIn(), settings=settings))


@router.get("/single-issuer", response_model=list[AuditOut])
def single_issuer(
    op: CurrentOperator, db_session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[AuditOut]:
    """Orders one operator issued alone under a municipality's rule, newest first: every other operator of
    that municipality (and the prefecture) sees them in the console at once."""
    rows = accounts.list_audit(db_session, action="evacuation.single_issuer", limit=200)
    mine = [r for r in rows if accounts.in_scope(op, [str(r.detail.get("municipality", ""))])]
    return [AuditOut.model_validate(r) for r in mine[:limit]]


@router.get("/districts", response_model=list[DistrictOut])
def districts(db_session: SessionDep, municipality: MunicipalityQuery = None) -> list[DistrictOut]:
    """Saved district areas (open data: residents may want to know which district they are in)."""
    return [service.district_out(d) for d in service.list_districts(db_session, municipality)]


@router.put("/districts/{code}/{name}", response_model=DistrictOut)
def save_district(
    code: Annotated[str, Path(pattern=r"^\d{5}$")],
    name: str,
    body: DistrictIn,
    op: CurrentOperator,
    db_session: SessionDep,
    settings: SettingsDep,
) -> DistrictOut:
    if name != body.name:
        raise ValidationProblem("the name in the path and the body differ", field="name")
    return service.district_out(service.save_district(db_session, op, code, body, settings=settings))


@router.post(
    "/cap",
    status_code=202,
    response_model=OrderOut,
    openapi_extra={"requestBody": {"content": {CAP_MEDIA: {}, "application/xml": {}}, "required": True}},
)
async def receive_cap(request: Request, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> OrderOut:
    """避難情報 as CAP 1.2 from a configured source (see ``pushsvc.evacuation.cap`` for the mapping)."""
    return _cap(await cap_body(request), op, db_session, settings)


def _cap(xml: bytes, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> OrderOut:
    return service.order_out(db_session, cap.receive(db_session, op, xml, settings=settings))
