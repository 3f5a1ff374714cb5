"""避難情報 tables: saved district areas and evacuation orders with their current state.

An order is one municipality's 高齢者等避難 / 避難指示 / 緊急安全確保 for an area; raising, lowering and
lifting change the same row (and the same push Topic), so what is "in force" is what the
municipality last said. Each change that reached residents is one operator message (operators domain);
``history`` lists them in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base, GeometryType


class District(Base):
    """A named part of one municipality (潮江地区, a 自主防災会 area) that orders can be issued for."""

    __tablename__ = "evacuation_districts"
    __table_args__ = (UniqueConstraint("municipality_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(5), index=True)
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80), default="")
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType("GEOMETRY"))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EvacuationOrder(Base):
    """One order and where it stands: ``pending`` (first issue awaiting approval), ``in_force``,
    ``lifted`` (解除), or ``withdrawn`` (never approved, reached nobody).

    A change that waits for a second operator is kept in ``pending`` (the new level and fields) while
    the order stays at its current level; it is applied when the message is approved.
    """

    __tablename__ = "evacuation_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(5), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    level: Mapped[int] = mapped_column(Integer, default=0)  # 3, 4, 5 in force; 0 before issue / after 解除
    hazards: Mapped[list[str]] = mapped_column(JSON, default=list)
    area_kind: Mapped[str] = mapped_column(String(16))  # municipality | districts | polygon
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    area: Mapped[BaseGeometry | None] = mapped_column(GeometryType("GEOMETRY"), nullable=True)
    area_label: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # lang -> "高知市 潮江地区"
    reason: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    shelter_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    topic: Mapped[str] = mapped_column(String(64), default="")
    message_id: Mapped[int | None] = mapped_column(Integer)  # the operator message now in force
    notification_id: Mapped[int | None] = mapped_column(Integer)
    pending_message_id: Mapped[int | None] = mapped_column(Integer, index=True)
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    single_issuer: Mapped[bool] = mapped_column(Boolean, default=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="console")  # console | api | cap
    cap_sender: Mapped[str | None] = mapped_column(String(255))
    cap_identifier: Mapped[str | None] = mapped_column(String(255), index=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
