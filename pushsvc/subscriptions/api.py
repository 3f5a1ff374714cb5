"""HTTP routes for residents: thin wrappers over ``service``; the request boundary commits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.deps import SessionDep, SettingsDep, WorkDep
from pushsvc.subscriptions import renewal, service
from pushsvc.subscriptions.schemas import (
    Choices,
    CurrentLocationOut,
    LocationIn,
    ResidentAuthorization,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
    VapidPublicKey,
)
from pushsvc.types import PathId
from pushsvc.webpush.vapid import VapidIdentity

router = APIRouter(prefix="/api/v1", tags=["subscriptions"])

SubscriptionId = PathId
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no bearer token"},
    404: {"description": "no such subscription, or not its token (the same answer, so ids cannot be probed)"},
}


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/push/vapid-public-key", response_model=VapidPublicKey)
def vapid_public_key(request: Request) -> VapidPublicKey:
    identity: VapidIdentity = request.app.state.vapid
    return VapidPublicKey(public_key=identity.public_key_b64url)


@router.get("/subscriptions/choices", response_model=Choices)
def choices(db_session: SessionDep, settings: SettingsDep) -> Choices:
    return service.choices(db_session, settings)


@router.post(
    "/subscriptions",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    responses={413: {"description": "body too large"}, 422: {"description": "invalid input"}},
)
async def subscribe(body: SubscriptionIn, work: WorkDep, settings: SettingsDep) -> Response:
    """The sign-up hot path: one thread hop for all its database work, and the answer serialised once."""
    created = await work(_subscribe, body, settings, _now())
    return Response(created.model_dump_json(), status_code=status.HTTP_201_CREATED, media_type="application/json")


def _subscribe(db_session: Session, body: SubscriptionIn, settings: Settings, now: datetime) -> SubscriptionCreated:
    out, token = service.subscribe(db_session, body, settings=settings, now=now)
    service.publish_created(db_session, out, now=now)
    return SubscriptionCreated(**out.model_dump(), token=token)


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut, responses=PROBLEMS)
def get_subscription(
    subscription_id: SubscriptionId, db_session: SessionDep, authorization: ResidentAuthorization = None
) -> SubscriptionOut:
    sub = service.authorize(db_session, subscription_id, authorization)
    return service.to_out(db_session, sub, now=_now())


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    responses={**PROBLEMS, 409: {"description": "the new endpoint belongs to another subscription"}},
)
def update_subscription(
    subscription_id: SubscriptionId,
    body: SubscriptionPatch,
    db_session: SessionDep,
    settings: SettingsDep,
    authorization: ResidentAuthorization = None,
) -> SubscriptionOut:
    """Change what was sent; ``endpoint`` with ``keys`` moves the subscription to a renewed push subscription."""
    sub = service.authorize(db_session, subscription_id, authorization)
    now = _now()
    renewal.change_push_subscription(db_session, sub, body, settings=settings, now=now)
    service.update_subscription(db_session, sub, body, settings=settings, now=now)
    return service.to_out(db_session, sub, now=now)


@router.put(
    "/subscriptions/{subscription_id}/location",
    response_model=CurrentLocationOut,
    responses={**PROBLEMS, 409: {"description": "not following the current location"}},
)
async def put_location(
    subscription_id: SubscriptionId,
    body: LocationIn,
    work: WorkDep,
    settings: SettingsDep,
    authorization: ResidentAuthorization = None,
) -> CurrentLocationOut:
    """Sent by the service worker whenever the page opens, so it shares sign-up's one-hop path."""
    return await work(_put_location, subscription_id, body, settings, authorization, _now())


def _put_location(
    db_session: Session,
    subscription_id: int,
    body: LocationIn,
    settings: Settings,
    authorization: str | None,
    now: datetime,
) -> CurrentLocationOut:
    sub = service.authorize(db_session, subscription_id, authorization)
    service.set_current_location(db_session, sub, body, settings=settings, now=now)
    current = service.to_out(db_session, sub, now=now).current_location
    assert current is not None  # just written, expires in the future
    return current


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, responses=PROBLEMS)
def delete_subscription(
    subscription_id: SubscriptionId, db_session: SessionDep, authorization: ResidentAuthorization = None
) -> Response:
    service.publish_deleted(db_session, service.authorize(db_session, subscription_id, authorization), now=_now())
    service.delete_subscription(db_session, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
