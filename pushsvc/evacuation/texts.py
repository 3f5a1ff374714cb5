"""The standard wording of 避難情報 (内閣府「避難情報に関するガイドライン」, 令和3年5月), in Japanese and English.

Residents act on the level and the action, so every text is built from the order's data: the level
in 【】, the name of the information, the area, the action the guideline gives for that level, the
hazards, the reason, the shelters opened, then the operator's own note.
"""

from __future__ import annotations

from collections.abc import Sequence

from pushsvc.alerts.levels import severity_for
from pushsvc.shelters.schemas import Hazard, hazard_label
from pushsvc.types import Severity

NAMES: dict[int, dict[str, str]] = {
    3: {"ja": "高齢者等避難", "en": "Evacuation of Elderly People, etc."},
    4: {"ja": "避難指示", "en": "Evacuation Instruction"},
    5: {"ja": "緊急安全確保", "en": "Emergency Safety Measures"},
}
ACTIONS: dict[int, dict[str, str]] = {
    3: {"ja": "危険な場所から高齢者等は避難してください。その他の人も避難の準備をしてください。",
        "en": "Elderly people and others who need time must evacuate from dangerous places now. "
              "Everyone else, get ready to evacuate."},
    4: {"ja": "危険な場所から全員避難してください。",
        "en": "Everyone must evacuate from dangerous places."},
    5: {"ja": "命の危険があります。ただちに命を守る行動をとってください。",
        "en": "Your life is in danger. Take action to save your life immediately."},
}
SEVERITY: dict[int, Severity] = {level: severity_for(level) for level in NAMES}  # the one rule: Lv4+ emergency
MAX_SHELTERS_NAMED = 3


def name(level: int, lang: str) -> str:
    return NAMES[level].get(lang, NAMES[level]["en"])


def title(level: int, municipality: str, lang: str) -> str:
    if lang == "ja":
        return f"【警戒レベル{level}】{name(level, lang)}（{municipality}）"
    return f"[Alert Level {level}] {name(level, lang)} ({municipality})"


def lift_title(level: int, municipality: str, lang: str) -> str:
    if lang == "ja":
        return f"【解除】{name(level, lang)}（{municipality}）"
    return f"[Lifted] {name(level, lang)} ({municipality})"


def _details(lang: str, hazards: Sequence[Hazard], reason: str, shelters: Sequence[str], note: str) -> list[str]:
    ja = lang == "ja"
    labels = ("・" if ja else ", ").join(hazard_label(h, lang) for h in hazards)
    out = [("対象の災害：" if ja else "Hazards: ") + labels]
    if reason:
        out.append(("理由：" if ja else "Reason: ") + reason)
    if shelters:
        named = list(shelters[:MAX_SHELTERS_NAMED])
        more = len(shelters) - len(named)
        text = ("、" if ja else ", ").join(named)
        if more:
            text += f" ほか{more}か所" if ja else f" and {more} more"
        out.append(("開設中の避難場所：" if ja else "Open shelters: ") + text)
    if note:
        out.append(note)
    return out


def body(level: int, area: str, lang: str, *, lowered: bool, hazards: Sequence[Hazard], reason: str,
         shelters: Sequence[str], note: str) -> str:
    """"潮江地区（高知市）に避難指示を発令しました。危険な場所から全員避難してください。…"."""
    n = name(level, lang)
    if lang == "ja":
        head = f"{area}の避難情報を{n}（警戒レベル{level}）に切り替えました。" if lowered else \
            f"{area}に{n}を発令しました。"
    else:
        head = f"The evacuation information for {area} is now {n} (Alert Level {level})." if lowered else \
            f"{n} has been issued for {area}."
    return "\n".join([head + ("" if lang == "ja" else " ") + ACTIONS[level][lang if lang == "ja" else "en"],
                      *_details(lang, hazards, reason, shelters, note)])


def lift_body(level: int, area: str, lang: str, note: str) -> str:
    if lang == "ja":
        text = f"{area}の{name(level, lang)}を解除しました。引き続き身の回りの状況に注意してください。"
    else:
        text = f"The {name(level, lang)} for {area} has been lifted. Stay alert to your surroundings."
    return text + (f"\n{note}" if note else "")


def area_label(municipality: str, kind: str, districts: Sequence[str], lang: str) -> str:
    if kind == "municipality":
        return f"{municipality}全域" if lang == "ja" else f"all of {municipality}"
    if kind == "districts":
        return f"{municipality} {'・'.join(districts)}" if lang == "ja" else f"{', '.join(districts)} ({municipality})"
    return f"{municipality}の一部地域" if lang == "ja" else f"part of {municipality}"
