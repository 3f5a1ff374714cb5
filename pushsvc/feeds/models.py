"""Tables of the feeds domain: each source's poll state, every alert sent from a feed, and river stations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base


class FeedSource(Base):
    """One configured source (by name) and what the poller must remember across restarts.

    ``state`` is the adapter's own JSON: per-station engine state for river feeds, seen entry ids and the
    per-municipality warning state for JMA. It is written in the same transaction as the notifications it
    caused, so a crash either loses both (and the next poll redoes them) or keeps both.
    """

    __tablename__ = "feed_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    interval_s: Mapped[float] = mapped_column(Float)
    etag: Mapped[str | None] = mapped_column(String(256))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_change_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last 200 with new content
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeedAlert(Base):
    """An alert a feed produced, keyed by its deterministic id: a restart or a second poller never re-sends it.

    For JMA, ``event_id``/``topic``/``municipalities`` find the notifications a 取消 must correct.
    """

    __tablename__ = "feed_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # rise | fall | issued | upgraded | … | cancel
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    topic: Mapped[str] = mapped_column(String(128))
    municipalities: Mapped[list[str]] = mapped_column(JSON, default=list)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RiverStation(Base):
    """A gauge with its thresholds, who lives by it, and its latest trusted level (for the API and the portal)."""

    __tablename__ = "river_stations"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))  # feed source name
    name: Mapped[str] = mapped_column(String(128))
    river: Mapped[str | None] = mapped_column(String(128))
    municipality: Mapped[str] = mapped_column(String(5), index=True)
    downstream: Mapped[list[str]] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    start_level: Mapped[float | None] = mapped_column(Float)
    standby_level: Mapped[float | None] = mapped_column(Float)
    caution_level: Mapped[float | None] = mapped_column(Float)
    evacuation_level: Mapped[float | None] = mapped_column(Float)
    danger_level: Mapped[float | None] = mapped_column(Float)
    flooding_level: Mapped[float | None] = mapped_column(Float)
    level: Mapped[float | None] = mapped_column(Float)  # None = below its start level / not seen yet
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stage: Mapped[str] = mapped_column(String(16), default="normal")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RiverReading(Base):
    """One trusted reading of a gauge, so the portal can chart the last hours (pruned by housekeeping)."""

    __tablename__ = "river_readings"
    __table_args__ = (UniqueConstraint("station", "observed_at", name="uq_river_readings_station_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    level: Mapped[float] = mapped_column(Float)


class FeedPushSource(Base):
    """A relay allowed to push raw JMA telegrams in (``POST /api/v1/feeds/jma/telegrams``); token stored hashed."""

    __tablename__ = "feed_push_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
