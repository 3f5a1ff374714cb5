"""指定河川洪水予報 (VXKO): which river, how bad (レベル２–５), which municipalities may flood, station levels."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.common import Telegram
from pushsvc.feeds.jma.xmlsafe import NS_EB, child, children, number, text

# Kind codes of 指定河川洪水予報: 10 解除系, 20 氾濫注意 (Lv2), 30 氾濫警戒 (Lv3), 40 氾濫危険 (Lv4), 50 氾濫発生 (Lv5)
FLOOD_LEVELS = {"1": 0, "2": 2, "3": 3, "4": 4, "5": 5}
# Pre-2013 telegrams (はん濫注意情報, Code 00) only say it in words
FLOOD_WORDS = (("発生", 5), ("危険", 4), ("警戒", 3), ("注意", 2))


@dataclass(frozen=True)
class StationLevel:
    code: str
    name: str
    location: str
    level_m: float | None  # 現況 water level; None when 未計算/欠測
    condition: str  # 上昇 | 下降 | 正常 | 未計算 …
    stage: int | None  # 危険度レベル (1–5) of the current level; 9 = not computed


@dataclass(frozen=True)
class FloodArea:
    """A municipality the telegram says may be flooded (浸水想定地区)."""

    city_code: str
    city_name: str
    station_code: str
    districts: str


@dataclass(frozen=True)
class FloodForecastTelegram(Telegram):
    forecast_area: tuple[str, str]  # 予報区域 (code, name), e.g. 880803000100 四万十川
    rivers: tuple[tuple[str, str], ...]
    kind_name: str  # 氾濫警戒情報, レベル２氾濫注意報, 氾濫注意情報解除, …
    kind_code: str
    flood_areas: tuple[FloodArea, ...]
    stations: tuple[StationLevel, ...]
    main_text: tuple[str, ...]

    @property
    def level(self) -> int:
        """警戒レベル 2–5, or 0 when this telegram lifts the forecast."""
        if "解除" in self.kind_name:
            return 0
        by_code = FLOOD_LEVELS.get(self.kind_code[:1], 0)
        return by_code or next((level for word, level in FLOOD_WORDS if word in self.kind_name), 0)


def _flood_areas(body: Element | None, ns: str) -> tuple[FloodArea, ...]:
    out: list[FloodArea] = []
    for warning in children(body, ns, "Warning"):
        for item in children(warning, ns, "Item"):
            if not text(item, ns, "Kind", "Name").startswith("浸水想定地区"):
                continue
            for area in children(child(item, ns, "Areas"), ns, "Area"):
                out.append(
                    FloodArea(
                        city_code=text(area, ns, "CityCode"),
                        city_name=text(area, ns, "City"),
                        station_code=text(area, ns, "Code"),
                        districts=text(area, ns, "SubCityList"),
                    )
                )
    return tuple(out)


def _main_text(body: Element | None, ns: str) -> tuple[str, ...]:
    return tuple(
        text(prop, ns, "Text")
        for warning in children(body, ns, "Warning")
        for item in children(warning, ns, "Item")
        for prop in children(child(item, ns, "Kind"), ns, "Property")
        if text(prop, ns, "Type") == "主文"
    )


def _stations(body: Element | None, ns: str) -> tuple[StationLevel, ...]:
    out: list[StationLevel] = []
    for infos in children(body, ns, "MeteorologicalInfos"):
        if infos.get("type") != "水位・流量情報":
            continue
        for item in children(child(infos, ns, "TimeSeriesInfo"), ns, "Item"):
            part = child(item, ns, "Kind", "Property", "WaterLevelPart")
            levels = children(part, NS_EB, "WaterLevel")
            now = [w for w in levels if w.get("refID") == "1"]
            level = next((w for w in now if w.get("type") == "水位"), None)
            stage = next((w for w in now if w.get("type") == "レベル"), None)
            station = child(item, ns, "Station")
            out.append(
                StationLevel(
                    code=text(station, ns, "Code"),
                    name=text(station, ns, "Name"),
                    location=text(station, ns, "Location"),
                    level_m=number(text(level)) if level is not None else None,
                    condition=level.get("condition", "") if level is not None else "",
                    stage=int(text(stage)) if stage is not None and text(stage).isdigit() else None,
                )
            )
    return tuple(out)


def parse_flood(base: Telegram, body: Element | None, ns: str) -> FloodForecastTelegram:
    items = base.head.headline_items
    area_item = next((i for i in items if i.info_type.endswith("（予報区域）")), None)
    river_item = next((i for i in items if i.info_type.endswith("（河川）")), None)
    lead = area_item or river_item
    return FloodForecastTelegram(
        base.control,
        base.head,
        base.telegram_id,
        forecast_area=area_item.areas[0] if area_item and area_item.areas else ("", base.head.title),
        rivers=river_item.areas if river_item else (),
        kind_name=lead.kind_name if lead else "",
        kind_code=lead.kind_code if lead else "",
        flood_areas=_flood_areas(body, ns),
        stations=_stations(body, ns),
        main_text=_main_text(body, ns),
    )
