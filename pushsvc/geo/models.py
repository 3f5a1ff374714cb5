from __future__ import annotations

from datetime import datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base, GeometryType


class Municipality(Base):
    """One municipality (市区町村) of the served prefecture, as a single MultiPolygon."""

    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)  # N03_007, e.g. "39201"
    prefecture_code: Mapped[str] = mapped_column(String(2), index=True)
    prefecture: Mapped[str] = mapped_column(String(16))  # N03_001
    district: Mapped[str | None] = mapped_column(String(32))  # N03_003 (郡), null for cities
    name: Mapped[str] = mapped_column(String(64))  # N03_004
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType("MULTIPOLYGON"))
    source: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
