"""Request and response shapes of the operator API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pushsvc.delivery.schemas import DeliveryCounters
from pushsvc.types import Category, Lat, Line, Lon, Paragraph, Severity, UtcDateTime

Text = dict[str, str]
LangCode = Annotated[str, Field(max_length=16)]


class Translation(BaseModel):
    """One language's title and body; checked like the Japanese ones, so a bad translation is refused up front."""

    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=1, max_length=200)
    body: Paragraph = Field(default="", max_length=2000)


Translations = dict[LangCode, Translation]


class CircleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Lat
    lon: Lon
    radius_m: float = Field(gt=0, le=100_000, allow_inf_nan=False)


class TargetIn(BaseModel):
    """Any mix of municipalities, a drawn polygon, a circle and a saved preset: their union is reached."""

    model_config = ConfigDict(extra="forbid")

    municipality_codes: list[str] = Field(default_factory=list, max_length=100)
    area: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon (WGS84)")
    circle: CircleIn | None = None
    preset: Line | None = Field(default=None, max_length=80, description="name of a saved area preset")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=1, max_length=200, description="Japanese title")
    body: Paragraph = Field(default="", max_length=2000, description="Japanese text")
    lang: Translations = Field(
        default_factory=dict,
        max_length=20,
        description="translations: language -> {'title', 'body'}",
        examples=[{"en": {"title": "Shelter open", "body": "Kochi City Hall is open as a shelter."}}],
    )
    category: Category
    severity: Severity = "info"
    target: TargetIn
    ttl_seconds: int = Field(default=86400, ge=60, le=28 * 86400)
    test: bool = False
    scheduled_at: datetime | None = None


class FollowUpIn(BaseModel):
    """A correction's new text (required) or a cancellation's own wording (optional)."""

    model_config = ConfigDict(extra="forbid")

    title: Line | None = Field(default=None, min_length=1, max_length=200)
    body: Paragraph | None = Field(default=None, max_length=2000)
    lang: Translations = Field(default_factory=dict, max_length=20)
    reason: Paragraph = Field(default="", max_length=500)


class PreviewOut(BaseModel):
    recipients: int = Field(description="unique subscriptions (a person with two places counts once)")
    by_municipality: dict[str, int]
    by_lang: dict[str, int]
    known_dead: int = Field(description="of the recipients, subscriptions failing repeatedly (see docs)")
    prefecture_wide: bool
    needs_approval: bool
    approval_reason: str | None = Field(default=None, description="why a second operator must approve")
    municipalities: list[str]
    reach_limited_to: list[str] | None = Field(
        default=None,
        description="a municipal operator reaches only residents whose place or current location "
        "resolves to these municipalities, whatever the area drawn (null: the whole prefecture)",
    )
    window_residents: int = Field(
        default=0, description="residents this operator reaches within the approval window, this message included"
    )
    window_municipalities: int = Field(default=0, description="municipalities likewise")


class MessageAccepted(BaseModel):
    id: int
    recipients: int
    status: str


class DeliveryOut(DeliveryCounters):
    status: str


class TimingOut(BaseModel):
    accepted: UtcDateTime
    approved: UtcDateTime | None
    scheduled: UtcDateTime | None
    first_sent: UtcDateTime | None
    half_sent: UtcDateTime | None
    last_sent: UtcDateTime | None
    finished: UtcDateTime | None


class MessageOut(BaseModel):
    id: int
    kind: str
    status: str
    note: str
    author: str
    approver: str | None
    reference_id: int | None
    category: str
    severity: str
    title: Text
    body: Text
    target: dict[str, Any]
    municipalities: list[str]
    prefecture_wide: bool
    test: bool
    recipients: int
    source: str
    approval_deadline: UtcDateTime | None
    follow_ups: list[int]
    delivery: DeliveryOut | None
    timing: TimingOut


class OperatorOut(BaseModel):
    id: int
    name: str
    role: Literal["prefecture", "municipality"]
    municipalities: list[str]


class BootstrapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=80, description="the first (prefecture) operator's name")


class OperatorCreated(OperatorOut):
    token: str = Field(description="shown once; send as 'Authorization: Bearer <token>'")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDateTime
    operator_id: int | None
    operator_name: str | None
    action: str
    message_id: int | None
    detail: dict[str, Any]


class PresetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=80, pattern=r"^[^\s/][^/]*$")
    description: Paragraph = Field(default="", max_length=500)
    area: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (WGS84)")


class PresetOut(BaseModel):
    name: str
    description: str
    municipalities: list[str]
