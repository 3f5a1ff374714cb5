"""Feeds over HTTP: ``GET /api/v1/feeds`` (every source's health) and ``GET /api/v1/rivers/stations``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.feeds import service
from pushsvc.feeds.river.alerts import ATTRIBUTION
from pushsvc.feeds.schemas import FeedHealth, FeedsOut, StationOut, StationsOut
from pushsvc.feeds.sources import load_sources

router = APIRouter(prefix="/api/v1", tags=["feeds"])


@router.get("/feeds", response_model=FeedsOut)
def feeds(db_session: SessionDep, settings: SettingsDep) -> FeedsOut:
    """Health of every source: a source with no successful poll for ``PUSHSVC_FEED_UNHEALTHY_AFTER_S`` is down."""
    configs = load_sources(settings.feeds_file)
    rows = service.list_health(
        db_session, configs, now=datetime.now(UTC), unhealthy_after_s=settings.feed_unhealthy_after_s
    )
    sources = [FeedHealth.model_validate(r) for r in rows]
    healthy = all(s.healthy for s in sources if s.configured and s.enabled)
    return FeedsOut(healthy=healthy, unhealthy_after_s=settings.feed_unhealthy_after_s, sources=sources)


@router.get("/rivers/stations", response_model=StationsOut)
def stations(
    db_session: SessionDep,
    municipality: Annotated[str | None, Query(pattern=r"^\d{5}$", description="N03 code")] = None,
) -> StationsOut:
    """River gauges with thresholds, latest trusted level and stage."""
    rows = service.list_stations(db_session, municipality=municipality)
    return StationsOut(attribution=ATTRIBUTION, stations=[StationOut.model_validate(r) for r in rows])
