"""KPI events the web app may report, and the summary the prefecture reports."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pushsvc.types import Category

# Reported by the resident page and the service worker; subscriptions are recorded by the server itself.
ClientEvent = Literal["page_view_portal", "page_view_resident", "install", "notification_open"]
VIEW_EVENTS = frozenset({"page_view_portal", "page_view_resident"})
UNIQUE = "portal_unique"
INDICATORS: dict[str, str] = {
    "page_view_portal": "ポータル閲覧数",
    "page_view_resident": "登録ページ閲覧数",
    UNIQUE: "ポータル訪問者数（日別ユニーク）",
    "install": "アプリ追加数",
    "notification_open": "通知開封数",
    "subscription_created": "登録数",
    "subscription_deleted": "登録解除数",
}
CSV_HEADER = ["日付", "市区町村コード", "市区町村名", "指標", "指標コード", "区分", "件数"]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ClientEvent
    municipality: str | None = Field(default=None, pattern=r"^\d{5}$", description="5-digit code, if known")
    category: Category | None = Field(default=None, description="of the notification opened")


class Period(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")


class CodeCount(BaseModel):
    code: str
    name: str
    count: int


class ActiveSubscribers(BaseModel):
    total: int
    by_municipality: list[CodeCount]


class FiscalYearUsers(BaseModel):
    label: str = Field(examples=["R6"])
    fiscal_year: str = Field(examples=["FY2024"])
    start: date
    end: date
    new: int
    deleted: int
    users_at_end: int = Field(description="subscriptions created minus deleted up to the end of the year (or now)")
    target: int | None
    achieved: float | None


class DayAccess(BaseModel):
    day: date
    views: int
    unique: int


class PortalAccess(BaseModel):
    total: int
    unique_day_sum: int
    by_day: list[DayAccess]


class DeliveryCategory(BaseModel):
    category: str
    notifications: int
    targeted: int
    sent: int
    success_rate: float | None
    median_s: float | None
    p95_s: float | None


class ConnectedSystems(BaseModel):
    count: int
    feed_sources: list[str]
    active_sources: dict[str, int] = Field(description="notification source -> notifications in the period")


class KpiSummary(BaseModel):
    period: Period
    active_subscribers: ActiveSubscribers
    fiscal_years: list[FiscalYearUsers]
    installs: int
    portal_access: PortalAccess
    notifications_opened: int
    delivery: list[DeliveryCategory]
    connected_systems: ConnectedSystems


class ExportRow(BaseModel):
    day: date
    municipality_code: str
    municipality_name: str
    indicator: str
    indicator_code: str
    category: str
    count: int
