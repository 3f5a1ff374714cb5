"""南海トラフ地震臨時情報: each category once to every resident of the 推進地域; 解説情報 shown."""

from __future__ import annotations

import logging
import tomllib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import AreaValue, Scope, Statement, Transition, Value
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaResolver, NankaiTelegram
from pushsvc.feeds.jma.normalise import event_key
from pushsvc.feeds.jma.statements import telegram_ref
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.notify import SentAlert, send_alert
from pushsvc.feeds.seismic.common import CATEGORY, NANKAI_TTL_S, _draft, _withdraw
from pushsvc.geo import service as geo_service
from pushsvc.subscriptions import service as subscriptions
from pushsvc.types import Severity

log = logging.getLogger(__name__)


NANKAI_RANK = {"調査中": 1, "巨大地震注意": 2, "巨大地震警戒": 3}
NANKAI_SEVERITY: dict[str, Severity] = {
    "巨大地震警戒": "emergency",
    "巨大地震注意": "warning",
    "調査中": "warning",
    "調査終了": "info",
}
# What each category asks of residents: the catalogue's nankai.action.<category> (JMA's and the Cabinet
# Office's wording); the category's name is nankai.category.<category>.


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


def _nankai_groups(
    db_session: Session, cfg: NankaiConfig, munis: Sequence[str], now: datetime
) -> dict[tuple[str, ...], list[int]]:
    """Residents grouped by which of their towns have 事前避難対象地域, so each gets one message naming theirs."""
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for sid, rp in subscriptions.resident_places(
        db_session, category=CATEGORY, now=now, municipality_codes=munis
    ).items():
        groups[tuple(sorted({c for c, _ in rp.places if c in cfg.evacuation_areas}))].append(sid)
    return groups


def _nankai_cancel(
    db_session: Session,
    row: FeedSource,
    t: NankaiTelegram,
    nankai: dict[str, Any],
    *,
    settings: Settings,
    now: datetime,
) -> list[SentAlert]:
    """A 取消 puts back the 臨時情報 in force before it and tells exactly those who received it."""
    nankai["status"] = nankai.get("previous")
    row.state = {**row.state, "nankai": nankai}
    alerts.cancel_statement(db_session, source=row.name, ref=telegram_ref(t), at=t.head.report_datetime, now=now)
    return _withdraw(db_session, row, t, "nankai", "nankai", settings=settings, now=now, ref=telegram_ref(t))


def _nankai_commentary(
    db_session: Session,
    row: FeedSource,
    t: NankaiTelegram,
    nankai: dict[str, Any],
    entry: dict[str, Any],
    *,
    settings: Settings,
    now: datetime,
) -> list[SentAlert]:
    """A 解説情報 is shown with the 臨時情報 in force; only one that is not the 定例 is pushed."""
    nankai["commentary"] = entry
    if nankai.get("status"):
        nankai["status"] = {**nankai["status"], "commentary": entry}
    row.state = {**row.state, "nankai": nankai}
    if t.regular:
        return []
    return _nankai_send(
        db_session,
        row,
        t,
        "info",
        i18n.texts("nankai.commentary.title"),
        i18n.texts("nankai.commentary.body", headline=t.head.headline or t.text),
        {(): []},
        None,
        settings=settings,
        now=now,
    )


def _nankai_in_force(
    db_session: Session,
    row: FeedSource,
    t: NankaiTelegram,
    category: str,
    title: Mapping[str, str],
    munis: Sequence[str],
    *,
    now: datetime,
) -> list[Transition]:
    """In force for every town of the 推進地域 until 調査終了: the portal and the public feeds show it on top."""
    value = (
        None
        if category == "調査終了"
        else Value(
            title["ja"],
            title["ja"],
            title["en"],
            None,
            NANKAI_SEVERITY[category],
            NANKAI_RANK[category],
            {"category": category},
        )
    )
    return alerts.apply_statement(
        db_session,
        Statement(
            source=row.name,
            ref=telegram_ref(t),
            at=t.head.report_datetime,
            scope=Scope(prefix="nankai"),
            items=tuple(AreaValue("nankai", m, value) for m in munis),
        ),
        now=now,
    )


def ingest_nankai(
    db_session: Session,
    row: FeedSource,
    t: NankaiTelegram,
    resolver: AreaResolver,
    *,
    settings: Settings,
    now: datetime,
) -> list[SentAlert]:
    """Each category once to every resident of the 推進地域; 定例解説 is shown, never pushed."""
    nankai = dict(row.state.get("nankai", {}))
    event_id = event_key(t)
    if t.is_cancel:
        return _nankai_cancel(db_session, row, t, nankai, settings=settings, now=now)
    entry = {
        "title": t.head.title,
        "headline": t.head.headline,
        "text": t.text,
        "next": t.next_advisory,
        "telegram_id": t.telegram_id,
        "report_datetime": t.head.report_datetime.isoformat(),
    }
    if t.is_commentary:
        return _nankai_commentary(db_session, row, t, nankai, entry, settings=settings, now=now)
    category = t.category
    if not category:
        log.warning("%s: 南海トラフ地震臨時情報 %s without a known category, not pushed", row.name, t.telegram_id)
        return []
    current = nankai.get("status") or {}
    status = {
        **entry,
        "category": category,
        "event_id": event_id,
        "since": current.get("since") if current.get("category") == category else entry["report_datetime"],
    }
    nankai.update(previous=nankai.get("status"), status=None if category == "調査終了" else status, last=status)
    row.state = {**row.state, "nankai": nankai}
    cfg = load_nankai_config(settings.nankai_config_file, settings.prefecture)
    munis = list(cfg.promotion_area or (m.n03_code for m in resolver.municipalities))
    title = i18n.texts("nankai.title", category=i18n.Msg(f"nankai.category.{category}"))
    transitions = _nankai_in_force(db_session, row, t, category, title, munis, now=now)
    if current.get("category") == category:
        return []  # restated: everyone already heard this category
    groups = (
        _nankai_groups(db_session, cfg, munis, now) if category == "巨大地震警戒" and cfg.evacuation_areas else {(): []}
    )
    sent = _nankai_send(
        db_session,
        row,
        t,
        NANKAI_SEVERITY[category],
        title,
        i18n.texts(f"nankai.action.{category}"),
        groups,
        munis,
        districts=lambda towns: _districts(cfg, resolver, towns),
        settings=settings,
        now=now,
    )
    _attach_per_town(db_session, transitions, sent)
    return sent


def _districts(cfg: NankaiConfig, resolver: AreaResolver, towns: Sequence[str]) -> dict[str, str]:
    """ "室戸市の事前避難対象地域は室戸岬地区、佐喜浜地区です。" for each of ``towns``, in every language."""
    return i18n.join(
        *(
            i18n.texts(
                "nankai.districts",
                town=resolver.name(c),
                districts={lang: i18n.listing(cfg.evacuation_areas[c], lang) for lang in i18n.LANGUAGES},
            )
            for c in towns
        )
    )


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


def _nankai_send(
    db_session: Session,
    row: FeedSource,
    t: NankaiTelegram,
    severity: str,
    title: Mapping[str, str],
    body: Mapping[str, str],
    groups: Mapping[tuple[str, ...], list[int]],
    munis: Sequence[str] | None,
    *,
    settings: Settings,
    now: datetime,
    districts: Callable[[tuple[str, ...]], Mapping[str, str]] = lambda _: {},
) -> list[SentAlert]:
    """One notification per group: ``()`` with no ids means every resident of ``munis`` (or the prefecture)."""
    event_id = event_key(t)
    targets = list(munis) if munis is not None else []
    # Not seconds-critical like a tsunami: the lane of its severity, not quake_tsunami's lane 0.
    lane = {"emergency": delivery.PRIORITY_EMERGENCY, "warning": delivery.PRIORITY_WARNING}.get(
        severity, delivery.PRIORITY_ROUTINE
    )
    sent = []
    for towns, sids in groups.items():
        detail = {
            "event_id": event_id,
            "telegram_id": t.telegram_id,
            "change": "issued",
            "topic": "nankai",
            "category": t.category,
            "towns": list(towns),
            "ref": telegram_ref(t),
        }
        text = i18n.join(body, districts(towns))
        if towns or sids:
            draft = _draft(
                severity=severity,
                title=title,
                body=text,
                topic="jma-nankai",
                ttl=NANKAI_TTL_S,
                recipients=sids,
                municipalities=targets,
                extra=detail,
                pinned=True,
                priority=lane,
            )
        else:
            draft = _draft(
                severity=severity,
                title=title,
                body=text,
                topic="jma-nankai",
                ttl=NANKAI_TTL_S,
                municipalities=targets or _all(db_session, row),
                extra=detail,
                pinned=True,
                priority=lane,
            )
        done = send_alert(
            db_session,
            source=row.name,
            key=f"jma:{t.telegram_id}:nankai:{','.join(towns)}"[:255],
            kind="issued",
            topic="nankai",
            event_id=event_id,
            draft=draft,
            municipalities=tuple(targets),
            summary=title["ja"],
            settings=settings,
            now=now,
            detail=detail,
        )
        if done:
            sent.append(done)
    return sent


def _all(db_session: Session, row: FeedSource) -> list[str]:
    return [p.code for p in geo_service.list_places(db_session)]
