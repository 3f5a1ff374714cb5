"""津波警報・注意報・予報 (VTSE41) and 津波情報 (VTSE51): per 津波予報区 the kind, first arrival, maximum height."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.common import Telegram, parse_datetime
from pushsvc.feeds.jma.xmlsafe import NS_EB, child, children, number, text

# 警報等情報要素／津波警報・注意報・予報: 52/53 大津波警報, 51 津波警報, 62 津波注意報, 71–73 津波予報,
# 50 警報解除, 60 注意報解除, 00 なし
TSUNAMI_LEVELS = {"52": 4, "53": 4, "51": 3, "62": 2, "71": 1, "72": 1, "73": 1}


@dataclass(frozen=True)
class TsunamiForecast:
    area_code: str
    area_name: str
    kind_name: str
    kind_code: str
    last_kind_name: str
    arrival_time: datetime | None
    arrival_condition: str  # 既に津波到達と推測, 津波到達中と推測, 第１波の到達を確認, …
    max_height_m: float | None
    max_height_text: str  # description, e.g. ３ｍ, 巨大, 高い

    @property
    def level(self) -> int:
        """0 none/lifted, 1 予報, 2 注意報, 3 警報, 4 大津波警報."""
        return TSUNAMI_LEVELS.get(self.kind_code, 0)


@dataclass(frozen=True)
class TsunamiTelegram(Telegram):
    forecasts: tuple[TsunamiForecast, ...]
    info_only: bool = False  # VTSE51 津波情報: arrival times and heights, never a change of what is in force


def _height(item: Element, ns: str) -> tuple[float | None, str]:
    h = child(item, ns, "MaxHeight")
    el = child(h, NS_EB, "TsunamiHeight")
    if el is None:
        return None, text(h, ns, "Condition")
    return number(text(el)), el.get("description", "") or text(el)


def parse_tsunami(base: Telegram, body: Element | None, ns: str) -> TsunamiTelegram:
    forecasts: list[TsunamiForecast] = []
    for item in children(child(body, ns, "Tsunami", "Forecast"), ns, "Item"):
        kind = child(item, ns, "Category", "Kind")
        first = child(item, ns, "FirstHeight")
        arrival = text(first, ns, "ArrivalTime")
        height, height_text = _height(item, ns)
        forecasts.append(
            TsunamiForecast(
                area_code=text(item, ns, "Area", "Code"),
                area_name=text(item, ns, "Area", "Name"),
                kind_name=text(kind, ns, "Name"),
                kind_code=text(kind, ns, "Code"),
                last_kind_name=text(item, ns, "Category", "LastKind", "Name"),
                arrival_time=parse_datetime(arrival, "ArrivalTime") if arrival else None,
                arrival_condition=text(first, ns, "Condition"),
                max_height_m=height,
                max_height_text=height_text,
            )
        )
    return TsunamiTelegram(
        base.control,
        base.head,
        base.telegram_id,
        forecasts=tuple(forecasts),
        info_only=base.control.title.startswith("津波情報"),
    )


def forecast_detail(f: TsunamiForecast) -> tuple[str, str]:
    """ "予想される津波の高さ ３ｍ、第1波の到達予想 14:30" (and English), from one forecast item."""
    height = f.max_height_text or (f"{f.max_height_m:g}m" if f.max_height_m is not None else "")
    when = f.arrival_time.strftime("%H:%M") if f.arrival_time else f.arrival_condition
    ja = "、".join(
        p for p in (f"予想される津波の高さ {height}" if height else "", f"第1波の到達予想 {when}" if when else "") if p
    )
    en = ", ".join(
        p for p in (f"expected height {height}" if height else "", f"first wave expected {when}" if when else "") if p
    )
    return (ja + "。" if ja else ""), (en + "." if en else "")
