"""JMA notification texts in every language, from the message catalogue (``pushsvc.i18n``).

Japanese and English keep JMA's own kind name and our English one; the other languages get the kind
from the catalogue where it knows it (weather warnings by hazard and level, landslide alert, tsunami,
seismic intensity, flood forecasts), else the English. Place names stay Japanese. Free text taken from a
telegram (epicentre, tsunami height) exists in Japanese and English only; other languages read English.
"""

from __future__ import annotations

from pushsvc import i18n
from pushsvc.feeds.jma.model import AreaStatus, Change
from pushsvc.feeds.jma.warnings import hazard_of

TSUNAMI_RANK = {"津波予報": 1, "津波注意報": 2, "津波警報": 3, "大津波警報": 4}


def _catalogue_kind(topic: str, name: str, rank: int | None) -> i18n.Msg | None:
    """The catalogue message naming this kind, or None when the catalogue has none."""
    known = i18n.catalogue()[i18n.SOURCE]
    if topic.startswith("weather:"):
        family, level = hazard_of(name)
        return i18n.Msg(f"weather.{level}", hazard=i18n.Msg(f"hazard.{family}")) \
            if f"hazard.{family}" in known and f"weather.{level}" in known else None
    if topic == "landslide":
        return i18n.Msg("kind.landslide_alert")
    if topic == "tsunami":
        level = TSUNAMI_RANK.get(name.split("（")[0], rank or 0)
        return i18n.Msg(f"kind.tsunami.{level}") if f"kind.tsunami.{level}" in known else None
    if topic.startswith("quake:"):
        return i18n.Msg("kind.quake", intensity=_intensity(name.removeprefix("震度")))
    return None


def _intensity(value: str) -> i18n.Param:
    """震度 '6弱' → 6 Lower / 6약 / …; whole numbers as they are."""
    for mark, msgid in (("弱", "intensity.lower"), ("強", "intensity.upper")):
        if value.endswith(mark):
            return i18n.Msg(msgid, n=value[:-1])
    return value


def kind_texts(s: AreaStatus, name: str | None = None, name_en: str | None = None) -> dict[str, str]:
    """The kind's name by language: ``name``/``name_en`` default to the status's own."""
    name = s.kind_name if name is None else name
    out = {"ja": name, "en": s.kind_en if name_en is None else name_en}
    msg = _catalogue_kind(s.topic, name, s.rank if name == s.kind_name else None)
    for lang in i18n.LANGUAGES:
        if lang not in out:
            out[lang] = msg.text(lang) if msg else out["en"]
    return out


def _action(change: Change, s: AreaStatus) -> dict[str, str]:
    """What to do, for the kinds whose action does not depend on the municipality's own judgement."""
    if change in ("lifted", "cancel", "downgraded"):
        return {}
    if s.topic == "tsunami":
        return i18n.texts("tsunami.action" if s.rank >= 3 else "tsunami.advisory_action") if s.rank >= 2 else {}
    if s.topic.startswith("quake:") and s.severity in ("warning", "emergency"):
        return i18n.texts("quake.action")
    return {}


def event_texts(change: Change, s: AreaStatus, prev: str, names: str) -> tuple[dict[str, str], dict[str, str]]:
    """Title and body of one change, ``{lang: text}`` for every language of the catalogue."""
    kind = kind_texts(s)
    title = i18n.texts("alert.title", kind=kind, change=i18n.Msg(f"change.{change}"))
    if change in ("lifted", "cancel"):
        lowered = {**kind, "en": kind["en"][:1].lower() + kind["en"][1:]}
        body = i18n.texts(f"alert.{change}", places=names, kind=lowered, source=i18n.Msg("source.jma"))
        return title, body
    detail = {"ja": s.detail_ja.rstrip("。") + "。" if s.detail_ja else "",
              "en": s.detail_en.rstrip(".") + "." if s.detail_en else ""}
    message = "alert.upgraded" if change == "upgraded" and prev else \
        "alert.downgraded" if change == "downgraded" and prev else "alert.issued"
    previous = kind_texts(s, prev, prev) if prev else {}
    body = i18n.texts(message, places=names, kind=kind, previous=previous, detail=detail)
    return title, i18n.join(body, _action(change, s)) if _action(change, s) else body
