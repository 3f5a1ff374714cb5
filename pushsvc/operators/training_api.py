"""Training devices over HTTP: operators issue one-time enrolment links and list/remove devices; the
phone's own page (``/enrol``) redeems a link with its subscription token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import segno
from fastapi import APIRouter, Header, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.operators import accounts
from pushsvc.operators.auth import CurrentOperator
from pushsvc.subscriptions import service, training
from pushsvc.subscriptions.page import NO_CACHE, STATIC
from pushsvc.subscriptions.schemas import SubscriptionOut
from pushsvc.types import Line, PathId

router = APIRouter(tags=["training devices"])


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[Line, Field(max_length=80)] = Field(default="", description="which phone, e.g. 県防災課 訓練用1")


class EnrolmentOut(BaseModel):
    id: int
    url: str = Field(description="open on the phone once; the code is in the fragment, never sent in a request line")
    qr_svg: str = Field(description="the same link as an SVG QR code")
    expires_at: datetime


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=16, max_length=128)


class TrainingDeviceOut(BaseModel):
    subscription_id: int
    label: str
    lang: str
    enrolled_at: datetime | None
    enrolled_by: str | None


@router.post(
    "/api/v1/training-devices/enrolments", response_model=EnrolmentOut, status_code=201, responses={401: {}, 422: {}}
)
def issue_enrolment(
    body: EnrolmentIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep
) -> EnrolmentOut:
    """A one-time link (and QR code) that makes the phone opening it a training device; valid 24 h."""
    issued = training.issue(db_session, issued_by=op.name, label=body.label, now=datetime.now(UTC))
    accounts.audit(db_session, "training.enrolment_issued", operator=op, enrolment=issued.id, label=body.label)
    url = f"{settings.public_base_url.rstrip('/')}/enrol#code={issued.code}"
    qr = segno.make(url, error="m").svg_inline(scale=5, dark="#000", light="#fff", title="登録用 QR コード")
    return EnrolmentOut(id=issued.id, url=url, qr_svg=qr, expires_at=issued.expires_at)


@router.get("/api/v1/training-devices", response_model=list[TrainingDeviceOut], responses={401: {}})
def list_training_devices(op: CurrentOperator, db_session: SessionDep) -> list[TrainingDeviceOut]:
    return [TrainingDeviceOut(**d.__dict__) for d in training.list_devices(db_session)]


@router.delete(
    "/api/v1/training-devices/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, responses={401: {}, 404: {}}
)
def remove_training_device(subscription_id: PathId, op: CurrentOperator, db_session: SessionDep) -> Response:
    training.remove(db_session, subscription_id)
    accounts.audit(db_session, "training.device_removed", operator=op, subscription=subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/v1/subscriptions/{subscription_id}/training-enrolment",
    response_model=SubscriptionOut,
    tags=["subscriptions"],
    responses={401: {}, 404: {}, 410: {}},
)
def redeem_enrolment(
    subscription_id: PathId,
    body: RedeemIn,
    db_session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> SubscriptionOut:
    """The phone's page turns its own subscription into a training device with an operator's code."""
    sub = service.authorize(db_session, subscription_id, authorization)
    now = datetime.now(UTC)
    training.redeem(db_session, sub, body.code, now=now)
    return service.to_out(db_session, sub, now=now)


@router.get("/enrol", include_in_schema=False)
def enrol_page() -> FileResponse:
    return FileResponse(
        STATIC / "enrol.html",
        media_type="text/html; charset=utf-8",
        headers={
            **NO_CACHE,
            "Content-Security-Policy": "default-src 'self'; base-uri 'none'",
            "Referrer-Policy": "no-referrer",
        },
    )
