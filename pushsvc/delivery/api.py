"""Notifications over HTTP. Until operator accounts exist (issue 6) this is behind a bootstrap token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header

from pushsvc.delivery import service
from pushsvc.delivery.schemas import NotificationIn, NotificationOut
from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.errors import NotFound, Unauthorized
from pushsvc.geo.area import parse_area

router = APIRouter(prefix="/api/v1/notifications", tags=["delivery"])


def require_admin(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    if settings.admin_token is None:
        raise NotFound("the notifications API is not enabled on this server")
    expected = f"Bearer {settings.admin_token.get_secret_value()}"
    if not authorization or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise Unauthorized("a valid bearer token is required", field="Authorization")


AdminDep = Depends(require_admin)


@router.post("", status_code=202, response_model=NotificationOut, dependencies=[AdminDep])
def create(body: NotificationIn, db_session: SessionDep, settings: SettingsDep) -> NotificationOut:
    draft = service.NotificationDraft(
        source="api", category=body.category, severity=body.severity, title=body.title, body=body.body,
        municipality_codes=body.target.municipality_codes,
        area=parse_area(body.target.area, field="target.area") if body.target.area else None,
        url=body.url, ttl_seconds=body.ttl_seconds, topic=body.topic, test=body.test, priority=body.priority,
    )
    n = service.create_notification(db_session, draft, settings=settings)
    return NotificationOut.model_validate(n)


@router.get("/{notification_id}", response_model=NotificationOut, dependencies=[AdminDep])
def read(notification_id: int, db_session: SessionDep) -> NotificationOut:
    return NotificationOut.model_validate(service.get_notification(db_session, notification_id))


@router.post("/{notification_id}/cancel", response_model=NotificationOut, dependencies=[AdminDep])
def cancel(notification_id: int, db_session: SessionDep) -> NotificationOut:
    return NotificationOut.model_validate(service.cancel_notification(db_session, notification_id))
