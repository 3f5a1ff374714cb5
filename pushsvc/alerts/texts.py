"""The alert-state messages of ``messages.compose`` in every language of the message catalogue.

``compose`` writes Japanese and English; they stay the source (the catalogue's ``state.*`` entries hold the
same wording). ``translate`` writes the same message in the other languages from the catalogue, sentence by
sentence as ``compose`` does, with product names (大雨警報, 氾濫危険情報, 避難判断水位, 津波警報, 震度…)
translated where the catalogue knows them and in English otherwise. Place names stay Japanese.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pushsvc import i18n
from pushsvc.alerts.levels import ACTIONS
from pushsvc.alerts.messages import Message, _current, headline, in_force, partition, top_level
from pushsvc.alerts.schemas import Transition, Value

_NAME_RE = re.compile(r"^(?:レベル([0-9]))?(.+?)(特別警報|危険警報|警報|注意報)$")
_CLASS = {"注意報": 1, "警報": 2, "危険警報": 3, "特別警報": 4}
_TSUNAMI = {"津波予報": 1, "津波注意報": 2, "津波警報": 3, "大津波警報": 4}
_FLOOD = {"氾濫注意情報": 2, "氾濫警戒情報": 3, "氾濫危険情報": 4, "氾濫発生情報": 5}
_STAGE = {
    "避難判断水位": "stage.evacuation",
    "氾濫危険水位": "stage.danger",
    "危険水位": "stage.danger_kriver",
    "氾濫発生水位": "stage.flooding",
}


def product_name(name_ja: str, name_en: str, lang: str) -> str:
    """A product's name in ``lang``: Japanese and English as given, others from the catalogue, else English."""
    if lang == "ja":
        return name_ja
    if lang == "en":
        return name_en
    known = i18n.catalogue()[i18n.SOURCE]
    plain = unicodedata.normalize("NFKC", name_ja)
    base = plain.split("（")[0]
    if base in _TSUNAMI:
        return i18n.text(f"kind.tsunami.{_TSUNAMI[base]}", lang)
    if plain == "土砂災害警戒情報":
        return i18n.text("kind.landslide_alert", lang)
    if plain in _FLOOD:
        return i18n.text(f"product.flood.{_FLOOD[plain]}", lang)
    if plain in _STAGE:
        return i18n.text("product.river_at", lang, stage=i18n.Msg(_STAGE[plain]))
    if plain.startswith("震度"):
        return i18n.text("kind.quake", lang, intensity=plain.removeprefix("震度"))
    m = _NAME_RE.match(plain)
    if m and f"hazard.{m.group(2)}" in known:
        kind = i18n.Msg(f"weather.{_CLASS[m.group(3)]}", hazard=i18n.Msg(f"hazard.{m.group(2)}"))
        return i18n.text("product.level", lang, level=m.group(1), name=kind) if m.group(1) else kind.text(lang)
    return name_en


def _n(v: Value | None, lang: str) -> str:
    return product_name(v.name_ja, v.name_en, lang) if v is not None else ""


def _sentence(t: Transition, where: str, issuer: tuple[str, str], lang: str) -> str:
    v = t.value
    if t.change == "issued":
        return i18n.text("state.issued", lang, where=where, name=_n(v, lang))
    if t.change in ("raised", "lowered") and t.before is not None and t.after is not None:
        return i18n.text(
            "state.switched",
            lang,
            where=where,
            before=_n(t.before, lang),
            after=_n(t.after, lang),
            change=i18n.Msg(f"state.change.{t.change}"),
        )
    if t.change == "cancelled":
        if t.undoes == "lifted":
            return i18n.text("state.cancel_lift", lang, where=where, name=_n(v, lang))
        by = i18n.fragment("state.by", lang, issuer={"ja": issuer[0], "en": issuer[1]}) if issuer[0] else ""
        now = i18n.fragment("state.now", lang, name=_n(t.after, lang)) if t.after else ""
        return i18n.text(
            "state.cancelled",
            lang,
            where=where,
            name=_n(v, lang),
            by=by,
            now=now,
            what=i18n.Msg(f"state.change.{t.undoes or 'issued'}"),
        )
    if t.change == "corrected":
        if t.after is None:
            return i18n.text("state.corrected_none", lang, where=where, name=_n(t.before, lang))
        if t.before is None:
            return i18n.text("state.corrected_new", lang, where=where, name=_n(t.after, lang))
        return i18n.text("state.corrected", lang, where=where, before=_n(t.before, lang), after=_n(t.after, lang))
    return ""


def _title(lead: Transition, lifted: Sequence[Transition], more: bool, lang: str) -> str:
    if lifted:
        return i18n.text("state.title_lifted", lang, names="、".join(dict.fromkeys(_n(t.value, lang) for t in lifted)))
    cur = _current(lead)
    prefix = (
        i18n.fragment("state.prefix", lang, level=i18n.Msg("state.level", level=cur.level))
        if cur and cur.level and lead.change != "cancelled"
        else ""
    )
    extra = i18n.raw("state.more", lang) if more else ""
    if lead.change in ("raised", "lowered") and lead.before is not None:
        return i18n.text(
            "state.title_switched",
            lang,
            prefix=prefix,
            name=_n(lead.value, lang),
            before=_n(lead.before, lang),
            more=extra,
        )
    return i18n.text(
        "state.title",
        lang,
        prefix=prefix,
        name=_n(lead.value, lang),
        more=extra,
        change=i18n.Msg(f"state.change.{lead.change}"),
    )


def _lifted(lifted: Sequence[Transition], where: str, lang: str) -> str:
    names = "、".join(dict.fromkeys(_n(t.value, lang) for t in lifted))
    return i18n.text("state.lifted" if len(lifted) == 1 else "state.lifted_many", lang, where=where, names=names)


def _closing(level: int | None, lifted: Sequence[Transition], current: Sequence[Value], lang: str) -> str:
    if level is not None and level in ACTIONS:
        return i18n.text(
            "state.action", lang, level=i18n.Msg("state.level", level=level), action=i18n.Msg(f"level.{level}.action")
        )
    if lifted and not current:
        return i18n.raw("state.may_again", lang)
    return ""


def _one(transitions: Sequence[Transition], where: str, issuer: tuple[str, str], lang: str) -> tuple[str, str]:
    ts, lifted, others = partition(transitions)
    parts = [_sentence(t, where, issuer, lang) for t in others]
    if lifted:
        parts.append(_lifted(lifted, where, lang))
    current = in_force(others)
    parts.append(_closing(top_level(current), lifted, current, lang))
    title = _title(*headline(ts, lifted, others), lang)
    body = i18n.join(*({lang: p} for p in parts if p))[lang]
    return title, body


def translate(
    transitions: Sequence[Transition], where: str, message: Message, issuer: tuple[str, str] = ("", "")
) -> tuple[dict[str, str], dict[str, str]]:
    """Title and body ``{lang: text}``: ``message``'s Japanese and English, the catalogue's for the rest."""
    titles, bodies = {"ja": message.title_ja, "en": message.title_en}, {"ja": message.body_ja, "en": message.body_en}
    for lang in i18n.LANGUAGES:
        if lang not in titles:
            titles[lang], bodies[lang] = _one(transitions, where, issuer, lang)
    return titles, bodies


def catalogue_ja_en(
    transitions: Sequence[Transition], where: str, issuer: tuple[str, str] = ("", "")
) -> dict[str, tuple[str, str]]:
    """The catalogue's own Japanese and English of the message (tests compare them with ``compose``)."""
    return {lang: _one(transitions, where, issuer, lang) for lang in ("ja", "en")}
