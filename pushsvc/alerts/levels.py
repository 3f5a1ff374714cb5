"""The one table of 警戒レベル相当 per product, the action residents must take, and the severity rule.

Every JMA- and gauge-derived message takes its level, its action text (ja/en) and its severity from here,
so a JMA renaming (the 2026 level-numbered warnings: レベル４土砂災害危険警報 …) is one row, not a code change
in each pipeline. Sources of the levels: 気象庁「警戒レベル相当情報」(大雨・洪水・高潮注意報 Lv2; 大雨警報（土砂災害）・
洪水警報・氾濫警戒情報・避難判断水位 Lv3; 土砂災害警戒情報・高潮警報・高潮特別警報・氾濫危険情報・氾濫危険水位 Lv4;
大雨特別警報・氾濫発生情報 Lv5) and the 2026 forms, which carry the level in their name.

The severity rule is one function of the level: Lv4 and above ``emergency``, Lv3 ``warning``, Lv2
``advisory``. Products without a 警戒レベル (暴風警報, 波浪注意報 …) take it from their class: 特別警報
``emergency``, 警報 ``warning``, 注意報 ``advisory``. Sources with their own scale (震度, 津波) pass an
explicit severity and no level.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pushsvc.types import Severity

SEVERITY_RANK: dict[str, int] = {"info": 0, "advisory": 1, "warning": 2, "emergency": 3}


@dataclass(frozen=True)
class Action:
    """What to do at one 警戒レベル, as residents have been taught it (内閣府「避難情報に関するガイドライン」)."""

    ja: str
    en: str


ACTIONS: dict[int, Action] = {
    1: Action("最新の防災気象情報に注意してください。", "Keep up with the latest weather information."),
    2: Action(
        "ハザードマップ等で避難場所や避難経路を確認し、避難に備えてください。",
        "Check your evacuation site and route on the hazard map and be ready to evacuate.",
    ),
    3: Action(
        "高齢者等は危険な場所から避難してください（高齢者等避難）。",
        "Older people and anyone who needs time to evacuate must leave dangerous places now.",
    ),
    4: Action(
        "危険な場所から全員避難してください（避難指示の対象）。", "Everyone must evacuate from dangerous places now."
    ),
    5: Action(
        "命の危険があります。直ちに命を守る行動をとってください（緊急安全確保）。",
        "Lives are in danger: take action to save your life immediately.",
    ),
}


@dataclass(frozen=True)
class Product:
    """One row of the table: a product (warning kind, river stage) with its level and English name."""

    name_ja: str
    name_en: str
    level: int | None  # 警戒レベル相当; None = not on the 5-level scale
    fallback: Severity = "info"  # used only when ``level`` is None

    @property
    def severity(self) -> Severity:
        return severity_for(self.level, self.fallback)

    @property
    def action(self) -> Action | None:
        return ACTIONS.get(self.level) if self.level is not None else None


def severity_for(level: int | None, fallback: Severity = "info") -> Severity:
    """The one severity rule: Lv4+ emergency, Lv3 warning, Lv2 advisory; below or without a level, ``fallback``."""
    if level is None:
        return fallback
    if level >= 4:
        return "emergency"
    if level == 3:
        return "warning"
    if level == 2:
        return "advisory"
    return fallback


def level_label(level: int, lang: str) -> str:
    return f"警戒レベル{level}相当" if lang == "ja" else f"Alert level {level} equivalent"


def _p(ja: str, en: str, level: int | None, fallback: Severity = "info") -> tuple[str, Product]:
    return ja, Product(ja, en, level, fallback)


# The table. Keys are the names JMA (or the gauge adapter) uses; ``product`` also understands every
# other 注意報/警報/特別警報 name and the レベルＮ… 2026 names.
PRODUCTS: dict[str, Product] = dict(
    [
        # 気象警報・注意報 (VPWW53/54, VPWW55–61)
        _p("大雨注意報", "Heavy rain advisory", 2),
        _p("洪水注意報", "Flood advisory", 2),
        _p("高潮注意報", "Storm surge advisory", 2),
        _p(
            "大雨警報", "Heavy rain warning", 3
        ),  # JMA: 大雨警報（土砂災害） Lv3; the 浸水害-only warning is not separated
        _p("洪水警報", "Flood warning", 3),
        _p("高潮警報", "Storm surge warning", 4),
        _p("高潮特別警報", "Storm surge emergency warning", 4),
        _p("大雨特別警報", "Heavy rain emergency warning", 5),
        # 2026 forms (VPWW55 大雨, 56 土砂, 57 高潮): the level is part of the name
        _p("レベル２大雨注意報", "Level 2 heavy rain advisory", 2),
        _p("レベル３大雨警報", "Level 3 heavy rain warning", 3),
        _p("レベル４大雨危険警報", "Level 4 heavy rain danger warning", 4),
        _p("レベル５大雨特別警報", "Level 5 heavy rain emergency warning", 5),
        _p("レベル２土砂災害注意報", "Level 2 landslide advisory", 2),
        _p("レベル３土砂災害警報", "Level 3 landslide warning", 3),
        _p("レベル４土砂災害危険警報", "Level 4 landslide danger warning", 4),
        _p("レベル５土砂災害特別警報", "Level 5 landslide emergency warning", 5),
        _p("レベル２高潮注意報", "Level 2 storm surge advisory", 2),
        _p("レベル３高潮警報", "Level 3 storm surge warning", 3),
        _p("レベル４高潮危険警報", "Level 4 storm surge danger warning", 4),
        _p("レベル５高潮特別警報", "Level 5 storm surge emergency warning", 5),
        # 土砂災害警戒情報 (VXWW50)
        _p("土砂災害警戒情報", "Landslide alert", 4),
        # 指定河川洪水予報 (VXKO)
        _p("氾濫注意情報", "Flood caution information", 2),
        _p("氾濫警戒情報", "Flood alert information", 3),
        _p("氾濫危険情報", "Flood danger information", 4),
        _p("氾濫発生情報", "Flooding information", 5),
        _p("レベル２氾濫注意報", "Level 2 flood advisory", 2),
        _p("レベル３氾濫警報", "Level 3 flood warning", 3),
        _p("レベル４氾濫危険警報", "Level 4 flood danger warning", 4),
        _p("レベル５氾濫特別警報", "Level 5 flooding emergency warning", 5),
        # River gauges (the river engine's stages)
        _p("避難判断水位", "River at evacuation judgement level", 3),
        _p("氾濫危険水位", "River at flood danger level", 4),
        _p("危険水位", "River at danger level", 4),  # k.river crisis-management gauges
        _p("氾濫発生水位", "River at flooding level", 5),
    ]
)

HAZARD_EN = {
    "大雨": "heavy rain",
    "洪水": "flood",
    "土砂災害": "landslide",
    "高潮": "storm surge",
    "暴風": "storm",
    "強風": "strong wind",
    "暴風雪": "snowstorm",
    "風雪": "wind and snow",
    "波浪": "high waves",
    "大雪": "heavy snow",
    "雷": "thunderstorm",
    "融雪": "snowmelt",
    "濃霧": "dense fog",
    "乾燥": "dry air",
    "なだれ": "avalanche",
    "低温": "low temperature",
    "霜": "frost",
    "着雪": "snow accretion",
    "着氷": "ice accretion",
    "氾濫": "flood",
}
CLASS_EN: dict[str, tuple[str, Severity]] = {
    "注意報": ("advisory", "advisory"),
    "警報": ("warning", "warning"),
    "危険警報": ("danger warning", "emergency"),
    "特別警報": ("emergency warning", "emergency"),
}
_BY_PLAIN = {unicodedata.normalize("NFKC", k): v for k, v in PRODUCTS.items()}
_NAME_RE = re.compile(r"^(?:レベル([0-9]))?(.+?)(特別警報|危険警報|警報|注意報)$")


def product(name: str) -> Product:
    """The table row for a product name; any other 注意報/警報 gets its class's severity and no level.

    A レベルＮ name not in the table still carries its level (JMA may add hazards to the 2026 scheme).
    """
    plain = unicodedata.normalize("NFKC", name)
    known = PRODUCTS.get(name) or _BY_PLAIN.get(plain)
    if known:
        return known
    m = _NAME_RE.match(plain)
    if not m:
        return Product(name, name, None)
    digit, hazard, cls = m.groups()
    en_cls, fallback = CLASS_EN[cls]
    en = f"{HAZARD_EN.get(hazard, hazard).capitalize()} {en_cls}"
    level = int(digit) if digit else None
    return Product(name, f"Level {level} {en.lower()}" if level else en, level, fallback)
