"""緊急地震速報 (VXSE43 警報; VXSE44/45 予報 are parsed so they can be logged, never pushed).

A warning names the 地震情報細分区域 where strong shaking (震度5弱 or more somewhere) is expected; later
serials of the same EventID may add areas; the last one says 最終報 in NextAdvisory; a 取消 withdraws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.common import Telegram, parse_datetime
from pushsvc.feeds.jma.xmlsafe import NS_EB, child, children, number, text

WARNING_TITLE = "緊急地震速報（警報）"
AREA_INFO = "緊急地震速報（細分区域）"


@dataclass(frozen=True)
class EewArea:
    """One 地震情報細分区域 of the forecast, with JMA's kind (警報 or 予報) and expected intensity."""

    code: str
    name: str
    kind_name: str
    intensity_from: str
    intensity_to: str
    condition: str  # 既に主要動到達と推測, …


@dataclass(frozen=True)
class EewTelegram(Telegram):
    origin_time: datetime | None
    hypocentre_name: str
    magnitude: float | None
    magnitude_text: str
    warned_areas: tuple[tuple[str, str], ...]  # (code, name) of 細分区域 under 警報, from the Headline
    areas: tuple[EewArea, ...]
    final: bool
    comment: str

    @property
    def is_warning(self) -> bool:
        """Only 警報 is pushed: 予報 (VXSE44) and 地震動予報 (VXSE45) are for specialists' displays."""
        return self.control.title == WARNING_TITLE


def _areas(body: Element | None, ns: str) -> tuple[EewArea, ...]:
    out = []
    for pref in children(child(body, ns, "Intensity", "Forecast"), ns, "Pref"):
        for area in children(pref, ns, "Area"):
            out.append(
                EewArea(
                    code=text(area, ns, "Code"),
                    name=text(area, ns, "Name"),
                    kind_name=text(area, ns, "Category", "Kind", "Name"),
                    intensity_from=text(area, ns, "ForecastInt", "From"),
                    intensity_to=text(area, ns, "ForecastInt", "To"),
                    condition=text(area, ns, "Condition"),
                )
            )
    return tuple(out)


def parse_eew(base: Telegram, body: Element | None, ns: str) -> EewTelegram:
    quake = child(body, ns, "Earthquake")
    origin = text(quake, ns, "OriginTime")
    mag = child(quake, NS_EB, "Magnitude")
    areas = _areas(body, ns)
    warned = tuple(
        dict.fromkeys(a for item in base.head.headline_items if item.info_type == AREA_INFO for a in item.areas)
    )
    if not warned:  # the Headline is the summary; fall back to the Body's areas under 警報
        warned = tuple((a.code, a.name) for a in areas if "警報" in a.kind_name)
    return EewTelegram(
        base.control,
        base.head,
        base.telegram_id,
        origin_time=parse_datetime(origin, "OriginTime") if origin else None,
        hypocentre_name=text(quake, ns, "Hypocenter", "Area", "Name"),
        magnitude=number(text(mag)) if mag is not None else None,
        magnitude_text=mag.get("description", "") if mag is not None else "",
        warned_areas=warned,
        areas=areas,
        final="最終報" in text(body, ns, "NextAdvisory"),
        comment=text(body, ns, "Comments", "WarningComment", "Text"),
    )
