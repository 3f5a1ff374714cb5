"""避難情報 in and out: what an operator (or a CAP source) issues, and what residents and open data see."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pushsvc.shelters.schemas import Hazard, OpenSiteOut, ShelterStateOut
from pushsvc.types import Line, Paragraph

Level = Literal[3, 4, 5]
AreaKind = Literal["municipality", "districts", "polygon"]


class AreaIn(BaseModel):
    """The whole municipality, saved districts of it, or a drawn polygon inside it."""

    model_config = ConfigDict(extra="forbid")

    kind: AreaKind
    districts: list[Line] = Field(default_factory=list, max_length=100, description="saved district names")
    polygon: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon (WGS84)")


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    municipality_code: str = Field(pattern=r"^\d{5}$")
    level: Level
    hazards: list[Hazard] = Field(min_length=1, max_length=8)
    area: AreaIn
    reason: Line = Field(default="", max_length=300, description="why (e.g. 土砂災害警戒情報の発表)")
    note: Paragraph = Field(default="", max_length=500, description="the operator's own words, sent as written")
    shelters: list[Line] = Field(default_factory=list, max_length=50, description="共通ID of sites opened for it")
    test: bool = False


class OrderChangeIn(BaseModel):
    """Raise or lower the level; hazards, shelters, reason and note stay as they were unless given."""

    model_config = ConfigDict(extra="forbid")

    level: Level
    hazards: list[Hazard] | None = Field(default=None, min_length=1, max_length=8)
    shelters: list[Line] | None = Field(default=None, max_length=50)
    reason: Line | None = Field(default=None, max_length=300)
    note: Paragraph | None = Field(default=None, max_length=500)


class LiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Paragraph = Field(default="", max_length=500)


class DistrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=80, pattern=r"^[^\s/][^/]*$")
    name_en: Line = Field(default="", max_length=80)
    area: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (WGS84) inside the municipality")


class DistrictOut(BaseModel):
    municipality_code: str
    name: str
    name_en: str
    area: dict[str, Any]


class MunicipalityOut(BaseModel):
    code: str
    name: str


class PendingOut(BaseModel):
    level: int
    action: str
    message_id: int


class OrderOut(BaseModel):
    """An order as operators see it."""

    id: int
    municipality: MunicipalityOut
    status: str
    level: int
    name: dict[str, str] = Field(description="高齢者等避難 / 避難指示 / 緊急安全確保 by language")
    severity: str
    hazards: list[Hazard]
    area_kind: str
    districts: list[str]
    area_label: dict[str, str]
    reason: str
    note: str
    shelters: list[ShelterStateOut]
    topic: str
    message_id: int | None
    pending: PendingOut | None
    single_issuer: bool
    test: bool
    source: str
    created_at: datetime
    updated_at: datetime
    lifted_at: datetime | None
    history: list[dict[str, Any]]


class PublicOrderOut(BaseModel):
    """An order in force, as open data and in the portal."""

    id: int
    municipality: MunicipalityOut
    level: int
    name: str
    title: str
    body: str
    lang: str
    severity: str
    hazards: list[Hazard]
    hazard_labels: list[str]
    area_kind: str
    districts: list[str]
    area_label: str
    area: dict[str, Any] | None
    shelters: list[ShelterStateOut]
    alert_id: int | None = Field(description="its entry in the public alert feeds (/api/v1/alerts/{id})")
    cap_url: str | None
    issued_at: datetime
    updated_at: datetime


class EvacuationList(BaseModel):
    orders: list[PublicOrderOut]
    attribution: list[str]


class PlaceEvacuation(BaseModel):
    """For one of a resident's places: the orders in force there (highest level first) and the open
    sites suitable for all their hazards, nearest first."""

    orders: list[PublicOrderOut]
    shelters: list[OpenSiteOut]
