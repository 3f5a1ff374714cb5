"""気象警報・注意報 (VPWW53/54, the 2026 per-hazard forms VPWW55–61) and 土砂災害警戒情報 (VXWW50).

Both share ``Body/Warning[@type]/Item/{Kind*, Area|Areas}``, so one item reader serves them. VPWW53 and
VPWW54 carry the full set of warnings of a prefecture; each of VPWW55–61 carries one hazard group only
(its Control/Title ends in （大雨）, （土砂）, …), so an absent kind there means "not this telegram's
business", never "lifted".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.common import Telegram
from pushsvc.feeds.jma.xmlsafe import child, children, text

NO_WARNINGS = "発表警報・注意報はなし"
LEVELS = {"注意報": 1, "警報": 2, "危険警報": 3, "特別警報": 4}
FAMILY_ALIASES = {"強風": "暴風", "風雪": "暴風雪"}  # the advisory of the same hazard has another name
OTHER_ADVISORIES = frozenset({"雷", "融雪", "濃霧", "乾燥", "なだれ", "低温", "霜", "着雪", "着氷"})
FORM_SCOPES: dict[str, frozenset[str]] = {
    "大雨": frozenset({"大雨"}),
    "土砂": frozenset({"土砂災害"}),
    "土砂災害": frozenset({"土砂災害"}),
    "高潮": frozenset({"高潮"}),
    "暴風": frozenset({"暴風", "暴風雪"}),
    "波浪": frozenset({"波浪"}),
    "大雪": frozenset({"大雪"}),
    "その他注意報": OTHER_ADVISORIES,
}
_KIND_RE = re.compile(r"^(?:レベル[0-9０-９])?(.+?)(特別警報|危険警報|警報|注意報)$")
_FORM_RE = re.compile(r"（([^（）]+)）$")


@dataclass(frozen=True)
class WarningKind:
    name: str
    code: str
    status: str  # 発表 | 継続 | 解除 | 特別警報から警報 | 警報から注意報 | … (VXWW50: 発表/継続/解除/なし)
    last_name: str = ""
    last_code: str = ""

    @property
    def family(self) -> str:
        return hazard_of(self.name)[0]

    @property
    def level(self) -> int:
        """0 for 解除/none, 1 注意報, 2 警報, 3 危険警報 (2026), 4 特別警報."""
        if self.status in ("解除", "なし", NO_WARNINGS):
            return 0
        return hazard_of(self.name)[1]


@dataclass(frozen=True)
class WarningArea:
    """One ``Warning/Item``: the kinds in force for one area of one area class."""

    area_class: str  # Warning/@type, e.g. 気象警報・注意報（市町村等）
    code: str
    name: str
    kinds: tuple[WarningKind, ...]


@dataclass(frozen=True)
class WeatherWarningTelegram(Telegram):
    form: str  # 気象警報・注意報 form suffix: "" (VPWW53/54) or 大雨, 土砂, 高潮, 暴風, 波浪, 大雪, その他注意報
    scope: frozenset[str] | None  # hazard families this telegram is authoritative for; None = all
    areas: tuple[WarningArea, ...]

    @property
    def municipalities(self) -> tuple[WarningArea, ...]:
        return tuple(a for a in self.areas if a.area_class.endswith("（市町村等）"))


@dataclass(frozen=True)
class LandslideTelegram(Telegram):
    target_area: tuple[str, str]  # (code, name) of the prefecture
    areas: tuple[WarningArea, ...]


def hazard_of(name: str) -> tuple[str, int]:
    """(family, level) from a kind name: レベル４大雨危険警報 → (大雨, 3); 強風注意報 → (暴風, 1)."""
    m = _KIND_RE.match(name)
    if not m:
        return name, 1
    family = FAMILY_ALIASES.get(m.group(1), m.group(1))
    return family, LEVELS[m.group(2)]


def form_scope(control_title: str) -> tuple[str, frozenset[str] | None]:
    m = _FORM_RE.search(control_title)
    if m and m.group(1) in FORM_SCOPES:
        return m.group(1), FORM_SCOPES[m.group(1)]
    return "", None


def _kind(el: Element, ns: str) -> WarningKind:
    last = child(el, ns, "LastKind")
    return WarningKind(
        name=text(el, ns, "Name"),
        code=text(el, ns, "Code"),
        status=text(el, ns, "Status"),
        last_name=text(last, ns, "Name"),
        last_code=text(last, ns, "Code"),
    )


def read_warning_items(body: Element | None, ns: str) -> tuple[WarningArea, ...]:
    """Every Warning/Item with its area(s); an item naming several areas yields one record per area."""
    out: list[WarningArea] = []
    for warning in children(body, ns, "Warning"):
        area_class = warning.get("type", "")
        for item in children(warning, ns, "Item"):
            kinds = tuple(
                k for k in (_kind(el, ns) for el in children(item, ns, "Kind")) if k.name and k.status != NO_WARNINGS
            )
            areas = children(item, ns, "Area") + children(child(item, ns, "Areas"), ns, "Area")
            out.extend(WarningArea(area_class, text(a, ns, "Code"), text(a, ns, "Name"), kinds) for a in areas)
    return tuple(out)


def parse_weather(base: Telegram, body: Element | None, ns: str) -> WeatherWarningTelegram:
    form, scope = form_scope(base.control.title)
    return WeatherWarningTelegram(
        base.control, base.head, base.telegram_id, form=form, scope=scope, areas=read_warning_items(body, ns)
    )


def parse_landslide(base: Telegram, body: Element | None, ns: str) -> LandslideTelegram:
    target = child(body, ns, "TargetArea")
    return LandslideTelegram(
        base.control,
        base.head,
        base.telegram_id,
        target_area=(text(target, ns, "Code"), text(target, ns, "Name")),
        areas=read_warning_items(body, ns),
    )
