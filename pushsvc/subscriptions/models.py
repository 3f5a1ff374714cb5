"""Subscription tables: one row per browser endpoint, its places, and training-device enrolments.

No personal identifiers live here: no names, e-mail, phone numbers or IP addresses. Coordinates are
stored rounded to 0.001° (~100 m); the municipality was computed from the exact point before rounding.
"""

from __future__ import annotations

from datetime import datetime, time

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Time, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pushsvc.db import Base, GeometryType

REGISTERED = "registered"
CURRENT = "current"


class Subscription(Base):
    """A browser's Web Push subscription and what its resident asked for."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of a random ≥128-bit token
    lang: Mapped[str] = mapped_column(String(16))
    categories_mask: Mapped[int] = mapped_column(Integer)  # one bit per category, see schemas.CATEGORIES
    follow_current_location: Mapped[bool] = mapped_column(Boolean, default=False)
    test_device: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    # Earthquake reports below this 震度 rank (1..6 = 震度1…5強, feeds.jma.quake.intensity_rank) are not sent.
    min_quake_intensity: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    places: Mapped[list[SubscriptionPlace]] = relationship(
        back_populates="subscription",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SubscriptionPlace.position",
    )


class SubscriptionPlace(Base):
    """A registered place (home, work, family) or the current location (kind='current', expires)."""

    __tablename__ = "subscription_places"
    __table_args__ = (Index("ix_subscription_places_lat_lon", "lat", "lon"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # REGISTERED | CURRENT
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str | None] = mapped_column(String(40))
    municipality_code: Mapped[str] = mapped_column(String(5), index=True)
    match: Mapped[str] = mapped_column(String(12))  # inside | coastal | code
    lat: Mapped[float | None] = mapped_column(Float)  # rounded to 0.001°; null when given by code
    lon: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[BaseGeometry | None] = mapped_column(GeometryType("POINT"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # current location only

    subscription: Mapped[Subscription] = relationship(back_populates="places")


class TrainingEnrolment(Base):
    """A one-time link an operator issued to make one phone a training device (訓練用端末).

    Only a SHA-256 of the code is stored; the code is shown once (as a link and a QR code). ``issued_by``
    is the operator's name as text: this domain does not reach into the operators' table.
    """

    __tablename__ = "training_enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80), default="")
    issued_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="SET NULL"))
