"""Feeds service: poll state and health per source, river stations, and alerts → notifications, exactly once.

Every function takes ``db_session`` and never commits: the poller commits one poll (engine state, alerts,
notifications, source state) as one transaction, so a crash repeats a whole poll or none of it, and the
deterministic alert keys in ``feed_alerts`` stop a repeated poll from sending anything twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.db import is_postgres
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaEvent, AreaResolver, Telegram, detect_changes
from pushsvc.feeds.models import FeedAlert, FeedSource, RiverStation
from pushsvc.feeds.river import AlertRules, Evaluation, RiverAlert, Snapshot, Stage, Station, StationState, evaluate
from pushsvc.feeds.sources import SourceConfig
from pushsvc.geo import service as geo_service

log = logging.getLogger(__name__)

RIVER_TTL_S = 6 * 3600  # a water level six hours old is no longer news


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# -- sources: state and health --------------------------------------------------------------------------


def get_source(db_session: Session, cfg: SourceConfig, *, now: datetime, lock: bool = False) -> FeedSource:
    """The stored row for a configured source, created on first use; ``lock`` serialises pollers on PostgreSQL."""
    stmt = select(FeedSource).where(FeedSource.name == cfg.name)
    if lock and is_postgres(db_session):
        stmt = stmt.with_for_update()
    row = db_session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        row = FeedSource(name=cfg.name, kind=cfg.kind, url=cfg.url, interval_s=cfg.interval_s, state={},
                         created_at=now, consecutive_failures=0)
        db_session.add(row)
        db_session.flush()
    if row.kind != cfg.kind or row.url != cfg.url:  # reconfigured: old validators and state do not apply
        row.etag = row.last_modified = None
        if row.kind != cfg.kind:
            row.state = {}
    row.kind, row.url, row.interval_s = cfg.kind, cfg.url, cfg.interval_s
    return row


def backoff_s(cfg: SourceConfig, failures: int, max_backoff_s: float) -> float:
    """Wait after ``failures`` consecutive failures: the interval, doubled per failure, capped."""
    return float(min(cfg.interval_s * 2 ** min(failures, 30), max(max_backoff_s, cfg.interval_s)))


def record_success(db_session: Session, row: FeedSource, cfg: SourceConfig, *, now: datetime, changed: bool,
                   etag: str | None = None, last_modified: str | None = None) -> None:
    row.last_attempt_at = row.last_success_at = now
    if changed:
        row.last_change_at = now
        row.etag, row.last_modified = etag, last_modified
    row.consecutive_failures = 0
    row.next_poll_at = now + timedelta(seconds=cfg.interval_s)
    db_session.flush()


def record_failure(db_session: Session, cfg: SourceConfig, error: str, *, now: datetime,
                   max_backoff_s: float) -> FeedSource:
    """Count a failed poll and schedule the next one with exponential backoff; returns the row."""
    row = get_source(db_session, cfg, now=now, lock=True)
    row.last_attempt_at = row.last_error_at = now
    row.last_error = error[:2000]
    row.consecutive_failures += 1
    row.next_poll_at = now + timedelta(seconds=backoff_s(cfg, row.consecutive_failures, max_backoff_s))
    db_session.flush()
    return row


def source_health(row: FeedSource | None, cfg: SourceConfig | None, *, now: datetime,
                  unhealthy_after_s: float) -> dict[str, Any]:
    """One source as operators see it: ``healthy`` is false once it has not succeeded for the threshold."""
    name = row.name if row else cfg.name if cfg else ""
    since = _utc(row.last_success_at or row.created_at) if row else None
    down_s = (now - since).total_seconds() if since else None
    healthy = down_s is not None and down_s <= unhealthy_after_s
    if row is None:
        status = "not polled yet"
    elif row.consecutive_failures and healthy:
        status = "failing"
    elif not healthy:
        status = "down"
    else:
        status = "ok"
    return {
        "name": name, "kind": cfg.kind if cfg else row.kind if row else "", "configured": cfg is not None,
        "enabled": bool(cfg and cfg.enabled), "interval_s": cfg.interval_s if cfg else row.interval_s if row else None,
        "status": status, "healthy": healthy and status != "not polled yet",
        "last_success_at": _utc(row.last_success_at) if row else None,
        "last_change_at": _utc(row.last_change_at) if row else None,
        "last_attempt_at": _utc(row.last_attempt_at) if row else None,
        "last_error": row.last_error if row and row.consecutive_failures else None,
        "last_error_at": _utc(row.last_error_at) if row else None,
        "consecutive_failures": row.consecutive_failures if row else 0,
        "next_poll_at": _utc(row.next_poll_at) if row else None,
    }


def list_health(db_session: Session, configs: Sequence[SourceConfig], *, now: datetime,
                unhealthy_after_s: float) -> list[dict[str, Any]]:
    """Every configured source, plus stored ones no longer configured (so a removed source is still visible)."""
    rows = {r.name: r for r in db_session.execute(select(FeedSource).order_by(FeedSource.name)).scalars()}
    out = [source_health(rows.pop(c.name, None), c, now=now, unhealthy_after_s=unhealthy_after_s) for c in configs]
    out += [source_health(r, None, now=now, unhealthy_after_s=unhealthy_after_s) for r in rows.values()]
    return out


# -- alerts → notifications, once -------------------------------------------------------------------------


@dataclass(frozen=True)
class SentAlert:
    """What one alert became: its notification (None = already sent before, or nobody to target)."""

    key: str
    notification_id: int | None
    targeted: int
    municipalities: tuple[str, ...]
    kind: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


def alert_seen(db_session: Session, key: str) -> bool:
    return db_session.execute(select(FeedAlert.id).where(FeedAlert.alert_key == key)).first() is not None


def known_municipalities(db_session: Session, codes: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(codes))
    known = geo_service.places_by_code(db_session, wanted)
    missing = [c for c in wanted if c not in known]
    if missing:
        log.warning("feed alert names municipalities not loaded here, left out: %s", ", ".join(missing))
    return tuple(c for c in wanted if c in known)


def send_alert(db_session: Session, *, source: str, key: str, kind: str, topic: str, event_id: str | None,
               draft: delivery.NotificationDraft | None, municipalities: Sequence[str], summary: str,
               settings: Settings, now: datetime, detail: Mapping[str, Any] | None = None) -> SentAlert | None:
    """Create the notification and remember the key; ``None`` when this key was handled before."""
    if alert_seen(db_session, key):
        return None
    n = delivery.create_notification(db_session, draft, settings=settings, now=now) if draft else None
    db_session.add(FeedAlert(alert_key=key, source=source, kind=kind, event_id=event_id, topic=topic,
                             municipalities=list(municipalities), notification_id=n.id if n else None,
                             detail=dict(detail or {}), created_at=now))
    db_session.flush()
    return SentAlert(key, n.id if n else None, n.targeted if n else 0, tuple(municipalities), kind, summary,
                     dict(detail or {}))


# -- river ---------------------------------------------------------------------------------------------------

_LEVEL_FIELDS = {s: f"{s.name.lower()}_level" for s in Stage if s is not Stage.NORMAL}


def sync_stations(db_session: Session, source: str, stations: Mapping[str, Station], *, now: datetime) -> None:
    """Insert new stations and refresh master data (thresholds, names, targets); keeps their latest levels."""
    rows = {r.code: r for r in db_session.execute(
        select(RiverStation).where(RiverStation.code.in_(list(stations)))).scalars()}
    for code, st in stations.items():
        row = rows.get(code)
        if row is None:
            row = RiverStation(code=code, level=None, observed_at=None, stage="normal")
            db_session.add(row)
        row.source, row.name, row.river, row.municipality = source, st.name, st.river, st.municipality
        row.downstream, row.lat, row.lon, row.updated_at = list(st.downstream), st.lat, st.lon, now
        for stage, attr in _LEVEL_FIELDS.items():
            setattr(row, attr, st.thresholds.of(stage))
    db_session.flush()


def river_states(row: FeedSource) -> dict[str, StationState]:
    return {code: StationState.from_dict(doc) for code, doc in dict(row.state.get("stations", {})).items()}


def _river_draft(alert: RiverAlert, municipalities: Sequence[str]) -> delivery.NotificationDraft:
    return delivery.NotificationDraft(
        source="river", category="river", severity=alert.severity,
        title={"ja": alert.title_ja, "en": alert.title_en},
        body={"ja": f"{alert.body_ja}（出典：{alert.attribution}）",
              "en": f"{alert.body_en} (Source: {alert.attribution})"},
        municipality_codes=list(municipalities), ttl_seconds=RIVER_TTL_S, topic=alert.topic,
        extra={"river_alert": alert.to_dict()},
    )


def _describe(alert: RiverAlert, station: Station | None) -> str:
    level = f"{alert.level:.2f} m" if alert.level is not None else "below start level"
    verb = "rose above" if alert.kind == "rise" else "fell below"
    label = station.label if station else alert.station_name
    return f"{label} {verb} {alert.stage} level {alert.threshold:.2f} m ({level})"


def ingest_river_snapshot(
    db_session: Session, row: FeedSource, snapshot: Snapshot, stations: Mapping[str, Station], *,
    rules: AlertRules | None, settings: Settings, now: datetime,
) -> tuple[Evaluation, list[SentAlert]]:
    """Evaluate one snapshot against the stored engine state, notify each new alert, store state and levels."""
    before = river_states(row)
    result = evaluate(snapshot, stations, before, rules)
    sent: list[SentAlert] = []
    for alert in result.alerts:
        targets = known_municipalities(db_session, alert.municipalities)
        draft = _river_draft(alert, targets) if targets else None
        done = send_alert(db_session, source=row.name, key=alert.id, kind=alert.kind, topic=alert.topic,
                          event_id=None, draft=draft, municipalities=targets, summary=_describe(
                              alert, stations.get(alert.station_code)),
                          settings=settings, now=now, detail=alert.to_dict())
        if done:
            sent.append(done)
    for h in result.held:
        log.warning("%s: held suspect reading %s %.2f m at %s: %s", row.name, h.station_code, h.level,
                    h.observed_at.isoformat(), h.reason)
    changed = {c: s for c, s in result.states.items() if before.get(c) != s}
    if changed:
        for st in db_session.execute(select(RiverStation).where(RiverStation.code.in_(list(changed)))).scalars():
            state = changed[st.code]
            st.level, st.observed_at = state.level, state.at
            st.stage, st.updated_at = stations[st.code].stage(state.level).name.lower(), now
    row.state = {**row.state, "stations": {c: s.to_dict() for c, s in result.states.items()},
                 "last_snapshot_at": snapshot.taken_at.isoformat()}
    db_session.flush()
    return result, sent


def _station_out(r: RiverStation) -> dict[str, Any]:
    return {
        "code": r.code, "name": r.name, "river": r.river, "municipality_code": r.municipality,
        "downstream": list(r.downstream), "lat": r.lat, "lon": r.lon, "source": r.source,
        "level": r.level, "observed_at": _utc(r.observed_at), "stage": r.stage,
        "thresholds": {s.name.lower(): getattr(r, attr) for s, attr in _LEVEL_FIELDS.items()},
    }


def list_stations(db_session: Session, *, municipality: str | None = None) -> list[dict[str, Any]]:
    """Stations with thresholds, latest trusted level and stage; optionally those of one municipality."""
    stmt = select(RiverStation).order_by(RiverStation.municipality, RiverStation.code)
    if municipality:
        stmt = stmt.where(RiverStation.municipality == municipality)
    return [_station_out(r) for r in db_session.execute(stmt).scalars()]


def stations_for_municipalities(db_session: Session, codes: Collection[str]) -> list[dict[str, Any]]:
    """Stations that concern residents of these municipalities: in them, or upstream with them downstream.

    For the portal: each dict has code, name, river, municipality_code, downstream, level, observed_at, stage
    (``normal`` … ``flooding``) and thresholds; highest stage first, so what matters is on top.
    """
    wanted = set(codes)
    if not wanted:
        return []
    rows = db_session.execute(select(RiverStation).order_by(RiverStation.code)).scalars()
    hits = [r for r in rows if r.municipality in wanted or wanted.intersection(r.downstream)]
    order = {s.name.lower(): s.value for s in Stage}
    hits.sort(key=lambda r: (-order.get(r.stage, 0), r.municipality, r.code))
    return [_station_out(r) for r in hits]



# -- JMA -------------------------------------------------------------------------------------------------------

JMA_ATTRIBUTION = "気象庁"
JMA_TTL_S = 12 * 3600


def _jma_key(ev: AreaEvent) -> str:
    areas = hashlib.sha256(",".join(ev.municipalities).encode()).hexdigest()[:12]
    return f"jma:{ev.telegram_id}:{ev.change}:{areas}:{ev.topic}"[:255]


def _corrected(db_session: Session, source: str, event_id: str | None, ev: AreaEvent) -> list[FeedAlert]:
    """The alerts a 取消 withdraws: same JMA event and topic, sharing a municipality."""
    rows = db_session.execute(select(FeedAlert).where(
        FeedAlert.source == source, FeedAlert.event_id == event_id, FeedAlert.topic == ev.topic,
        FeedAlert.kind != "cancel", FeedAlert.notification_id.is_not(None),
    ).order_by(FeedAlert.id)).scalars()
    return [r for r in rows if set(r.municipalities) & set(ev.municipalities)]


def _jma_draft(db_session: Session, source: str, ev: AreaEvent, munis: Sequence[str],
               cancelled_event_id: str | None, addendum: tuple[str, str] = ("", "")
               ) -> tuple[delivery.NotificationDraft | None, dict[str, Any]]:
    detail: dict[str, Any] = {"event_id": ev.event_id, "telegram_id": ev.telegram_id, "change": ev.change,
                              "topic": ev.topic, "kind": ev.kind_name, "correction": ev.correction}
    common: dict[str, Any] = {
        "source": "jma", "category": ev.category, "severity": ev.severity,
        "title": {"ja": ev.title_ja, "en": ev.title_en},
        "body": {"ja": f"{ev.body_ja}{addendum[0]}（出典：{JMA_ATTRIBUTION}）",
                 "en": f"{ev.body_en}{addendum[1]} (Source: JMA)"},
        "ttl_seconds": JMA_TTL_S, "topic": f"jma-{ev.topic}"[:64], "extra": {"jma": detail},
    }
    if ev.change != "cancel":
        return (delivery.NotificationDraft(municipality_codes=list(munis), **common) if munis else None), detail
    originals = [a.notification_id for a in _corrected(db_session, source, cancelled_event_id, ev)
                 if a.notification_id is not None]
    recipients: set[int] = set()
    for original in originals:
        recipients.update(delivery.recipients_who_received(db_session, original))
        delivery.cancel_notification(db_session, original)  # stop whatever is still queued
    detail["corrects"] = originals
    if not originals:
        return None, detail
    # One correction per cancelled event and topic, referencing every notification it withdraws: a resident
    # who got several of them hears once, and late deliveries of any of them reach the correction too.
    return delivery.NotificationDraft(recipient_ids=sorted(recipients), reference_id=originals[0],
                                      also_references=originals[1:], **common), detail


def ingest_jma_telegram(db_session: Session, row: FeedSource, telegram: Telegram, resolver: AreaResolver, *,
                        settings: Settings, now: datetime) -> list[SentAlert]:
    """Notify what this telegram changes for each municipality; a 取消 corrects exactly the earlier recipients.

    Earthquakes, 緊急地震速報, 南海トラフ and 津波情報 are per-resident or per-event, not per-municipality
    states: ``seismic`` handles those.
    """
    from pushsvc.feeds import seismic  # it builds on this module's send_alert

    handled = seismic.ingest(db_session, row, telegram, resolver, settings=settings, now=now)
    if handled is not None:
        db_session.flush()
        return handled
    changes = detect_changes(dict(row.state.get("areas", {})), telegram, resolver)
    if changes.skipped:
        log.info("%s: telegram %s skipped: %s", row.name, telegram.telegram_id, changes.skipped)
    sent: list[SentAlert] = []
    for ev in changes.events:
        munis = known_municipalities(db_session, ev.municipalities)
        addendum = seismic.tsunami_info_text(row.state) if ev.topic == "tsunami" and ev.change in (
            "issued", "upgraded", "downgraded") else ("", "")
        draft, detail = _jma_draft(db_session, row.name, ev, munis, changes.cancelled_event_id, addendum)
        names = "、".join(resolver.name(m) for m in ev.municipalities)
        done = send_alert(db_session, source=row.name, key=_jma_key(ev), kind=ev.change, topic=ev.topic,
                          event_id=ev.event_id, draft=draft, municipalities=munis,
                          summary=f"{ev.title_ja} → {names}", settings=settings, now=now, detail=detail)
        if done:
            sent.append(done)
    row.state = {**row.state, "areas": changes.state}
    db_session.flush()
    return sent
