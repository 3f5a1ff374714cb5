"""KPI tables. None holds a personal identifier: events are (kind, time, municipality, category).

``kpi_visitors`` holds, for the current JST day only, digests made with that day's random salt
(``kpi_salts``); both are counted into ``kpi_daily`` and deleted once the day is over.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base


class KpiEvent(Base):
    """One raw event, kept ``kpi_raw_retention_days`` then rolled up into ``KpiDaily``."""

    __tablename__ = "kpi_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date, index=True)  # JST calendar day
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    municipality_code: Mapped[str] = mapped_column(String(5), default="")  # "" = unknown / prefecture-wide
    category: Mapped[str] = mapped_column(String(32), default="")


class KpiDaily(Base):
    """Counts per JST day, kind, municipality and category (rolled-up events and unique visitors)."""

    __tablename__ = "kpi_daily"
    __table_args__ = (UniqueConstraint("day", "kind", "municipality_code", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    municipality_code: Mapped[str] = mapped_column(String(5), default="")
    category: Mapped[str] = mapped_column(String(32), default="")
    count: Mapped[int] = mapped_column(Integer, default=0)


class KpiSalt(Base):
    """The random salt of one JST day; deleted with that day's digests when the day ends."""

    __tablename__ = "kpi_salts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))


class KpiVisitor(Base):
    """A salted digest seen today (for 'unique per day'); unlinkable once the salt is gone."""

    __tablename__ = "kpi_visitors"
    __table_args__ = (UniqueConstraint("day", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    digest: Mapped[str] = mapped_column(String(64))
