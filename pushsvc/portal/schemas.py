"""What residents, the public feeds and operators send and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pushsvc import i18n
from pushsvc.evacuation.schemas import PlaceEvacuation
from pushsvc.shelters.schemas import Capacity, Hazard, SiteOut
from pushsvc.types import BodiesByLang, Category, TitlesByLang

SEVERITY_RANK = {"info": 0, "advisory": 1, "warning": 2, "emergency": 3}
SEVERITY_LABELS = {
    "info": {"ja": "お知らせ", "en": "Information"},
    "advisory": {"ja": "注意", "en": "Advisory"},
    "warning": {"ja": "警戒", "en": "Warning"},
    "emergency": {"ja": "緊急", "en": "Emergency"},
}
CATEGORY_LABELS = {
    "evacuation": {"ja": "避難情報", "en": "Evacuation"},
    "river": {"ja": "河川水位", "en": "River levels"},
    "weather": {"ja": "気象警報・注意報", "en": "Weather warnings"},
    "landslide": {"ja": "土砂災害", "en": "Landslides"},
    "quake_tsunami": {"ja": "地震・津波", "en": "Earthquakes and tsunami"},
    "area_info": {"ja": "地域のお知らせ", "en": "Area information"},
}
# Which evacuation-site designation fits an alert, when its source did not say (extra["hazards"]).
HAZARDS_BY_CATEGORY: dict[str, tuple[Hazard, ...]] = {
    "river": ("flood",),
    "weather": ("flood", "landslide"),
    "landslide": ("landslide",),
    "quake_tsunami": ("tsunami", "earthquake"),
    "evacuation": ("flood", "landslide"),
    "area_info": (),
}
ATTRIBUTION_BY_SOURCE = {"jma": "出典：気象庁", "river": "国土交通省「川の防災情報」"}


def text_in(texts: dict[str, str], lang: str) -> str:
    """The text in ``lang``, else やさしい日本語, else Japanese (always present), else any."""
    return i18n.pick(texts, lang) or next(iter(texts.values()), "")


class MunicipalityRef(BaseModel):
    code: str
    name: str


class AlertOut(BaseModel):
    id: int
    source: str
    category: str
    severity: str
    status: str
    active: bool
    lang: str = Field(description="language of title/body: the one asked for, or 'ja' when not translated")
    title: str
    body: str
    url: str
    municipalities: list[MunicipalityRef]
    created_at: datetime
    expires_at: datetime
    attribution: str | None = None
    parameters: dict[str, str] = Field(
        default_factory=dict, description="CAP parameters, e.g. EvacuationLevel for 避難情報"
    )
    level: int | None = Field(default=None, description="警戒レベル相当, where the source gives one")
    issued_at: datetime | None = Field(
        default=None,
        description="when the source issued what is in force "
        "(JMA, river gauges: the alert state, not the notification)",
    )
    confirmed_at: datetime | None = Field(default=None, description="when the source last said it still holds")
    stale: bool = Field(default=False, description="the source has gone silent since confirmed_at")
    action: str | None = Field(default=None, description="what to do, in the resident's language, when known")


class AlertList(BaseModel):
    alerts: list[AlertOut]
    attribution: list[str]


class AlertPage(AlertOut):
    translations: dict[str, dict[str, str]] = Field(description="lang -> {title, body}, every language given")
    category_label: str
    severity_label: str
    cap_url: str
    references: int | None = Field(description="the alert this one corrects or cancels (the first, if several)")
    corrects: list[int] = Field(
        default_factory=list, description="every alert this one corrects (a JMA 取消 can withdraw several)"
    )


class PortalSite(SiteOut):
    open: bool = Field(default=False, description="opened by the municipality (shelters domain)")
    capacity: Capacity | None = Field(default=None, description="available | crowded | full, when open")
    capacity_label: str | None = None


class ShelterGroup(BaseModel):
    hazard: Hazard
    label: str
    sites: list[PortalSite] = Field(description="open sites first (nearest first), then the nearest others")


class NoticeOut(BaseModel):
    id: int
    important: bool
    lang: str
    title: str
    body: str
    municipality_codes: list[str]
    created_at: datetime
    expires_at: datetime
    acknowledged: bool = False


class PlaceView(BaseModel):
    kind: str
    label: str | None
    municipality: MunicipalityRef
    lat: float | None
    lon: float | None
    alerts: list[AlertOut]
    rivers: list[dict[str, Any]]
    shelters: list[ShelterGroup]
    evacuation: PlaceEvacuation | None = Field(
        default=None, description="避難情報 in force at this place and open shelters suitable for its hazards"
    )
    recent: list[AlertOut] = Field(default_factory=list, description="recent alerts here no longer in force")


class PortalOut(BaseModel):
    subscription_id: int
    lang: str
    places: list[PlaceView]
    notices: list[NoticeOut]
    attribution: list[str]


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: TitlesByLang = Field(examples=[{"ja": "防災訓練のお知らせ"}])
    body: BodiesByLang = Field(default_factory=dict)
    important: bool = False
    municipality_codes: list[str] = Field(
        default_factory=list, max_length=100, description="empty = every resident of the prefecture"
    )
    expires_at: datetime
    push: bool = Field(default=False, description="also send it as a Web Push notification (category area_info)")
    category: Category = "area_info"

    @field_validator("title")
    @classmethod
    def _ja_title(cls, v: dict[str, str]) -> dict[str, str]:
        if not (v.get("ja") or "").strip():
            raise ValueError("a Japanese title is required (other languages fall back to it)")
        if any(len(t) > 200 for t in v.values()) or len(v) > 20:
            raise ValueError("titles are at most 200 characters, in at most 20 languages")
        return v

    @field_validator("body")
    @classmethod
    def _short_body(cls, v: dict[str, str]) -> dict[str, str]:
        if any(len(t) > 4000 for t in v.values()) or len(v) > 20:
            raise ValueError("bodies are at most 4,000 characters, in at most 20 languages")
        return v

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("expires_at needs a time zone, e.g. 2026-12-01T18:00:00+09:00")
        return v


class NoticeAdminOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: dict[str, str]
    body: dict[str, str]
    important: bool
    municipality_codes: list[str]
    published_by: str
    notification_id: int | None
    created_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None
