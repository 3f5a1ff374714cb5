"""Operator notices and residents' acknowledgements of the important ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base


class Notice(Base):
    """A notice shown in the portal; ``municipality_codes`` empty = the whole prefecture."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[dict[str, str]] = mapped_column(JSON)  # lang -> text; "ja" always present
    body: Mapped[dict[str, str]] = mapped_column(JSON)
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    municipality_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_by: Mapped[str] = mapped_column(String(64))
    notification_id: Mapped[int | None] = mapped_column(Integer)  # set when it was also pushed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NoticeAck(Base):
    """A resident saw an important notice; deleted with the subscription (no identifier outlives it)."""

    __tablename__ = "notice_acks"
    __table_args__ = (UniqueConstraint("notice_id", "subscription_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    acked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
