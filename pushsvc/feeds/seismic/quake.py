"""震度速報 / 震源・震度情報: one message per resident per report, for the strongest intensity among their places."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaResolver, QuakeTelegram
from pushsvc.feeds.jma.normalise import event_key, quake_severity
from pushsvc.feeds.jma.quake import INTENSITY_JA, intensity_rank
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.notify import SentAlert, send_alert
from pushsvc.feeds.seismic.common import CATEGORY, QUAKE_TTL_S, SEVERITY_ORDER, _clock, _draft, _earlier, _withdraw
from pushsvc.subscriptions import service as subscriptions
from pushsvc.types import LANGUAGES


@dataclass(frozen=True)
class _Shaking:
    """Intensity per municipality as this report states it, and the 細分区域 it was stated for (VXSE51)."""

    by_town: dict[str, str]  # N03 → "5+" …
    area_of: dict[str, tuple[str, str]]  # N03 → (area code, area name), when stated only per area
    city_level: bool


def _shaking(t: QuakeTelegram, r: AreaResolver) -> _Shaking:
    cities = [(r.resolve(i.code), i.max_int) for i in t.intensities if i.level == "city"]
    by_town: dict[str, str] = {}
    area_of: dict[str, tuple[str, str]] = {}
    city_level = any(codes for codes, _ in cities)
    if city_level:
        for codes, value in cities:
            for n03 in codes:
                if intensity_rank(value) > intensity_rank(by_town.get(n03, "")):
                    by_town[n03] = value
    else:
        for i in t.intensities:
            for n03 in r.quake_area(i.code) if i.level == "area" else ():
                by_town[n03], area_of[n03] = i.max_int, (i.code, i.name)
    return _Shaking(by_town, area_of, city_level)


def _en(value: str) -> str:
    """JMA's 5-/5+ … as English readers know them (5 lower, 5 upper)."""
    return {"5-": "5 lower", "5+": "5 upper", "6-": "6 lower", "6+": "6 upper"}.get(value, value)


def _intensity(value: str) -> dict[str, str]:
    """An intensity (``5+``) in every language, without the word 震度 (the message says it): 5強, 5 upper, 5강 …"""
    half = {"-": "intensity.lower", "+": "intensity.upper"}.get(value[-1:])
    return {
        **{lang: i18n.text(half, lang, n=value[:-1]) if half else value for lang in LANGUAGES},
        "ja": INTENSITY_JA.get(value, value),
        "en": _en(value),
    }


def _depth(depth: int | None) -> i18n.Param:
    if depth is None:  # Japanese has always left an unknown depth unsaid (ja first: its "" is then kept)
        return {lang: "" if lang == i18n.SOURCE else i18n.text("quake.depth.unknown", lang) for lang in LANGUAGES}
    return i18n.Msg("quake.depth.shallow") if depth == 0 else i18n.Msg("quake.depth.km", depth=depth)


def _quake_texts(
    t: QuakeTelegram, shaking: _Shaking, town: str, town_name: str, value: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Title and body in every language; JMA's forecast comment (津波の心配はありません …) is Japanese only."""
    at = t.origin_time or t.head.target_datetime
    when: i18n.Param = i18n.Msg("quake.when", time=_clock(at)) if at else ""
    intensity = _intensity(value)
    if not shaking.city_level and town in shaking.area_of:
        _, area = shaking.area_of[town]
        return (
            i18n.texts("quake.title.area", area=area, intensity=intensity),
            i18n.texts("quake.body.area", when=when, area=area, intensity=intensity, town=town_name),
        )
    if value:
        title = i18n.texts("quake.title.city", town=town_name, intensity=intensity)
        seen = i18n.Msg("quake.seen", town=town_name, intensity=intensity)
    else:  # reached by the first report, not listed in this one
        title, seen = i18n.texts("quake.title.unlisted", town=town_name), i18n.Msg("quake.unlisted", town=town_name)
    mag: i18n.Param = f"M{t.magnitude:.1f}" if t.magnitude is not None else i18n.Msg("quake.magnitude.unknown")
    return title, i18n.texts(
        "quake.body",
        when=when,
        hypocentre=t.hypocentre.name if t.hypocentre else "",
        seen=seen,
        depth=_depth(t.depth_km),
        magnitude=mag,
        comment=t.forecast_comment.replace("\n", ""),
    )  # only the Japanese says it


def ingest_quake(
    db_session: Session, row: FeedSource, t: QuakeTelegram, resolver: AreaResolver, *, settings: Settings, now: datetime
) -> list[SentAlert]:
    """One message per resident per report: the highest intensity among their places, above their minimum."""
    event_id = event_key(t)
    topic = f"quake:{event_id}"
    if t.is_cancel:
        return _withdraw(db_session, row, t, topic, "quake", settings=settings, now=now)
    shaking = _shaking(t, resolver)
    if not shaking.by_town:
        return []  # 震源に関する情報 or a quake nobody here felt: nothing to tell residents about shaking
    earlier = _earlier(db_session, row.name, event_id, topic)
    reached: set[int] = set()
    for a in earlier:
        reached.update(delivery.recipients_who_received(db_session, a.notification_id or 0))
    prior = max((SEVERITY_ORDER.index(a.detail.get("severity", "info")) for a in earlier), default=0)
    residents = subscriptions.resident_places(
        db_session, category=CATEGORY, now=now, municipality_codes=list(shaking.by_town), subscription_ids=reached
    )
    groups: dict[tuple[str, str, bool], list[int]] = defaultdict(list)
    for sid, rp in residents.items():
        ranked = [(intensity_rank(shaking.by_town.get(code, "")), code) for code, _ in rp.places]
        rank, town = max(ranked)
        if sid in reached or (rank and rank >= rp.min_quake_intensity):
            groups[(town, shaking.by_town.get(town, ""), sid in reached)].append(sid)
    sent = []
    for (town, value, follow_up), sids in sorted(groups.items()):
        severity: str = quake_severity(intensity_rank(value)) if value else "info"
        if follow_up:  # an update must not wait for quiet hours the report it corrects did not wait for
            severity = SEVERITY_ORDER[max(SEVERITY_ORDER.index(severity), prior)]
        title, body = _quake_texts(t, shaking, town, resolver.name(town), value)
        detail = {
            "event_id": event_id,
            "telegram_id": t.telegram_id,
            "change": "report",
            "topic": topic,
            "municipality": town,
            "intensity": value,
            "severity": severity,
            "report": t.control.title,
        }
        draft = _draft(
            severity=severity,
            title=title,
            body=body,
            topic=f"jma-{topic}",
            ttl=QUAKE_TTL_S,
            recipients=sids,
            extra=detail,
        )
        done = send_alert(
            db_session,
            source=row.name,
            key=f"jma:{t.telegram_id}:quake:{town}:{value}:{follow_up}",
            kind="issued",
            topic=topic,
            event_id=event_id,
            draft=draft,
            municipalities=(town,),
            summary=f"{title['ja']} → {len(sids)}",
            settings=settings,
            now=now,
            detail=detail,
        )
        if done:
            sent.append(done)
    return sent
