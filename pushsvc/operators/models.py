"""Operator tables: accounts with hashed tokens, messages they write, saved areas and the audit log.

A message is our own row referencing the delivery notification(s) it became; delivery's tables are
never extended here. ``message_municipalities`` holds every municipality a message's target touches,
so scope checks and history filters are plain indexed SQL on both backends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, event, func
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base, GeometryType

PREFECTURE = "prefecture"
MUNICIPALITY = "municipality"


class Operator(Base):
    """A person (or system) allowed to send. Only a SHA-256 of the token is stored."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # prefecture | municipality
    municipalities: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty for prefecture staff
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AreaPreset(Base):
    """A saved target (a river basin, a tsunami inundation zone) picked by name instead of redrawn."""

    __tablename__ = "area_presets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType("GEOMETRY"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OperatorMessage(Base):
    """What an operator asked for, and where it stands: awaiting approval, scheduled, sent, cancelled…

    ``kind`` is ``message`` for an original, ``cancellation``/``correction`` for a follow-up that
    references it; follow-ups go to exactly the subscriptions that received the original.
    """

    __tablename__ = "operator_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="message")
    status: Mapped[str] = mapped_column(String(24), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("operator_messages.id"))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[dict[str, str]] = mapped_column(JSON)
    body: Mapped[dict[str, str]] = mapped_column(JSON)
    target: Mapped[dict[str, Any]] = mapped_column(JSON)  # as submitted (codes, area, circle, preset)
    area: Mapped[BaseGeometry | None] = mapped_column(GeometryType("GEOMETRY"), nullable=True)
    target_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    prefecture_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    ttl_seconds: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | cap
    cap_identifier: Mapped[str | None] = mapped_column(String(255), index=True)
    cap_sender: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")  # why it expired / was refused, for the author
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approval_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # cancelled/corrected/expired
    # Set by domains that send through operators (避難情報): their notification fields and push Topic.
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MessageMunicipality(Base):
    """One row per municipality a message's target touches (scope and history filters)."""

    __tablename__ = "message_municipalities"

    message_id: Mapped[int] = mapped_column(ForeignKey("operator_messages.id", ondelete="CASCADE"), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(5), primary_key=True, index=True)


class AuditEntry(Base):
    """Who did what, when. Append-only: the ORM refuses updates and deletes of these rows."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    operator_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: survives anything
    operator_name: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40), index=True)
    message_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(*_: object) -> None:
    raise AuditLogIsAppendOnly("audit entries are never changed or deleted")
