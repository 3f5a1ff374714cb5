"""KPI over HTTP: events from the web app (no login, rate-limited), the summary and exports (operators),
and ``/metrics`` for Prometheus. Operator routes use the bootstrap admin token until ``CurrentOperator``
exists.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from pushsvc.delivery.api import require_admin
from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.errors import ProblemError, ValidationProblem
from pushsvc.kpi import metrics, report, service
from pushsvc.kpi.schemas import VIEW_EVENTS, EventIn, ExportRow, KpiSummary, Period
from pushsvc.portal import alerts

router = APIRouter(tags=["kpi"])
From = Annotated[date | None, Query(alias="from", description="first JST day (default: start of this FY)")]
To = Annotated[date | None, Query(alias="to", description="last JST day (default: today)")]


class TooManyRequests(ProblemError):
    status = 429
    title = "Too many requests"
    slug = "too-many-requests"


class RateLimiter:
    """At most ``limit`` events a minute per client address, kept in memory only (never stored)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, limit: int) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 50_000:
                self._seen.clear()
            q = self._seen.setdefault(key, deque())
            while q and now - q[0] > 60:
                q.popleft()
            if len(q) >= limit:
                raise TooManyRequests("too many events from this address; try again in a minute",
                                      headers={"Retry-After": "60"})
            q.append(now)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "kpi_limiter", None)
    if limiter is None:
        limiter = request.app.state.kpi_limiter = RateLimiter()
    return limiter


@router.post("/api/v1/kpi/events", status_code=status.HTTP_204_NO_CONTENT,
             responses={422: {"description": "invalid event"}, 429: {"description": "rate limited"}})
def post_event(body: EventIn, request: Request, db_session: SessionDep, settings: SettingsDep,
               user_agent: Annotated[str | None, Header()] = None) -> Response:
    """Page views, installs and notification clicks: counted per day and municipality, nothing personal."""
    address = request.client.host if request.client else "unknown"
    _limiter(request).check(address, settings.kpi_events_per_minute)
    if body.municipality is not None and body.municipality not in alerts.areas(db_session):
        raise ValidationProblem(f"unknown municipality code {body.municipality!r}", field="municipality")
    now = datetime.now(UTC)
    if body.kind in VIEW_EVENTS:
        service.record_view(db_session, body.kind, now=now, visitor=f"{address}|{user_agent or ''}",
                            municipality_code=body.municipality)
    else:
        service.record(db_session, body.kind, now=now, municipality_code=body.municipality, category=body.category)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/kpi/summary", response_model=KpiSummary, dependencies=[Depends(require_admin)])
def summary(db_session: SessionDep, settings: SettingsDep, start: From = None, end: To = None) -> KpiSummary:
    """Subscribers, users per fiscal year against targets, installs, access, delivery, connected systems."""
    return report.summary(db_session, settings=settings, start=start, end=end)


@router.get("/api/v1/kpi/export.csv", dependencies=[Depends(require_admin)], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def export_csv(db_session: SessionDep, start: From = None, end: To = None) -> Response:
    """Daily counts per municipality and indicator; UTF-8 with BOM and Japanese headers (opens in Excel)."""
    p = report.period(start, end, now=datetime.now(UTC))
    body = report.export_csv(report.export_rows(db_session, p))
    name = f"pushsvc-kpi-{p.start:%Y%m%d}-{p.end:%Y%m%d}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/v1/kpi/export.json", dependencies=[Depends(require_admin)])
def export_json(db_session: SessionDep, start: From = None, end: To = None) -> dict[str, Period | list[ExportRow]]:
    p = report.period(start, end, now=datetime.now(UTC))
    return {"period": p, "rows": report.export_rows(db_session, p)}


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def prometheus(db_session: SessionDep, settings: SettingsDep) -> PlainTextResponse:
    """Operational metrics in the Prometheus text format (aggregates only)."""
    return PlainTextResponse(metrics.render(db_session, settings),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
