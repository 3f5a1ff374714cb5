"""Hazard names, their columns in the published data, and the site as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from pushsvc import i18n
from pushsvc.types import Line

SHELTER_CREDIT = "国土地理院 指定緊急避難場所データ"

Hazard = Literal["flood", "landslide", "storm_surge", "earthquake", "tsunami", "large_fire", "inland_flood", "volcano"]
HAZARDS: tuple[Hazard, ...] = get_args(Hazard)
# Column name in the GSI data (the standard open-data layout prefixes 災害種別_).
HAZARD_COLUMNS: dict[Hazard, str] = {
    "flood": "洪水",
    "landslide": "崖崩れ、土石流及び地滑り",
    "storm_surge": "高潮",
    "earthquake": "地震",
    "tsunami": "津波",
    "large_fire": "大規模な火事",
    "inland_flood": "内水氾濫",
    "volcano": "火山現象",
}


def hazard_bit(hazard: Hazard) -> int:
    return 1 << HAZARDS.index(hazard)


def hazards_of(mask: int) -> list[Hazard]:
    return [h for h in HAZARDS if mask & hazard_bit(h)]


def hazard_label(hazard: Hazard, lang: str) -> str:
    """The hazard's name in ``lang``, from the message catalogue (pushsvc.i18n: shelter.hazard.*)."""
    return i18n.text(f"shelter.hazard.{hazard}", lang)


class SiteOut(BaseModel):
    id: str
    name: str
    address: str
    municipality_code: str
    lat: float
    lon: float
    distance_m: int
    hazards: list[Hazard]
    also_evacuation_centre: bool


class NearestOut(BaseModel):
    hazard: Hazard | None
    sites: list[SiteOut]
    attribution: str = SHELTER_CREDIT


class ImportSummary(BaseModel):
    read: int
    imported: int
    removed: int
    skipped: list[str]
    municipalities: int


# --- open/closed state ---------------------------------------------------------------------------

Capacity = Literal["available", "crowded", "full"]
CAPACITY_LABELS: dict[str, dict[str, str]] = {
    "available": {"ja": "空き", "en": "Space available"},
    "crowded": {"ja": "混雑", "en": "Crowded"},
    "full": {"ja": "満員", "en": "Full"},
}
# Japanese words the prefecture's shelter system may send instead of ours.
CAPACITY_IN: dict[str, Capacity] = {"空き": "available", "混雑": "crowded", "満員": "full"}


def gsi_map_url(lat: float, lon: float) -> str:
    """地理院地図 at the site (no API key, no tracking)."""
    return f"https://maps.gsi.go.jp/#17/{lat:.6f}/{lon:.6f}/"


class ShelterStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open: bool
    capacity: Line = Field(default="available", description="available | crowded | full (or 空き | 混雑 | 満員)")


class ShelterStateItem(ShelterStateIn):
    id: Line = Field(min_length=1, max_length=64, description="共通ID of the site")


class ShelterStateOut(BaseModel):
    id: str
    name: str
    municipality_code: str
    hazards: list[Hazard]
    open: bool
    capacity: Capacity
    capacity_label: str
    updated_at: datetime | None
    updated_by: str


class OpenSiteOut(SiteOut):
    capacity: Capacity
    capacity_label: str
    map_url: str
