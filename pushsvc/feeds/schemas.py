"""What the feeds API returns: each source's health, and river stations with their latest level."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class FeedHealth(BaseModel):
    name: str
    kind: str
    configured: bool  # in PUSHSVC_FEEDS_FILE now (a removed source keeps its history)
    enabled: bool
    interval_s: float | None
    # ok | degraded (answers, but some of it was unusable: see problems) | failing (recent success, now failing)
    # | down (no success for the threshold) | never succeeded | not polled yet
    status: str
    healthy: bool
    last_success_at: datetime | None
    last_change_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    problems: list[str] = []  # readings rejected, telegrams not fetched, links refused, gauges with no data
    stale_alerts: int = 0  # alerts of this source still listed although it has gone silent


class FeedsOut(BaseModel):
    healthy: bool  # every configured, enabled source
    unhealthy_after_s: float
    sources: list[FeedHealth]


class Thresholds(BaseModel):
    start: float | None
    standby: float | None
    caution: float | None
    evacuation: float | None
    danger: float | None
    flooding: float | None


class StationOut(BaseModel):
    code: str
    name: str
    river: str | None
    municipality_code: str
    downstream: list[str]
    lat: float | None
    lon: float | None
    source: str
    level: float | None  # metres on the station's datum; None = below its start level or not seen yet
    observed_at: datetime | None
    stage: str  # normal | start | standby | caution | evacuation | danger | flooding
    thresholds: Thresholds


class StationsOut(BaseModel):
    attribution: str
    stations: list[StationOut]
