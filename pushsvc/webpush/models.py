"""The one table of the Web Push library: the fingerprint of the key subscribers were given.

Only ``webpush.identity`` reads and writes it, at start; it lives here, not with the subscriptions,
so the key wiring needs no domain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from pushsvc.db import Base


class VapidKeyRecord(Base):
    """The public key subscribers were given; a different key at start means every subscription breaks."""

    __tablename__ = "vapid_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    fingerprint: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
