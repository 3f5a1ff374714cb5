from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pushsvc.types import BodiesByLang, Line, Severity, TitlesByLang


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    municipality_codes: list[Line] = Field(default_factory=list, max_length=100)
    area: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon (WGS84)")


class NotificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: TitlesByLang = Field(description="language -> title; 'ja' required", examples=[{"ja": "避難所開設"}])
    body: BodiesByLang = Field(default_factory=dict)
    category: Line
    severity: Severity = "info"
    target: TargetIn
    url: Line | None = Field(default=None, max_length=2048)
    ttl_seconds: int | None = Field(
        default=None, ge=0, le=28 * 86400, description="default by kind: warnings and emergencies 6 h, the rest a day"
    )
    topic: Line | None = Field(default=None, max_length=64)
    test: bool = False
    priority: int | None = Field(
        default=None, ge=0, le=3, description="lane, 0 first (EEW/tsunami); default from category and severity"
    )


class DeliveryCounters(BaseModel):
    """What happened to a notification's recipients so far; operators' views show the same numbers."""

    model_config = ConfigDict(from_attributes=True)

    targeted: int
    sent: int
    gone: int
    failed: int
    retrying: int
    expired: int


class NotificationOut(DeliveryCounters):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    category: str
    severity: str
    status: str
    test: bool
    title: dict[str, str]
    url: str | None
    target_codes: list[str]
    created_at: datetime
    first_sent_at: datetime | None
    half_sent_at: datetime | None
    last_sent_at: datetime | None
    finished_at: datetime | None
