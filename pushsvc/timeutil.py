"""Time helpers every domain shares: Japan's wall clock, and datetimes that are always UTC-aware.

SQLite hands back naive datetimes for ``DateTime(timezone=True)`` columns (PostgreSQL aware ones), so
anything read from the database goes through ``as_utc`` before it is compared with ``utc_now()``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import overload
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")  # Japan keeps no daylight saving time: always +09:00


@overload
def as_utc(dt: datetime) -> datetime: ...


@overload
def as_utc(dt: None) -> None: ...


def as_utc(dt: datetime | None) -> datetime | None:
    """The same instant in UTC; a naive datetime is taken to be UTC already (as stored)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def jst_day(dt: datetime) -> date:
    """The calendar day in Japan at that instant (KPI days, history filters, fiscal years)."""
    return as_utc(dt).astimezone(JST).date()
