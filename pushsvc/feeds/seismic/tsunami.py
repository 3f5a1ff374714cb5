"""津波情報 (VTSE51) and tsunami changes: one message per change and 予報区, the action first."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import Transition
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaResolver, TsunamiTelegram
from pushsvc.feeds.jma.normalise import event_key
from pushsvc.feeds.jma.tsunami import tsunami_texts
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.notify import SentAlert, record_sent, send_alert
from pushsvc.feeds.seismic.common import TSUNAMI_TTL_S, _draft, _hhmm


def record_tsunami_info(db_session: Session, row: FeedSource, t: TsunamiTelegram, resolver: AreaResolver) -> None:
    """Keep the latest first-wave arrival and height per 津波予報区 of ours, for the next push, and add it to
    the tsunami alerts in force now, so their alert page and the portal show it at once."""
    info = dict(row.state.get("tsunami_info", {}))
    for f in t.forecasts:
        if not resolver.tsunami_area(f.area_code):
            continue
        info[f.area_code] = {"area": f.area_name, "kind": f.kind_name, "event_id": event_key(t),
                             "arrival": f.arrival_time.isoformat() if f.arrival_time else None,
                             "condition": f.arrival_condition, "height": f.max_height_text,
                             "report_datetime": t.head.report_datetime.isoformat(), "telegram_id": t.telegram_id}
    row.state = {**row.state, "tsunami_info": info}
    add_ja, add_en = tsunami_info_text(row.state)
    shown = {a.notification_id for a in alerts.in_force(db_session, sources=[row.name])
             if a.phenomenon == "tsunami" and a.notification_id is not None}
    for nid in sorted(shown):
        body = dict(delivery.get_notification(db_session, nid).body or {})
        delivery.amend_body(db_session, nid, {
            "ja": _with_info(body.get("ja", ""), add_ja, "（出典："), "en": _with_info(body.get("en", ""), add_en,
                                                                                   " (Source:")})


def _with_info(text: str, info: str, attribution: str) -> str:
    """The text with its 津波情報 part (if any) replaced by ``info``, kept before the attribution."""
    for marker in ("（津波情報）", " (Tsunami information)"):
        if marker in text:
            head, _, rest = text.partition(marker)
            text = head + (attribution + rest.split(attribution, 1)[1] if attribution in rest else "")
    head, sep, tail = text.partition(attribution)
    return f"{head}{info}{sep}{tail}"


TSUNAMI_CHANGES = {"issued": "issued", "raised": "upgraded", "lowered": "downgraded", "lifted": "lifted"}


def notify_tsunami(db_session: Session, row: FeedSource, ref: str, transitions: Sequence[Transition], *,
                   settings: Settings, now: datetime, extra: Mapping[str, Any]) -> list[SentAlert]:
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
        texts = tsunami_texts(TSUNAMI_CHANGES[change], v.name_ja, v.name_en, v.rank, "" if lifted else before,
                              str(v.detail.get("area", "")), "" if lifted else str(v.detail.get("ja", "")),
                              "" if lifted else str(v.detail.get("en", "")))
        add_ja, add_en = ("", "") if lifted else tsunami_info_text(row.state)
        munis = sorted({t.area for t in ts})
        info = {**dict(extra), "ref": ref, "change": change, "topic": "tsunami", "kind": v.product}
        draft = _draft(severity="info" if lifted else v.severity, title=(texts[0], texts[1]),
                       body=(texts[2] + add_ja, texts[3] + add_en), topic="jma-tsunami", ttl=TSUNAMI_TTL_S,
                       municipalities=munis, extra=info,
                       priority=delivery.PRIORITY_LIFE)  # lane 0, 解除 included: people wait on high ground for it
        sig = hashlib.sha256(f"{ref}|{change}|{before}|{after}|{','.join(munis)}".encode()).hexdigest()[:24]
        done = send_alert(db_session, source=row.name, key=f"jma:tsunami:{sig}", kind=change, topic="tsunami",
                          event_id=ref, draft=draft, municipalities=munis, summary=texts[0], settings=settings,
                          now=now, detail=info)
        sent += record_sent(db_session, done, ts)
    return sent


def tsunami_info_text(row_state: Mapping[str, Any]) -> tuple[str, str]:
    """"（津波情報）高知県 第1波の到達予想 14時30分、予想される高さ ３ｍ" for the next tsunami push."""
    parts_ja, parts_en = [], []
    for i in row_state.get("tsunami_info", {}).values():
        when = _hhmm(datetime.fromisoformat(i["arrival"])) if i.get("arrival") else i.get("condition", "")
        ja = "、".join(p for p in (f"第1波の到達予想 {when}" if when else "",
                                   f"予想される高さ {i['height']}" if i.get("height") else "") if p)
        if ja:
            parts_ja.append(f"{i['area']} {ja}")
            parts_en.append(f"{i['area']}: first wave {when or '?'}, height {i.get('height') or '?'}")
    return ("（津波情報）" + "。".join(parts_ja) + "。" if parts_ja else "",
            " (Tsunami information) " + "; ".join(parts_en) + "." if parts_en else "")
