from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, false, func, text
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base, GeometryType


class Notification(Base):
    """One message to the people of an area, with what happened to it, counted as it happens."""

    __tablename__ = "notifications"
    # Workers look for unfinished appends every few seconds (``enqueue.resume_appending``).
    __table_args__ = (
        Index(
            "ix_notifications_appending",
            "created_at",
            postgresql_where=text("appending"),
            sqlite_where=text("appending"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # operator, river, jma, cap, …
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))  # info | advisory | warning | emergency
    title: Mapped[dict[str, str]] = mapped_column(JSON)  # lang -> text; "ja" always present
    body: Mapped[dict[str, str]] = mapped_column(JSON)
    url: Mapped[str | None] = mapped_column(String(2048))
    target_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_geom: Mapped[BaseGeometry | None] = mapped_column(GeometryType("GEOMETRY"), nullable=True)
    ttl_seconds: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(64))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # source-specific ids (event id, …)
    priority: Mapped[int] = mapped_column(Integer, default=3, server_default="3")  # lane; service.PRIORITY_*
    # True from a life-critical notification's first commit (its first batch, already claimable) until the
    # rest of its recipients are written (``enqueue.append_recipients``); never finished while True.
    appending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # True once a follow-up references it (set with the row lock by ``recipients_who_received``): a
    # checkpoint that had to wait for that lock reads the mark on the row it updates, so residents it
    # writes down after the follow-up was addressed still get the follow-up.
    followed_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    targeted: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    gone: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    retrying: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    half_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryBatch(Base):
    """A few hundred recipients of one notification: the unit a worker leases, sends and records.

    ``pending_ids`` shrinks as recipients reach a final state; ``sent_ids`` is who got it, which is
    exactly who a cancellation or correction must reach.
    """

    __tablename__ = "delivery_batches"
    __table_args__ = (
        Index("ix_delivery_batches_claim", "status", "not_before"),
        Index("ix_delivery_batches_lane", "status", "priority", "not_before"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | leased | done | cancelled
    pending_ids: Mapped[list[int]] = mapped_column(JSON)
    sent_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    retrying: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[int] = mapped_column(Integer, default=3, server_default="3")  # the notification's lane


class DeliveryFailure(Base):
    """One row per failed attempt to one subscription, so operators can see why."""

    __tablename__ = "delivery_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NotificationReference(Base):
    """Every earlier notification a follow-up corrects or cancels (``Notification.reference_id`` holds the first).

    A JMA 取消 can withdraw several notifications at once (one per municipality group or per report of the
    same event); each must lead to the correction, for late deliveries of it and for the public feeds.
    """

    __tablename__ = "notification_references"

    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True)
    reference_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True, index=True
    )
