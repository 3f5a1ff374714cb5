"""Notifications over HTTP, behind the bootstrap token: usable only until the first operator account exists."""

from __future__ import annotations

from fastapi import APIRouter

from pushsvc.delivery import service
from pushsvc.delivery.schemas import NotificationIn, NotificationOut
from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.geo.area import parse_area
from pushsvc.types import PathId

# Guarded by the app factory with operators.auth.require_bootstrap_admin (delivery knows no accounts).
router = APIRouter(prefix="/api/v1/notifications", tags=["delivery"])


def draft_of(body: NotificationIn, source: str = "api") -> service.NotificationDraft:
    return service.NotificationDraft(
        source=source,
        category=body.category,
        severity=body.severity,
        title=body.title,
        body=body.body,
        municipality_codes=body.target.municipality_codes,
        area=parse_area(body.target.area, field="target.area") if body.target.area else None,
        url=body.url,
        ttl_seconds=body.ttl_seconds,
        topic=body.topic,
        test=body.test,
        priority=body.priority,
    )


@router.post("", status_code=202, response_model=NotificationOut)
def create(body: NotificationIn, db_session: SessionDep, settings: SettingsDep) -> NotificationOut:
    n = service.create_notification(db_session, draft_of(body), settings=settings)
    return NotificationOut.model_validate(n)


@router.get("/{notification_id}", response_model=NotificationOut)
def read(notification_id: PathId, db_session: SessionDep) -> NotificationOut:
    return NotificationOut.model_validate(service.get_notification(db_session, notification_id))


@router.post("/{notification_id}/cancel", response_model=NotificationOut)
def cancel(notification_id: PathId, db_session: SessionDep) -> NotificationOut:
    return NotificationOut.model_validate(service.cancel_notification(db_session, notification_id))
