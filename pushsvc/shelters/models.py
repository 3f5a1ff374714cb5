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


class ShelterState(Base):
    """Whether a site is open now and how full (空き/混雑/満員); kept apart from the imported data so a
    re-import never closes an open shelter. Set by operators and the prefecture's shelter system."""

    __tablename__ = "shelter_states"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    open: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[str] = mapped_column(String(16), default="available")  # available | crowded | full
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(80), default="")
