"""緊急地震速報（警報）: to everyone with a place or current location in a warned area, at once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaResolver, EewTelegram
from pushsvc.feeds.jma.normalise import event_key
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.notify import SentAlert, send_alert
from pushsvc.feeds.seismic.common import CATEGORY, EEW_TTL_S, _clock, _draft, _withdraw
from pushsvc.subscriptions import service as subscriptions

log = logging.getLogger(__name__)


def _eew_texts(t: EewTelegram, names: str) -> tuple[dict[str, str], dict[str, str]]:
    """Title and body in every language; area and hypocentre names stay as JMA wrote them."""
    origin = i18n.Msg("eew.origin", time=_clock(t.origin_time)) if t.origin_time else ""
    mag: i18n.Param = ""
    if t.magnitude is not None:  # a fragment: " (M7.2)" keeps its space
        mag = {lang: i18n.fragment("eew.magnitude", lang, magnitude=f"{t.magnitude:.1f}") for lang in i18n.LANGUAGES}
    return (
        i18n.texts("eew.title", areas=names),
        i18n.texts("eew.body", origin=origin, hypocentre=t.hypocentre_name, magnitude=mag),
    )


def _eew_draft(
    db_session: Session,
    before: set[str],
    fresh: list[str],
    *,
    title: Mapping[str, str],
    body: Mapping[str, str],
    topic: str,
    detail: dict[str, Any],
    now: datetime,
) -> delivery.NotificationDraft:
    """Lane 0, never behind any backlog (delivery's priority lanes); a later serial that widened the warning
    goes only to residents no earlier serial could reach."""
    if before:
        had = set(
            subscriptions.find_recipients(db_session, municipality_codes=sorted(before), category=CATEGORY, now=now)
        )
        now_in = subscriptions.find_recipients(db_session, municipality_codes=fresh, category=CATEGORY, now=now)
        return _draft(
            severity="emergency",
            title=title,
            body=body,
            topic=f"jma-{topic}",
            ttl=EEW_TTL_S,
            recipients=[s for s in now_in if s not in had],
            extra=detail,
            priority=delivery.PRIORITY_LIFE,
        )
    return _draft(
        severity="emergency",
        title=title,
        body=body,
        topic=f"jma-{topic}",
        ttl=EEW_TTL_S,
        municipalities=fresh,
        extra=detail,
        priority=delivery.PRIORITY_LIFE,
    )


def ingest_eew(
    db_session: Session, row: FeedSource, t: EewTelegram, resolver: AreaResolver, *, settings: Settings, now: datetime
) -> list[SentAlert]:
    """To everyone with a place or current location in a warned area; a later serial adds only new areas."""
    event_id = event_key(t)
    topic = f"eew:{event_id}"
    if not t.is_warning:
        log.info("%s: %s %s is a forecast, not pushed", row.name, t.control.title, t.telegram_id)
        return []
    if t.is_cancel:
        return _withdraw(db_session, row, t, topic, "eew", settings=settings, now=now)
    state = dict(row.state.get("eew", {}))
    known = dict(state.get(event_id, {}))
    areas = [(code, name) for code, name in t.warned_areas if resolver.quake_area(code)]
    warned = sorted({n03 for code, _ in areas for n03 in resolver.quake_area(code)})
    before = set(known.get("municipalities", []))
    fresh = [m for m in warned if m not in before]
    sent: list[SentAlert] = []
    if fresh:
        title, body = _eew_texts(t, "・".join(name for _, name in areas))
        detail = {
            "event_id": event_id,
            "telegram_id": t.telegram_id,
            "change": "issued",
            "topic": topic,
            "serial": t.head.serial,
            "areas": [c for c, _ in areas],
        }
        draft = _eew_draft(db_session, before, fresh, title=title, body=body, topic=topic, detail=detail, now=now)
        done = send_alert(
            db_session,
            source=row.name,
            key=f"jma:{t.telegram_id}:eew:{','.join(fresh)}"[:255],
            kind="issued",
            topic=topic,
            event_id=event_id,
            draft=draft,
            municipalities=fresh,
            summary=f"{title['ja']} → {len(fresh)} municipalities",
            settings=settings,
            now=now,
            detail=detail,
        )
        if done:
            sent.append(done)
    known.update(municipalities=sorted(before | set(warned)), final=t.final, serial=t.head.serial)
    state[event_id] = known
    # Only the recent events matter (a later serial of the same quake); keep the state small.
    row.state = {**row.state, "eew": dict(list(state.items())[-20:])}
    return sent
