"""津波情報 (VTSE51) and tsunami changes: one message per change and 予報区, the action first."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import Transition, Value
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaResolver, TsunamiTelegram
from pushsvc.feeds.jma.normalise import event_key
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.notify import SentAlert, record_sent, send_alert
from pushsvc.feeds.seismic.common import TSUNAMI_TTL_S, _clock, _draft, attribution
from pushsvc.types import LANGUAGES


def record_tsunami_info(db_session: Session, row: FeedSource, t: TsunamiTelegram, resolver: AreaResolver) -> None:
    """Keep the latest first-wave arrival and height per 津波予報区 of ours, for the next push, and add it to
    the tsunami alerts in force now, so their alert page and the portal show it at once."""
    info = dict(row.state.get("tsunami_info", {}))
    for f in t.forecasts:
        if not resolver.tsunami_area(f.area_code):
            continue
        info[f.area_code] = {
            "area": f.area_name,
            "kind": f.kind_name,
            "event_id": event_key(t),
            "arrival": f.arrival_time.isoformat() if f.arrival_time else None,
            "condition": f.arrival_condition,
            "height": f.max_height_text,
            "report_datetime": t.head.report_datetime.isoformat(),
            "telegram_id": t.telegram_id,
        }
    row.state = {**row.state, "tsunami_info": info}
    texts = tsunami_info_text(row.state)
    shown = {
        a.notification_id
        for a in alerts.in_force(db_session, sources=[row.name])
        if a.phenomenon == "tsunami" and a.notification_id is not None
    }
    for nid in sorted(shown):
        body = dict(delivery.get_notification(db_session, nid).body or {})
        delivery.amend_body(db_session, nid, _with_info(body, texts))


def _with_info(body: Mapping[str, str], info: Mapping[str, str]) -> dict[str, str]:
    """Each language of ``body`` with its 津波情報 part (if any) replaced by ``info``, before the attribution."""
    heads, tails = {}, {}
    for lang in body:
        source = attribution().get(lang, "")
        head, sep, tail = body[lang].rpartition(source) if source and source in body[lang] else (body[lang], "", "")
        marker = i18n.raw("tsunami.info", lang).split("{items}")[0].strip()
        heads[lang], tails[lang] = head.partition(marker)[0] if marker in head else head, sep + tail
    joined = i18n.join(heads, info, tails)
    return {lang: joined[lang] for lang in body if lang in joined}


TSUNAMI_CHANGES = {"issued": "issued", "raised": "upgraded", "lowered": "downgraded", "lifted": "lifted"}
# What to do comes first: a resident reading only the first line must already be moving (issue 15).
TSUNAMI_ACTIONS = {4: "tsunami.action.warning", 3: "tsunami.action.warning", 2: "tsunami.action.advisory"}


def _product(name_ja: str, name_en: str, rank: int) -> dict[str, str]:
    """A tsunami product's name: JMA's Japanese and English as given, the catalogue's in the other languages."""
    known = f"kind.tsunami.{rank}"
    other = i18n.texts(known) if known in i18n.catalogue()[i18n.SOURCE] else {}
    return {**{lang: other.get(lang) or name_en for lang in LANGUAGES}, "ja": name_ja, "en": name_en}


def tsunami_texts(change: str, v: Value, before: Value | None, area: str) -> tuple[dict[str, str], dict[str, str]]:
    """Title and body of a tsunami change in every language: the action first, then the area, height, arrival."""
    name = _product(v.name_ja, v.name_en, v.rank)
    where: i18n.Param = area or i18n.Msg("tsunami.coast")
    if change == "lifted":
        return (
            i18n.texts("tsunami.title.lifted", name=name),
            i18n.texts("tsunami.body.lifted", name={**name, "en": v.name_en.lower()}, where=where),
        )
    action: i18n.Param = i18n.Msg(TSUNAMI_ACTIONS[v.rank]) if v.rank in TSUNAMI_ACTIONS else ""
    detail = {"ja": str(v.detail.get("ja", "")), "en": str(v.detail.get("en", ""))}
    if change in ("upgraded", "downgraded") and before is not None:
        previous = _product(before.product, before.name_en, before.rank)
        return (
            i18n.texts("tsunami.title.changed", name=name, previous=previous),
            i18n.texts("tsunami.body.changed", action=action, previous=previous, name=name, where=where, detail=detail),
        )
    return name, i18n.texts("tsunami.body.issued", action=action, where=where, name=name, detail=detail)


def notify_tsunami(
    db_session: Session,
    row: FeedSource,
    ref: str,
    transitions: Sequence[Transition],
    *,
    settings: Settings,
    now: datetime,
    extra: Mapping[str, Any],
) -> list[SentAlert]:
    """Tsunami changes (kept per coastal town in the alert state) told once per change and 予報区: the action
    first, then the area (高知県), height and arrival — never a list of 19 town names."""
    groups: dict[tuple[str, str, str], list[Transition]] = defaultdict(list)
    for t in transitions:
        groups[(t.change, t.before.product if t.before else "", t.after.product if t.after else "")].append(t)
    sent = []
    for (change, before, after), ts in sorted(groups.items()):
        v = ts[0].after or ts[0].before
        assert v is not None
        lifted = change == "lifted"
        titles, bodies = tsunami_texts(TSUNAMI_CHANGES[change], v, ts[0].before, str(v.detail.get("area", "")))
        munis = sorted({t.area for t in ts})
        info = {**dict(extra), "ref": ref, "change": change, "topic": "tsunami", "kind": v.product}
        draft = _draft(
            severity="info" if lifted else v.severity,
            title=titles,
            body=i18n.join(bodies, {} if lifted else tsunami_info_text(row.state)),
            topic="jma-tsunami",
            ttl=TSUNAMI_TTL_S,
            municipalities=munis,
            extra=info,
            priority=delivery.PRIORITY_LIFE,
        )  # lane 0, 解除 included: people wait on high ground for it
        sig = hashlib.sha256(f"{ref}|{change}|{before}|{after}|{','.join(munis)}".encode()).hexdigest()[:24]
        done = send_alert(
            db_session,
            source=row.name,
            key=f"jma:tsunami:{sig}",
            kind=change,
            topic="tsunami",
            event_id=ref,
            draft=draft,
            municipalities=munis,
            summary=titles["ja"],
            settings=settings,
            now=now,
            detail=info,
        )
        sent += record_sent(db_session, done, ts)
    return sent


def tsunami_info_text(row_state: Mapping[str, Any]) -> dict[str, str]:
    """ "（津波情報）高知県 第1波の到達予想 14時30分、予想される高さ ３ｍ。" in every language, for the next tsunami
    push; ``{}`` when no 津波情報 names an arrival or a height."""
    items = [item for i in row_state.get("tsunami_info", {}).values() if (item := _info_item(i))]
    if not items:
        return {}
    return {
        lang: i18n.text("tsunami.info", lang, items=_ITEMS[lang].join(it[lang] for it in items)) for lang in LANGUAGES
    }


def _info_item(i: Mapping[str, Any]) -> dict[str, str]:
    """One 津波予報区's first wave and height in every language; ``{}`` when it states neither."""
    when: i18n.Param = (
        _clock(datetime.fromisoformat(i["arrival"])) if i.get("arrival") else str(i.get("condition") or "")
    )
    parts = ([i18n.Msg("tsunami.info.arrival", time=when)] if when else []) + (
        [i18n.Msg("tsunami.info.height", height=i["height"])] if i.get("height") else []
    )
    if not parts:
        return {}
    return {
        lang: i18n.text(
            "tsunami.info.item", lang, area=i["area"], parts=i18n.listing((p.text(lang) for p in parts), lang)
        )
        for lang in LANGUAGES
    }


# How each language puts the forecasts of several areas one after another.
_ITEMS = {lang: "。" if lang in ("ja", "zh-Hans", "zh-Hant") else "; " for lang in LANGUAGES}
