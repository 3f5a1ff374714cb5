"""KPI over HTTP: events from the web app (no login, rate-limited), the summary and exports (operators),
and ``/metrics`` for Prometheus.

Every operator, prefectural or municipal, sees the whole prefecture's KPI: it is aggregate counts with no
personal data, published as open data anyway, and a municipality's figures mean most next to the others'.
Exports are written to the operators' audit log (data leaving the system); summary views are not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from sqlalchemy.orm import Session

from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.errors import ValidationProblem, limiter_of
from pushsvc.kpi import report, service
from pushsvc.kpi.schemas import VIEW_EVENTS, EventIn, ExportRow, KpiSummary, Period
from pushsvc.operators import accounts
from pushsvc.operators.auth import CurrentOperator
from pushsvc.portal import alerts

router = APIRouter(tags=["kpi"])
From = Annotated[date | None, Query(alias="from", description="first JST day (default: start of this FY)")]
To = Annotated[date | None, Query(alias="to", description="last JST day (default: today)")]


@router.post(
    "/api/v1/kpi/events",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={422: {"description": "invalid event"}, 429: {"description": "rate limited"}},
)
def post_event(
    body: EventIn,
    request: Request,
    db_session: SessionDep,
    settings: SettingsDep,
    user_agent: Annotated[str | None, Header()] = None,
) -> Response:
    """Page views, installs and notification clicks: counted per day and municipality, nothing personal."""
    address = request.client.host if request.client else "unknown"
    limiter_of(request.app.state, "kpi_limiter", settings.kpi_events_per_minute).enforce(
        address, "too many events from this address; try again in a minute"
    )
    if body.municipality is not None and body.municipality not in alerts.areas(db_session):
        raise ValidationProblem(f"unknown municipality code {body.municipality!r}", field="municipality")
    now = datetime.now(UTC)
    if body.kind in VIEW_EVENTS:
        service.record_view(
            db_session, body.kind, now=now, visitor=f"{address}|{user_agent or ''}", municipality_code=body.municipality
        )
    else:
        service.record(db_session, body.kind, now=now, municipality_code=body.municipality, category=body.category)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/kpi/summary", response_model=KpiSummary, responses={401: {}, 422: {}})
def summary(
    _op: CurrentOperator, db_session: SessionDep, settings: SettingsDep, start: From = None, end: To = None
) -> KpiSummary:
    """Subscribers, users per fiscal year against targets, installs, access, delivery, connected systems."""
    return report.summary(db_session, settings=settings, start=start, end=end)


def _exported(db_session: Session, op: CurrentOperator, fmt: str, start: date | None, end: date | None) -> Period:
    """The export's period, audited with who took it."""
    p = report.period(start, end, now=datetime.now(UTC))
    accounts.audit(db_session, "kpi.export", operator=op, format=fmt, start=p.start.isoformat(), end=p.end.isoformat())
    return p


@router.get(
    "/api/v1/kpi/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}, 401: {}, 422: {}}
)
def export_csv(op: CurrentOperator, db_session: SessionDep, start: From = None, end: To = None) -> Response:
    """Daily counts per municipality and indicator; UTF-8 with BOM and Japanese headers (opens in Excel)."""
    p = _exported(db_session, op, "csv", start, end)
    body = report.export_csv(report.export_rows(db_session, p))
    name = f"pushsvc-kpi-{p.start:%Y%m%d}-{p.end:%Y%m%d}.csv"
    return Response(
        body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/api/v1/kpi/export.json", responses={401: {}, 422: {}})
def export_json(
    op: CurrentOperator, db_session: SessionDep, start: From = None, end: To = None
) -> dict[str, Period | list[ExportRow]]:
    p = _exported(db_session, op, "json", start, end)
    return {"period": p, "rows": report.export_rows(db_session, p)}
