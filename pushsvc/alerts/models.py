"""Tables of the alert-state domain: what each source says is in force per area, and every change of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base


class AlertState(Base):
    """One (source, phenomenon, area, district): the value the source last stated, or that it ended.

    A row is never deleted: a lifted alert keeps its row (status ``lifted``) and a later issuance reuses it,
    so the history in ``alert_transitions`` hangs off one id. ``notification_id`` is the notification that
    announced the current value (what the public feeds show for it).
    """

    __tablename__ = "alert_states"
    __table_args__ = (
        UniqueConstraint(
            "source", "phenomenon", "area", "district", name="uq_alert_states_source_phenomenon_area_district"
        ),
        Index("ix_alert_states_status_area", "status", "area"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    phenomenon: Mapped[str] = mapped_column(String(128))
    area: Mapped[str] = mapped_column(String(5))  # N03 municipality code
    district: Mapped[str] = mapped_column(String(64), default="")  # "" = the whole municipality
    product: Mapped[str] = mapped_column(String(64))  # the level table's key, e.g. 大雨警報
    name: Mapped[dict[str, str]] = mapped_column(JSON)  # {"ja": …, "en": …}
    level: Mapped[int | None] = mapped_column(Integer)  # 警戒レベル相当
    severity: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # in_force | lifted | cancelled | expired
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # came into force (source's time)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # value last changed
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # last statement saying it
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    statement: Mapped[str] = mapped_column(String(255))  # ref of the statement that set the current value
    stale: Mapped[bool] = mapped_column(Boolean, default=False)  # its source has gone silent
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))


class AlertTransition(Base):
    """One change of one alert, with the statement that caused it and the notifications that told residents.

    A 取消 finds what to withdraw here by the cancelled statement's ref, and reaches exactly the
    recipients of ``notification_ids``.
    """

    __tablename__ = "alert_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert_states.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str] = mapped_column(String(255), index=True)
    change: Mapped[str] = mapped_column(String(16))  # issued|raised|lowered|lifted|cancelled|corrected|expired
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    notification_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)  # undone by a 取消 or 訂正
    undoes: Mapped[str | None] = mapped_column(String(16))  # for cancelled/corrected: the change withdrawn
    stated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the source's time for it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
