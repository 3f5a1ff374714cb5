"""南海トラフ地震臨時情報 (VYSE50) and 南海トラフ地震関連解説情報 (VYSE51 臨時, VYSE52 定例).

The category is in ``Body/EarthquakeInfo/InfoSerial`` (地震関連情報番号コード); JMA's own samples of a 取消
carry no InfoSerial, so the keyword in ``Head/Title`` (南海トラフ地震臨時情報（巨大地震警戒）) is the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.common import Telegram
from pushsvc.feeds.jma.xmlsafe import child, text

EXTRA = "南海トラフ地震臨時情報"
COMMENTARY = "南海トラフ地震関連解説情報"
CATEGORIES = ("調査中", "巨大地震警戒", "巨大地震注意", "調査終了")
SERIAL_CODES = {
    "111": "調査中",
    "112": "調査中",
    "113": "調査中",
    "120": "巨大地震警戒",
    "130": "巨大地震注意",
    "190": "調査終了",
    "200": "定例解説",
    "210": "臨時解説",
}
_KEYWORD = re.compile(r"（([^（）]+)）\s*$")


@dataclass(frozen=True)
class NankaiTelegram(Telegram):
    serial_code: str
    serial_name: str  # 調査中 … 調査終了 for VYSE50, 臨時解説 / 定例解説 for VYSE51/52
    text: str
    next_advisory: str

    @property
    def is_commentary(self) -> bool:
        return self.control.title.startswith(COMMENTARY)

    @property
    def category(self) -> str:
        """調査中 / 巨大地震警戒 / 巨大地震注意 / 調査終了 for 臨時情報, ``""`` for 解説情報."""
        if self.is_commentary:
            return ""
        name = SERIAL_CODES.get(self.serial_code) or self.serial_name
        if name not in CATEGORIES:
            m = _KEYWORD.search(self.head.title)
            name = m.group(1) if m else ""
        return name if name in CATEGORIES else ""

    @property
    def regular(self) -> bool:
        """VYSE52 定例解説: shown on the portal, never pushed."""
        return self.is_commentary and (
            self.serial_code == "200" or "定例" in self.serial_name or "定例" in self.head.title
        )


def parse_nankai(base: Telegram, body: Element | None, ns: str) -> NankaiTelegram:
    info = child(body, ns, "EarthquakeInfo")
    return NankaiTelegram(
        base.control,
        base.head,
        base.telegram_id,
        serial_code=text(info, ns, "InfoSerial", "Code"),
        serial_name=text(info, ns, "InfoSerial", "Name"),
        text=text(info, ns, "Text") or text(body, ns, "Text"),
        next_advisory=text(body, ns, "NextAdvisory"),
    )
