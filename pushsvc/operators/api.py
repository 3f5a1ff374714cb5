"""Operator HTTP API: thin routes over the operator services; every route needs ``CurrentOperator``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response
from sqlalchemy import select

from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.errors import PayloadTooLarge, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.geo.area import parse_area
from pushsvc.operators import accounts, cap, history, service
from pushsvc.operators.auth import CurrentOperator
from pushsvc.operators.models import AreaPreset
from pushsvc.operators.schemas import (
    AuditOut,
    BootstrapIn,
    FollowUpIn,
    MessageAccepted,
    MessageIn,
    MessageOut,
    OperatorCreated,
    OperatorOut,
    PresetIn,
    PresetOut,
    PreviewOut,
)
from pushsvc.operators.targets import get_preset, inside
from pushsvc.types import PathId, PathText, QueryId, QueryText

router = APIRouter(prefix="/api/v1", tags=["operators"])
CAP_MEDIA = "application/cap+xml"
MAX_CAP_BYTES = 1_000_000


@router.post("/operators/bootstrap", status_code=201, response_model=OperatorCreated)
def bootstrap(
    body: BootstrapIn,
    db_session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> OperatorCreated:
    """The first operator, with ``PUSHSVC_ADMIN_TOKEN``; once one exists the bootstrap token opens nothing (403)."""
    op, token = accounts.bootstrap_operator(db_session, settings, authorization, name=body.name)
    return OperatorCreated(id=op.id, name=op.name, role=op.role, municipalities=op.municipalities, token=token)


@router.get("/operators/me", response_model=OperatorOut)
def me(op: CurrentOperator) -> OperatorOut:
    return OperatorOut(id=op.id, name=op.name, role=op.role, municipalities=op.municipalities)


@router.post("/messages/preview", response_model=PreviewOut)
def preview(body: MessageIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> PreviewOut:
    return service.preview(db_session, op, body, settings=settings)


@router.post("/messages", status_code=202, response_model=MessageAccepted)
def send(body: MessageIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> MessageAccepted:
    m = service.submit(db_session, op, body, settings=settings)
    return MessageAccepted(id=m.id, recipients=m.recipients, status=m.status)


@router.get("/messages", response_model=list[MessageOut])
def list_messages(
    op: CurrentOperator,
    db_session: SessionDep,
    date: Annotated[date | None, Query(description="calendar day in Japan (JST)")] = None,
    municipality: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    status: QueryText = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MessageOut]:
    service.refresh(db_session)
    rows = history.list_messages(db_session, op, day=date, municipality=municipality, status=status, limit=limit)
    return [history.to_out(db_session, m) for m in rows]


@router.get("/messages/{message_id}.cap", response_class=Response, responses={200: {"content": {CAP_MEDIA: {}}}})
def read_cap(message_id: PathId, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> Response:
    service.refresh(db_session)
    m = service.get_message(db_session, op, message_id)
    original = service.get_message(db_session, op, m.reference_id) if m.reference_id else None
    names = {
        c: p.name for c, p in geo_service.places_by_code(db_session, service.touched_codes(db_session, m.id)).items()
    }
    xml = cap.to_cap(
        m,
        names=dict(sorted(names.items())),
        base_url=settings.public_base_url,
        original=original,
        sent_at=m.approved_at or m.created_at,
    )
    return Response(xml, media_type=CAP_MEDIA)


@router.get("/messages/{message_id}", response_model=MessageOut)
def read(message_id: PathId, op: CurrentOperator, db_session: SessionDep) -> MessageOut:
    service.refresh(db_session)
    return history.to_out(db_session, service.get_message(db_session, op, message_id))


@router.post("/messages/{message_id}/approve", response_model=MessageOut)
def approve(message_id: PathId, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> MessageOut:
    return history.to_out(db_session, service.approve(db_session, op, message_id, settings=settings))


@router.post("/messages/{message_id}/cancel", response_model=MessageOut)
def cancel(
    message_id: PathId,
    op: CurrentOperator,
    db_session: SessionDep,
    settings: SettingsDep,
    body: Annotated[FollowUpIn | None, Body()] = None,
) -> MessageOut:
    m = service.cancel_or_correct(db_session, op, message_id, "cancellation", body or FollowUpIn(), settings=settings)
    return history.to_out(db_session, m)


@router.post("/messages/{message_id}/correct", response_model=MessageOut)
def correct(
    message_id: PathId, body: FollowUpIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep
) -> MessageOut:
    m = service.cancel_or_correct(db_session, op, message_id, "correction", body, settings=settings)
    return history.to_out(db_session, m)


@router.post(
    "/cap",
    status_code=202,
    response_model=MessageAccepted,
    openapi_extra={"requestBody": {"content": {CAP_MEDIA: {}, "application/xml": {}}, "required": True}},
)
async def receive_cap(
    request: Request, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep
) -> MessageAccepted:
    """A CAP 1.2 alert (L-Alert and most national systems) into the same flow as ``POST /messages``."""
    return cap_flow(await cap_body(request), op, db_session, settings)


async def cap_body(request: Request) -> bytes:
    """The posted CAP document, refused if empty or larger than ``MAX_CAP_BYTES``."""
    xml = await request.body()
    if len(xml) > MAX_CAP_BYTES:
        raise PayloadTooLarge(f"a CAP alert is at most {MAX_CAP_BYTES} bytes", field="body")
    if not xml.strip():
        raise ValidationProblem("the body must be a CAP 1.2 alert", field="body")
    return xml


def cap_flow(xml: bytes, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> MessageAccepted:
    alert = cap.parse_alert(db_session, xml, prefecture=settings.prefecture, now=datetime.now(UTC))
    if alert.msg_type == "Alert":
        assert alert.message is not None
        m = service.submit(
            db_session, op, alert.message, settings=settings, source="cap", cap=(alert.identifier, alert.sender)
        )
        return MessageAccepted(id=m.id, recipients=m.recipients, status=m.status)
    original = cap.referenced_message(db_session, alert)
    kind = "cancellation" if alert.msg_type == "Cancel" else "correction"
    assert alert.follow_up is not None
    m = service.cancel_or_correct(db_session, op, original.id, kind, alert.follow_up, settings=settings)
    return MessageAccepted(id=m.id, recipients=m.recipients, status=m.status)


@router.get("/audit", response_model=list[AuditOut])
def audit(
    op: CurrentOperator,
    db_session: SessionDep,
    action: QueryText = None,
    operator_id: QueryId = None,
    message_id: QueryId = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    accounts.require_prefecture(op, "the audit log")
    rows = accounts.list_audit(
        db_session, action=action, operator_id=operator_id, message_id=message_id, since=since, limit=limit
    )
    return [AuditOut.model_validate(r) for r in rows]


@router.get("/area-presets", response_model=list[PresetOut])
def list_presets(op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> list[PresetOut]:
    rows = db_session.execute(select(AreaPreset).order_by(AreaPreset.name)).scalars()
    return [
        PresetOut(
            name=p.name,
            description=p.description,
            municipalities=inside(db_session, p.geom, settings.prefecture, field="area"),
        )
        for p in rows
    ]


@router.put("/area-presets/{name}", response_model=PresetOut)
def save_preset(
    name: PathText, body: PresetIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep
) -> PresetOut:
    """Save (or replace) a named area; prefecture operators only, since everyone may then target it."""
    accounts.require_prefecture(op, "saving area presets")
    if name != body.name:
        raise ValidationProblem("the name in the path and the body differ", field="name")
    geom = parse_area(body.area, field="area")
    touched = inside(db_session, geom, settings.prefecture, field="area")
    try:
        preset = get_preset(db_session, name, field="name")
        preset.geom, preset.description = geom, body.description
    except ValidationProblem:
        db_session.add(
            AreaPreset(
                name=name, description=body.description, geom=geom, created_by=op.id, created_at=datetime.now(UTC)
            )
        )
    accounts.audit(db_session, "preset.save", operator=op, name=name, municipalities=touched)
    db_session.flush()
    return PresetOut(name=name, description=body.description, municipalities=touched)
