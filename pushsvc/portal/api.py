"""Portal, public alert feeds and notices over HTTP: thin routes, the request boundary commits.

The portal is authorised like the rest of a resident's API: ``?subscription=<id>`` names the
subscription and ``Authorization: Bearer <token>`` (given when subscribing) proves it is theirs.
Notices are published and withdrawn by operators (``CurrentOperator``): a municipal operator only for
their own municipalities, prefecture operators anywhere; both are written to the operators' audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.deps import SessionDep, SettingsDep, WorkDep
from pushsvc.httpcache import PUBLIC, cached, cached_model
from pushsvc.operators.auth import CurrentOperator
from pushsvc.portal import alerts, formats, page, service
from pushsvc.portal.schemas import AlertList, AlertPage, NoticeAdminOut, NoticeIn, NoticeOut, PortalOut
from pushsvc.subscriptions import service as subscriptions
from pushsvc.subscriptions.schemas import ResidentAuthorization
from pushsvc.types import Category, Lang, MunicipalityQuery

router = APIRouter(tags=["portal"])

SubscriptionQ = Annotated[int, Query(ge=1, le=2**31 - 1, description="the subscription id returned when subscribing")]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PRIVATE = "private, no-cache"


def _now() -> datetime:
    return datetime.now(UTC)


# --- the resident's portal ----------------------------------------------------------------------


@router.get(
    "/api/v1/portal/me",
    response_model=PortalOut,
    responses={304: {"description": "unchanged since the ETag sent"}, 401: {}, 403: {}, 404: {}},
)
async def portal_me(
    request: Request,
    subscription: SubscriptionQ,
    work: WorkDep,
    settings: SettingsDep,
    authorization: ResidentAuthorization = None,
) -> Response:
    """Alerts, river gauges, evacuation sites and notices for each of the resident's places.

    Every resident's browser asks for this, so its database work is one thread hop (``WorkDep``)."""
    body = await work(_portal_me, subscription, authorization, settings, _now())
    return cached(request, body, "application/json", PRIVATE)


def _portal_me(
    db_session: Session, subscription: int, authorization: str | None, settings: Settings, now: datetime
) -> bytes:
    sub = subscriptions.authorize(db_session, subscription, authorization)
    return service.portal_me(db_session, sub, settings=settings, now=now).model_dump_json().encode()


@router.post(
    "/api/v1/portal/notices/{notice_id}/ack",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {}, 403: {}, 404: {}},
)
def acknowledge(
    notice_id: AlertId, subscription: SubscriptionQ, db_session: SessionDep, authorization: ResidentAuthorization = None
) -> Response:
    """The resident has read an important notice; it stops showing in their portal."""
    sub = subscriptions.authorize(db_session, subscription, authorization)
    service.acknowledge(db_session, sub, notice_id, now=_now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- notices ------------------------------------------------------------------------------------


@router.post(
    "/api/v1/notices",
    status_code=status.HTTP_201_CREATED,
    response_model=NoticeAdminOut,
    responses={401: {}, 403: {}, 422: {}},
    tags=["notices"],
)
def publish(body: NoticeIn, op: CurrentOperator, db_session: SessionDep, settings: SettingsDep) -> NoticeAdminOut:
    """Publish a notice (and push it if asked); municipal operators only for their municipalities."""
    notice = service.publish_notice(db_session, body, operator=op, settings=settings, now=_now())
    return NoticeAdminOut.model_validate(notice)


@router.post(
    "/api/v1/notices/{notice_id}/withdraw",
    response_model=NoticeAdminOut,
    responses={401: {}, 403: {}, 404: {}},
    tags=["notices"],
)
def withdraw(notice_id: AlertId, op: CurrentOperator, db_session: SessionDep) -> NoticeAdminOut:
    """Take a notice down at once (its pushed notification leaves the alert feeds if it reached nobody)."""
    return NoticeAdminOut.model_validate(service.withdraw_notice(db_session, notice_id, operator=op, now=_now()))


@router.get("/api/v1/notices", response_model=list[NoticeOut], tags=["notices"])
def list_notices(
    request: Request, db_session: SessionDep, municipality: MunicipalityQuery = None, lang: Lang = "ja"
) -> Response:
    """Notices in force (public): all, or those for one municipality (prefecture-wide ones included)."""
    alerts.check_municipality(db_session, municipality)
    found = service.active_notices(db_session, codes=[municipality] if municipality else None, now=_now())
    body = b"[" + b",".join(service.notice_out(n, lang).model_dump_json().encode() for n in found) + b"]"
    return cached(request, body, "application/json", PUBLIC)


# --- public alert feeds -------------------------------------------------------------------------


def _found(db_session: Any, municipality: str | None, category: str | None) -> list[Any]:
    return alerts.public_alerts(db_session, municipality=municipality, category=category, now=_now())


@router.get("/api/v1/alerts", response_model=AlertList, tags=["alerts"])
def list_alerts(
    request: Request,
    db_session: SessionDep,
    settings: SettingsDep,
    municipality: MunicipalityQuery = None,
    category: Category | None = None,
    lang: Lang = "ja",
) -> Response:
    """Alerts in force (open data, no login), most severe and newest first."""
    found = _found(db_session, municipality, category)
    return cached_model(request, alerts.alert_list(db_session, found, lang=lang, settings=settings, now=_now()), PUBLIC)


@router.get(
    "/api/v1/alerts.atom",
    tags=["alerts"],
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def alerts_atom(
    request: Request,
    db_session: SessionDep,
    settings: SettingsDep,
    municipality: MunicipalityQuery = None,
    category: Category | None = None,
) -> Response:
    """The same alerts as an Atom feed (Japanese)."""
    now = _now()
    listed = alerts.alert_list(
        db_session, _found(db_session, municipality, category), lang="ja", settings=settings, now=now
    )
    body = formats.atom_feed(listed.alerts, settings=settings, self_url=str(request.url), now=now)
    return cached(request, body, "application/atom+xml; charset=utf-8", PUBLIC)


@router.get(
    "/api/v1/alerts/{alert_id}.cap",
    tags=["alerts"],
    response_class=Response,
    responses={200: {"content": {"application/cap+xml": {}}}, 404: {}},
)
def alert_cap(request: Request, alert_id: AlertId, db_session: SessionDep, settings: SettingsDep) -> Response:
    """One alert as OASIS CAP 1.2, every language as its own <info>."""
    now = _now()
    data = alerts.alert_page(db_session, alert_id, lang="ja", settings=settings, now=now)
    refs = [alerts.alert_page(db_session, r, lang="ja", settings=settings, now=now) for r in data.corrects]
    body = formats.cap_alert(data, data.translations, settings=settings, references=refs)
    return cached(request, body, "application/cap+xml; charset=utf-8", PUBLIC)


@router.get("/api/v1/alerts/{alert_id}", response_model=AlertPage, tags=["alerts"], responses={404: {}})
def alert_data(
    request: Request, alert_id: AlertId, db_session: SessionDep, settings: SettingsDep, lang: Lang = "ja"
) -> Response:
    """What the alert page shows, as JSON (every translation included)."""
    data = alerts.alert_page(db_session, alert_id, lang=lang, settings=settings, now=_now())
    return cached_model(request, data, PUBLIC)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
def alert_html(
    request: Request,
    alert_id: AlertId,
    db_session: SessionDep,
    settings: SettingsDep,
    lang: str | None = Query(default=None, max_length=16),
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    data = alerts.alert_page(db_session, alert_id, lang="ja", settings=settings, now=_now())
    second = page.pick_lang(lang, accept_language, list(data.translations))
    response = cached(request, page.render(data, second=second).encode(), "text/html; charset=utf-8", PUBLIC)
    response.headers["Content-Security-Policy"] = page.CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
