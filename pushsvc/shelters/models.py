"""Designated emergency evacuation sites (指定緊急避難場所), one row per site, hazards as a bit mask."""

from __future__ import annotations

from datetime import datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, DateTime, Float, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base, GeometryType


class Shelter(Base):
    """A site and the hazards it is designated for; ``site_id`` (共通ID) makes re-imports idempotent."""

    __tablename__ = "shelters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    municipality_code: Mapped[str] = mapped_column(String(5), index=True)
    hazards_mask: Mapped[int] = mapped_column(Integer)  # one bit per hazard, see schemas.HAZARDS
    also_evacuation_centre: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType("POINT"))
    source: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
