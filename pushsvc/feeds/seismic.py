"""Earthquakes, 緊急地震速報 and 南海トラフ地震臨時情報 → notifications, one per resident per report.

Weather warnings are states per municipality (``jma.changes``); earthquake reports are not: each report is
news for the people it shook, so it is sent once to each resident, for the strongest intensity among all
their places and naming that place, and the 震源・震度情報 that follows a 震度速報 goes (same Topic, so it
replaces the first on the device) to everyone the first reached, with their own town's intensity. Residents
choose the lowest 震度 they want to hear about (``min_quake_intensity``, default 震度3).

Like the rest of the feeds service: functions take ``db_session``, never commit, and every notification
is keyed in ``feed_alerts`` so a telegram delivered twice (poller and push-in, or a relay's retry) sends once.
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import AreaValue, Scope, Statement, Transition, Value
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaResolver, EewTelegram, NankaiTelegram, QuakeTelegram, Telegram, TsunamiTelegram
from pushsvc.feeds.jma.normalise import event_key, quake_severity
from pushsvc.feeds.jma.quake import intensity_ja, intensity_rank
from pushsvc.feeds.jma.statements import telegram_ref
from pushsvc.feeds.jma.tsunami import tsunami_texts
from pushsvc.feeds.models import FeedAlert, FeedSource
from pushsvc.feeds.service import JMA_ATTRIBUTION, SentAlert, send_alert
from pushsvc.geo import service as geo_service
from pushsvc.subscriptions import service as subscriptions
from pushsvc.types import Severity

log = logging.getLogger(__name__)

JST = timezone(timedelta(hours=9))
CATEGORY = "quake_tsunami"
QUAKE_TTL_S = 6 * 3600
EEW_TTL_S = delivery.TTL_EEW_S
NANKAI_TTL_S = 12 * 3600
TSUNAMI_TTL_S = 6 * 3600
SEVERITY_ORDER = ("info", "advisory", "warning", "emergency")


def _hhmm(dt: datetime | None) -> str:
    return dt.astimezone(JST).strftime("%H時%M分") if dt else ""


def _draft(*, severity: str, title: tuple[str, str], body: tuple[str, str], topic: str, ttl: int,
           extra: dict[str, Any], municipalities: Sequence[str] = (),
           recipients: Sequence[int] | None = None, reference: Sequence[int] = (),
           pinned: bool = False, priority: int | None = None) -> delivery.NotificationDraft:
    """One JMA-derived draft; source attribution appended as everywhere else."""
    return delivery.NotificationDraft(
        source="jma", category=CATEGORY, severity=severity, title={"ja": title[0], "en": title[1]},
        body={"ja": f"{body[0]}（出典：{JMA_ATTRIBUTION}）", "en": f"{body[1]} (Source: JMA)"},
        municipality_codes=list(municipalities), recipient_ids=sorted(recipients) if recipients is not None else None,
        ttl_seconds=ttl, topic=topic[:64], extra={"jma": extra, **({"pinned": True} if pinned else {})},
        reference_id=reference[0] if reference else None, also_references=list(reference[1:]), priority=priority,
        first_batch_early=priority == delivery.PRIORITY_LIFE,  # its first push within half a second
    )


def _earlier(db_session: Session, source: str, event_id: str, topic: str) -> list[FeedAlert]:
    return list(db_session.execute(select(FeedAlert).where(
        FeedAlert.source == source, FeedAlert.event_id == event_id, FeedAlert.topic == topic,
        FeedAlert.kind != "cancel", FeedAlert.notification_id.is_not(None)).order_by(FeedAlert.id)).scalars())


def _withdraw(db_session: Session, row: FeedSource, t: Telegram, topic: str, what: str, *,
              settings: Settings, now: datetime, ref: str | None = None) -> list[SentAlert]:
    """A 取消: stop what is still queued and tell exactly those who received it, once each.

    ``ref`` (JMA's telegram identity) limits it to what that one telegram sent; without it, the whole event.
    """
    event_id = event_key(t)
    originals = [a.notification_id for a in _earlier(db_session, row.name, event_id, topic)
                 if a.notification_id is not None and (ref is None or a.detail.get("ref") == ref)]
    recipients: set[int] = set()
    for nid in originals:
        recipients.update(delivery.recipients_who_received(db_session, nid))
        delivery.cancel_notification(db_session, nid, now=now)
    draft = _draft(severity="warning", title=(f"{what}（取消）", "Cancelled by JMA"),
                   body=(f"先ほどお知らせした{what}は、気象庁により取り消されました。",
                         f"The earlier {what} has been withdrawn by JMA. Please disregard it."),
                   topic=f"jma-{topic}", ttl=QUAKE_TTL_S, recipients=sorted(recipients), reference=originals,
                   extra={"event_id": event_id, "telegram_id": t.telegram_id, "change": "cancel", "corrects": originals}
                   ) if originals else None
    done = send_alert(db_session, source=row.name, key=f"jma:{t.telegram_id}:cancel:{topic}"[:255], kind="cancel",
                      topic=topic, event_id=event_id, draft=draft, municipalities=(), summary=f"{what} 取消",
                      settings=settings, now=now, detail={"corrects": originals})
    return [done] if done else []


# -- 震度速報 / 震源・震度情報 ----------------------------------------------------------------------------------


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


def _quake_texts(t: QuakeTelegram, shaking: _Shaking, town: str, town_name: str, value: str
                 ) -> tuple[tuple[str, str], tuple[str, str]]:
    when = _hhmm(t.origin_time or t.head.target_datetime)
    when_ja = f"{when}ごろ、" if when else ""
    if not shaking.city_level and town in shaking.area_of:
        _, area = shaking.area_of[town]
        return ((f"震度速報 {area}で{intensity_ja(value)}", f"Earthquake: intensity {_en(value)} in {area}"),
                (f"{when_ja}{area}で{intensity_ja(value)}を観測しました（{town_name}を含む地域の最大震度）。"
                 "震源や地震の規模は続く情報でお知らせします。",
                 f"Seismic intensity {_en(value)} was observed in {area}, which includes {town_name}. "
                 "The epicentre and magnitude follow in the next report."))
    hypo = t.hypocentre.name if t.hypocentre else ""
    depth = t.depth_km
    depth_ja = "" if depth is None else "（ごく浅い）" if depth == 0 else f"（深さ約{depth}km）"
    depth_en = "unknown depth" if depth is None else "very shallow" if depth == 0 else f"depth {depth} km"
    mag = f"M{t.magnitude:.1f}" if t.magnitude is not None else "不明"
    source_ja = f"震源は{hypo}{depth_ja}、地震の規模は{mag}と推定されます。"
    comment = t.forecast_comment.replace("\n", "")
    if value:
        title = (f"震源・震度情報 {town_name}で{intensity_ja(value)}",
                 f"Earthquake: intensity {_en(value)} in {town_name}")
        seen_ja = f"{town_name}で{intensity_ja(value)}を観測しました。"
        seen_en = f"Intensity {_en(value)} in {town_name}."
    else:  # reached by the first report, not listed in this one
        title = (f"震源・震度情報 {town_name}", f"Earthquake report for {town_name}")
        seen_ja, seen_en = (f"{town_name}の震度は、この情報では発表されていません。",
                            f"No intensity was reported for {town_name}.")
    return title, (f"{when_ja}{hypo}で地震がありました。{seen_ja}{source_ja}{comment}",
                   f"{seen_en} Epicentre {hypo}, {depth_en}, {mag}.")


def ingest_quake(db_session: Session, row: FeedSource, t: QuakeTelegram, resolver: AreaResolver, *,
                 settings: Settings, now: datetime) -> list[SentAlert]:
    """One message per resident per report: the highest intensity among their places, above their minimum."""
    event_id = event_key(t)
    topic = f"quake:{event_id}"
    if t.is_cancel:
        return _withdraw(db_session, row, t, topic, "地震情報", settings=settings, now=now)
    shaking = _shaking(t, resolver)
    if not shaking.by_town:
        return []  # 震源に関する情報 or a quake nobody here felt: nothing to tell residents about shaking
    earlier = _earlier(db_session, row.name, event_id, topic)
    reached: set[int] = set()
    for a in earlier:
        reached.update(delivery.recipients_who_received(db_session, a.notification_id or 0))
    prior = max((SEVERITY_ORDER.index(a.detail.get("severity", "info")) for a in earlier), default=0)
    residents = subscriptions.resident_places(db_session, category=CATEGORY, now=now,
                                              municipality_codes=list(shaking.by_town), subscription_ids=reached)
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
        detail = {"event_id": event_id, "telegram_id": t.telegram_id, "change": "report", "topic": topic,
                  "municipality": town, "intensity": value, "severity": severity, "report": t.control.title}
        draft = _draft(severity=severity, title=title, body=body, topic=f"jma-{topic}", ttl=QUAKE_TTL_S,
                       recipients=sids, extra=detail)
        done = send_alert(db_session, source=row.name, key=f"jma:{t.telegram_id}:quake:{town}:{value}:{follow_up}",
                          kind="issued", topic=topic, event_id=event_id, draft=draft, municipalities=(town,),
                          summary=f"{title[0]} → {len(sids)}", settings=settings, now=now, detail=detail)
        if done:
            sent.append(done)
    return sent


# -- 緊急地震速報（警報） ------------------------------------------------------------------------------------


def ingest_eew(db_session: Session, row: FeedSource, t: EewTelegram, resolver: AreaResolver, *,
               settings: Settings, now: datetime) -> list[SentAlert]:
    """To everyone with a place or current location in a warned area; a later serial adds only new areas."""
    event_id = event_key(t)
    topic = f"eew:{event_id}"
    if not t.is_warning:
        log.info("%s: %s %s is a forecast, not pushed", row.name, t.control.title, t.telegram_id)
        return []
    if t.is_cancel:
        return _withdraw(db_session, row, t, topic, "緊急地震速報", settings=settings, now=now)
    state = dict(row.state.get("eew", {}))
    known = dict(state.get(event_id, {}))
    areas = [(code, name) for code, name in t.warned_areas if resolver.quake_area(code)]
    warned = sorted({n03 for code, _ in areas for n03 in resolver.quake_area(code)})
    before = set(known.get("municipalities", []))
    fresh = [m for m in warned if m not in before]
    sent: list[SentAlert] = []
    if fresh:
        names = "・".join(name for _, name in areas)
        origin = f"{_hhmm(t.origin_time)}ごろ" if t.origin_time else ""
        mag = f"（M{t.magnitude:.1f}）" if t.magnitude is not None else ""
        title = (f"緊急地震速報 強い揺れに警戒 {names}", f"Earthquake Early Warning: strong shaking, {names}")
        body = (f"{origin}{t.hypocentre_name}で地震{mag}。強い揺れに警戒してください。"
                "頭を守り、丈夫な机の下など安全な場所で揺れがおさまるまで待ってください。",
                f"Earthquake off/near {t.hypocentre_name}{mag}. Strong shaking expected: protect your head "
                "and take cover until the shaking stops.")
        detail = {"event_id": event_id, "telegram_id": t.telegram_id, "change": "issued", "topic": topic,
                  "serial": t.head.serial, "areas": [c for c, _ in areas]}
        if before:  # a later serial widened the warning: only residents no earlier serial could reach
            had = set(subscriptions.find_recipients(db_session, municipality_codes=sorted(before),
                                                    category=CATEGORY, now=now))
            now_in = subscriptions.find_recipients(db_session, municipality_codes=fresh, category=CATEGORY, now=now)
            draft = _draft(severity="emergency", title=title, body=body, topic=f"jma-{topic}", ttl=EEW_TTL_S,
                           recipients=[s for s in now_in if s not in had], extra=detail,
                           priority=delivery.PRIORITY_LIFE)
        else:  # lane 0: never behind any backlog (delivery's priority lanes)
            draft = _draft(severity="emergency", title=title, body=body, topic=f"jma-{topic}", ttl=EEW_TTL_S,
                           municipalities=fresh, extra=detail, priority=delivery.PRIORITY_LIFE)
        done = send_alert(db_session, source=row.name, key=f"jma:{t.telegram_id}:eew:{','.join(fresh)}"[:255],
                          kind="issued", topic=topic, event_id=event_id, draft=draft, municipalities=fresh,
                          summary=f"{title[0]} → {len(fresh)} municipalities", settings=settings, now=now,
                          detail=detail)
        if done:
            sent.append(done)
    known.update(municipalities=sorted(before | set(warned)), final=t.final, serial=t.head.serial)
    state[event_id] = known
    # Only the recent events matter (a later serial of the same quake); keep the state small.
    row.state = {**row.state, "eew": dict(list(state.items())[-20:])}
    return sent


# -- 南海トラフ地震臨時情報 ----------------------------------------------------------------------------------


NANKAI_RANK = {"調査中": 1, "巨大地震注意": 2, "巨大地震警戒": 3}
NANKAI_SEVERITY: dict[str, Severity] = {"巨大地震警戒": "emergency", "巨大地震注意": "warning", "調査中": "warning",
                                        "調査終了": "info"}
NANKAI_ACTION_JA = {
    "巨大地震警戒": "事前避難対象地域の方は、1週間の避難を継続してください。"
                    "他の方も、日頃からの地震への備えを再確認し、揺れを感じたらすぐに避難できる準備をしてください。",
    "巨大地震注意": "日頃からの地震への備えを再確認し、揺れを感じたらすぐに避難してください。",
    "調査中": "南海トラフ地震との関連を調査しています。今後の情報に注意してください。",
    "調査終了": "調査の結果、巨大地震警戒・巨大地震注意には当たりませんでした。地震の発生に注意しながら、"
                "通常の生活を送ってください。",
}
NANKAI_ACTION_EN = {
    "巨大地震警戒": "Residents of designated pre-evacuation areas: stay evacuated for one week. Everyone else: "
                    "check your preparations and be ready to evacuate as soon as you feel shaking.",
    "巨大地震注意": "Check your preparations and evacuate at once if you feel shaking.",
    "調査中": "JMA is investigating a possible link to a Nankai Trough megaquake. Watch for further information.",
    "調査終了": "The investigation found no heightened risk category. Carry on as usual, staying alert.",
}


@dataclass(frozen=True)
class NankaiConfig:
    """The prefecture's configuration: 推進地域 municipalities (default all) and 事前避難対象地域 by town."""

    promotion_area: tuple[str, ...] | None
    evacuation_areas: Mapping[str, tuple[str, ...]]


@cache
def load_nankai_config(path: Path | None, prefecture: str) -> NankaiConfig:
    """TOML: ``promotion_area = ["39201", …]`` (optional) and ``[evacuation_areas]`` ``"39202" = ["…地区"]``.

    A broken file is logged and ignored: the 臨時情報 still reaches every resident, with the generic wording.
    """
    if path is None:
        return NankaiConfig(None, {})
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        areas = {str(k): tuple(str(d) for d in v) for k, v in dict(doc.get("evacuation_areas", {})).items()}
        bad = [k for k in areas if not (len(k) == 5 and k.isdigit() and k.startswith(prefecture))]
        if bad:
            raise ValueError(f"not municipalities of prefecture {prefecture}: {', '.join(bad)}")
        promo = doc.get("promotion_area")
        return NankaiConfig(tuple(str(c) for c in promo) if promo is not None else None, areas)
    except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        log.error("南海トラフ configuration %s unusable, using defaults: %s", path, exc)
        return NankaiConfig(None, {})


def nankai_status(row_state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The 臨時情報 in force (until 調査終了), with the latest 解説情報, as stored by ``ingest_nankai``."""
    status = row_state.get("nankai", {}).get("status")
    return dict(status) if status else None


def _nankai_groups(db_session: Session, cfg: NankaiConfig, munis: Sequence[str], now: datetime
                   ) -> dict[tuple[str, ...], list[int]]:
    """Residents grouped by which of their towns have 事前避難対象地域, so each gets one message naming theirs."""
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for sid, rp in subscriptions.resident_places(db_session, category=CATEGORY, now=now,
                                                 municipality_codes=munis).items():
        groups[tuple(sorted({c for c, _ in rp.places if c in cfg.evacuation_areas}))].append(sid)
    return groups


def ingest_nankai(db_session: Session, row: FeedSource, t: NankaiTelegram, resolver: AreaResolver, *,
                  settings: Settings, now: datetime) -> list[SentAlert]:
    """Each category once to every resident of the 推進地域; 定例解説 is shown, never pushed."""
    nankai = dict(row.state.get("nankai", {}))
    event_id = event_key(t)
    topic = "nankai"
    if t.is_cancel:
        nankai["status"] = nankai.get("previous")
        row.state = {**row.state, "nankai": nankai}
        alerts.cancel_statement(db_session, source=row.name, ref=telegram_ref(t), at=t.head.report_datetime, now=now)
        return _withdraw(db_session, row, t, topic, "南海トラフ地震臨時情報", settings=settings, now=now,
                         ref=telegram_ref(t))
    entry = {"title": t.head.title, "headline": t.head.headline, "text": t.text, "next": t.next_advisory,
             "telegram_id": t.telegram_id, "report_datetime": t.head.report_datetime.isoformat()}
    if t.is_commentary:
        nankai["commentary"] = entry
        if nankai.get("status"):
            nankai["status"] = {**nankai["status"], "commentary": entry}
        row.state = {**row.state, "nankai": nankai}
        if t.regular:
            return []
        return _nankai_send(db_session, row, t, "info", ("南海トラフ地震関連解説情報", "Nankai Trough commentary"),
                            (t.head.headline or t.text, "JMA has issued a commentary on the Nankai Trough."),
                            {(): []}, None, settings=settings, now=now)
    category = t.category
    if not category:
        log.warning("%s: 南海トラフ地震臨時情報 %s without a known category, not pushed", row.name, t.telegram_id)
        return []
    current = nankai.get("status") or {}
    status = {**entry, "category": category, "event_id": event_id, "since": current.get("since")
              if current.get("category") == category else entry["report_datetime"]}
    nankai.update(previous=nankai.get("status"), status=None if category == "調査終了" else status, last=status)
    row.state = {**row.state, "nankai": nankai}
    cfg = load_nankai_config(settings.nankai_config_file, settings.prefecture)
    munis = list(cfg.promotion_area or (m.n03_code for m in resolver.municipalities))
    title = (f"南海トラフ地震臨時情報（{category}）", f"Nankai Trough megaquake information: {category}")
    # In force for every town of the 推進地域 until 調査終了: the portal and the public feeds show it on top.
    value = None if category == "調査終了" else Value(title[0], title[0], title[1], None, NANKAI_SEVERITY[category],
                                                     NANKAI_RANK[category], {"category": category})
    transitions = alerts.apply_statement(db_session, Statement(
        source=row.name, ref=telegram_ref(t), at=t.head.report_datetime, scope=Scope(prefix="nankai"),
        items=tuple(AreaValue("nankai", m, value) for m in munis)), now=now)
    if current.get("category") == category:
        return []  # restated: everyone already heard this category
    groups = _nankai_groups(db_session, cfg, munis, now) if category == "巨大地震警戒" and cfg.evacuation_areas \
        else {(): []}
    sent = _nankai_send(db_session, row, t, NANKAI_SEVERITY[category], title,
                        (NANKAI_ACTION_JA[category], NANKAI_ACTION_EN[category]), groups, munis,
                        districts=lambda towns: "".join(
                            f"{resolver.name(c)}の事前避難対象地域は{'、'.join(cfg.evacuation_areas[c])}です。"
                            for c in towns), settings=settings, now=now)
    _attach_per_town(db_session, transitions, sent)
    return sent


def _attach_per_town(db_session: Session, transitions: Sequence[Transition], sent: Sequence[SentAlert]) -> None:
    """Each town's in-force 臨時情報 shows the message its residents got (naming its 事前避難対象地域, if any)."""
    by_towns = {tuple(s.detail.get("towns", ())): s.notification_id for s in sent if s.notification_id is not None}
    if not by_towns:
        return
    fallback = by_towns.get(()) or next(iter(by_towns.values()))
    per_nid: dict[int, list[Transition]] = defaultdict(list)
    for t in transitions:
        nid = by_towns.get((t.area,)) or next((n for towns, n in by_towns.items() if t.area in towns), fallback)
        if nid is not None:
            per_nid[nid].append(t)
    for nid, ts in per_nid.items():
        alerts.attach_notification(db_session, ts, nid)


def _nankai_send(db_session: Session, row: FeedSource, t: NankaiTelegram, severity: str, title: tuple[str, str],
                 body: tuple[str, str], groups: Mapping[tuple[str, ...], list[int]], munis: Sequence[str] | None,
                 *, settings: Settings, now: datetime,
                 districts: Callable[[tuple[str, ...]], str] = lambda _: "") -> list[SentAlert]:
    """One notification per group: ``()`` with no ids means every resident of ``munis`` (or the prefecture)."""
    event_id = event_key(t)
    targets = list(munis) if munis is not None else []
    # Not seconds-critical like a tsunami: the lane of its severity, not quake_tsunami's lane 0.
    lane = {"emergency": delivery.PRIORITY_EMERGENCY, "warning": delivery.PRIORITY_WARNING}.get(
        severity, delivery.PRIORITY_ROUTINE)
    sent = []
    for towns, sids in groups.items():
        detail = {"event_id": event_id, "telegram_id": t.telegram_id, "change": "issued", "topic": "nankai",
                  "category": t.category, "towns": list(towns), "ref": telegram_ref(t)}
        ja = body[0] + districts(towns)
        if towns or sids:
            draft = _draft(severity=severity, title=title, body=(ja, body[1]), topic="jma-nankai",
                           ttl=NANKAI_TTL_S, recipients=sids, municipalities=targets, extra=detail, pinned=True,
                           priority=lane)
        else:
            draft = _draft(severity=severity, title=title, body=(ja, body[1]), topic="jma-nankai",
                           ttl=NANKAI_TTL_S, municipalities=targets or _all(db_session, row), extra=detail,
                           pinned=True, priority=lane)
        done = send_alert(db_session, source=row.name, key=f"jma:{t.telegram_id}:nankai:{','.join(towns)}"[:255],
                          kind="issued", topic="nankai", event_id=event_id, draft=draft,
                          municipalities=tuple(targets), summary=title[0], settings=settings, now=now, detail=detail)
        if done:
            sent.append(done)
    return sent


def _all(db_session: Session, row: FeedSource) -> list[str]:
    return [p.code for p in geo_service.list_places(db_session)]


# -- 津波情報 (VTSE51) -----------------------------------------------------------------------------------------


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
        if done:
            if done.notification_id is not None:
                alerts.attach_notification(db_session, ts, done.notification_id)
            sent.append(done)
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


def ingest(db_session: Session, row: FeedSource, t: Telegram, resolver: AreaResolver, *, settings: Settings,
           now: datetime) -> list[SentAlert] | None:
    """The kinds handled here; ``None`` for the others (``service.ingest_jma_telegram`` diffs those)."""
    if not isinstance(t, QuakeTelegram | EewTelegram | NankaiTelegram) and not (
            isinstance(t, TsunamiTelegram) and t.info_only):
        return None
    if not t.is_actual:
        log.info("%s: telegram %s skipped: Control/Status %s", row.name, t.telegram_id, t.control.status)
        return []
    if isinstance(t, QuakeTelegram):
        return ingest_quake(db_session, row, t, resolver, settings=settings, now=now)
    if isinstance(t, EewTelegram):
        return ingest_eew(db_session, row, t, resolver, settings=settings, now=now)
    if isinstance(t, NankaiTelegram):
        return ingest_nankai(db_session, row, t, resolver, settings=settings, now=now)
    record_tsunami_info(db_session, row, t, resolver)
    return []
