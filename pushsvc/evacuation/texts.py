"""The standard wording of 避難情報 (内閣府「避難情報に関するガイドライン」, 令和3年5月), in every language of the
message catalogue (``evacuation.*``: Japanese is the guideline's, English the prefecture's).

Residents act on the level and the action, so every text is built from the order's data: the level
in 【】, the name of the information, the area, the action the guideline gives for that level, the
hazards, the reason, the shelters opened, then the operator's own note. Place, district and shelter
names stay Japanese (English district names where the municipality saved them); the reason and the
note are the operator's own words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pushsvc import i18n
from pushsvc.alerts.levels import severity_for
from pushsvc.shelters.schemas import Hazard, hazard_label
from pushsvc.types import Severity

LEVELS = (3, 4, 5)
# The name of each level's information in Japanese and English, as operators and the order API show it.
NAMES: dict[int, dict[str, str]] = {
    level: {lang: i18n.text(f"evacuation.name.{level}", lang) for lang in ("ja", "en")} for level in LEVELS
}
SEVERITY: dict[int, Severity] = {level: severity_for(level) for level in LEVELS}  # the one rule: Lv4+ emergency
MAX_SHELTERS_NAMED = 3


def name(level: int, lang: str) -> str:
    return i18n.text(f"evacuation.name.{level}", lang)


def title(level: int, municipality: str, lang: str) -> str:
    return i18n.text("evacuation.title", lang, level=level, name=name(level, lang), municipality=municipality)


def lift_title(level: int, municipality: str, lang: str) -> str:
    return i18n.text("evacuation.lift_title", lang, name=name(level, lang), municipality=municipality)


def _details(lang: str, hazards: Sequence[Hazard], reason: str, shelters: Sequence[str], note: str) -> list[str]:
    out = [
        i18n.text(
            "evacuation.hazards", lang, hazards=i18n.listing((hazard_label(h, lang) for h in hazards), lang, ja="・")
        )
    ]
    if reason:
        out.append(i18n.fragment("evacuation.reason", lang, reason=reason))  # the operator's words, verbatim
    if shelters:
        named = list(shelters[:MAX_SHELTERS_NAMED])
        more = len(shelters) - len(named)
        listed = i18n.listing(named, lang) + (i18n.fragment("evacuation.more", lang, n=more) if more else "")
        out.append(i18n.text("evacuation.shelters", lang, shelters=listed))
    if note:
        out.append(note)
    return out


def body(
    level: int,
    area: str,
    lang: str,
    *,
    lowered: bool,
    hazards: Sequence[Hazard],
    reason: str,
    shelters: Sequence[str],
    note: str,
) -> str:
    """ "潮江地区（高知市）に避難指示を発令しました。危険な場所から全員避難してください。…"."""
    head = i18n.Msg(
        "evacuation.head.lowered" if lowered else "evacuation.head.issued",
        area=area,
        name=name(level, lang),
        level=level,
    )
    first = i18n.join({lang: head.text(lang)}, {lang: i18n.text(f"evacuation.action.{level}", lang)})[lang]
    return "\n".join([first, *_details(lang, hazards, reason, shelters, note)])


def lift_body(level: int, area: str, lang: str, note: str) -> str:
    text = i18n.text("evacuation.lift_body", lang, area=area, name=name(level, lang))
    return text + (f"\n{note}" if note else "")


def area_label(municipality: str, kind: str, districts: Sequence[str], lang: str) -> str:
    if kind in ("municipality", "districts"):
        return i18n.text(
            f"evacuation.area.{kind}", lang, municipality=municipality, districts=i18n.listing(districts, lang, ja="・")
        )
    return i18n.text("evacuation.area.polygon", lang, municipality=municipality)


def stored_area_label(
    stored: Mapping[str, str], municipality: str, kind: str, districts: Sequence[str], lang: str
) -> str:
    """An order's area in ``lang``: its stored label (Japanese; English with the districts' saved English names),
    else the catalogue's with the Japanese district names."""
    return stored.get(lang) or area_label(municipality, kind, districts, lang)
