"""震度速報 (VXSE51), 震源に関する情報 (VXSE52), 震源・震度情報 (VXSE53): hypocentre, magnitude, intensities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.common import Telegram, parse_datetime
from pushsvc.feeds.jma.xmlsafe import NS_EB, child, children, number, text

INTENSITY_ORDER = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")
INTENSITY_JA = {"5-": "5弱", "5+": "5強", "6-": "6弱", "6+": "6強"}
_DEPTH = re.compile(r"[+-][\d.]+[+-][\d.]+([+-]\d+)/")


def intensity_rank(value: str) -> int:
    """1..9 along 震度1…7; 0 for unknown values such as 震度５弱以上未入電."""
    return INTENSITY_ORDER.index(value) + 1 if value in INTENSITY_ORDER else 0


def intensity_ja(value: str) -> str:
    return "震度" + INTENSITY_JA.get(value, value)


@dataclass(frozen=True)
class Hypocentre:
    name: str
    code: str
    coordinate: str  # ISO 6709 as JMA writes it, e.g. +34.8+138.5-20000/
    description: str


@dataclass(frozen=True)
class AreaIntensity:
    """Intensity of one 地震情報細分区域 (level ``area``) or one municipality (level ``city``)."""

    level: str  # area | city
    code: str
    name: str
    max_int: str
    area_code: str = ""  # for a city: the 地震情報細分区域 it lies in


@dataclass(frozen=True)
class QuakeTelegram(Telegram):
    origin_time: datetime | None
    hypocentre: Hypocentre | None
    magnitude: float | None  # None when JMA gives NaN (Ｍ不明)
    magnitude_text: str
    max_int: str  # "" when the telegram carries no intensities (VXSE52, 遠地地震)
    intensities: tuple[AreaIntensity, ...]
    forecast_comment: str = ""  # 津波の心配はありません, 津波警報等を発表中です, …

    @property
    def depth_km(self) -> int | None:
        """From the ISO 6709 coordinate (``+37.5+137.2-10000/``): metres below sea level, in km."""
        m = _DEPTH.search(self.hypocentre.coordinate if self.hypocentre else "")
        return abs(int(m.group(1))) // 1000 if m else None


def _magnitude(quake: Element | None) -> tuple[float | None, str]:
    mag = child(quake, NS_EB, "Magnitude")
    if mag is None:
        return None, ""
    return number(text(mag)), mag.get("description", "")


def _intensities(obs: Element | None, ns: str) -> tuple[AreaIntensity, ...]:
    out: list[AreaIntensity] = []
    for pref in children(obs, ns, "Pref"):
        for area in children(pref, ns, "Area"):
            out.append(AreaIntensity("area", text(area, ns, "Code"), text(area, ns, "Name"), text(area, ns, "MaxInt")))
            out.extend(
                AreaIntensity(
                    "city", text(c, ns, "Code"), text(c, ns, "Name"), text(c, ns, "MaxInt"), text(area, ns, "Code")
                )
                for c in children(area, ns, "City")
            )
    return tuple(out)


def parse_quake(base: Telegram, body: Element | None, ns: str) -> QuakeTelegram:
    quake = child(body, ns, "Earthquake")
    hypo_area = child(quake, ns, "Hypocenter", "Area")
    coord = child(hypo_area, NS_EB, "Coordinate")
    origin = text(quake, ns, "OriginTime")
    magnitude, magnitude_text = _magnitude(quake)
    obs = child(body, ns, "Intensity", "Observation")
    return QuakeTelegram(
        base.control,
        base.head,
        base.telegram_id,
        origin_time=parse_datetime(origin, "OriginTime") if origin else None,
        hypocentre=Hypocentre(
            name=text(hypo_area, ns, "Name"),
            code=text(hypo_area, ns, "Code"),
            coordinate=text(coord),
            description=coord.get("description", "") if coord is not None else "",
        )
        if hypo_area is not None
        else None,
        magnitude=magnitude,
        magnitude_text=magnitude_text,
        max_int=text(obs, ns, "MaxInt"),
        intensities=_intensities(obs, ns),
        forecast_comment=text(body, ns, "Comments", "ForecastComment", "Text"),
    )
