"""Feeds service: poll state and health per source, river stations, and alerts → notifications, exactly once.

Every function takes ``db_session`` and never commits: the poller commits one poll (engine state, alerts,
notifications, source state) as one transaction, so a crash repeats a whole poll or none of it, and the
deterministic alert keys in ``feed_alerts`` stop a repeated poll from sending anything twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.alerts import messages, texts
from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import AreaValue, Statement, Transition, Value
from pushsvc.config import Settings
from pushsvc.db import is_postgres
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import AreaResolver, Telegram
from pushsvc.feeds.jma.statements import category_of, statement_of
from pushsvc.feeds.models import FeedAlert, FeedSource, RiverReading, RiverStation
from pushsvc.feeds.river import AlertRules, Evaluation, RiverAlert, Snapshot, Stage, Station, StationState, evaluate
from pushsvc.feeds.river.alerts import stage_product
from pushsvc.feeds.sources import SourceConfig
from pushsvc.geo import service as geo_service
from pushsvc.timeutil import as_utc as _utc

log = logging.getLogger(__name__)

RIVER_TTL_S = 6 * 3600  # a water level six hours old is no longer news


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


SILENT_EXPIRY_FACTOR = 48  # a source silent for this many unhealthy periods has its alerts cleaned up


def source_heard(db_session: Session, source: str) -> None:
    """The source answered: whatever it last said stands again, unflagged."""
    alerts.mark_stale(db_session, source, False)


def source_silent(db_session: Session, row: FeedSource, *, now: datetime, unhealthy_after_s: float) -> None:
    """The source failed again: once it has been silent past the threshold its alerts are flagged stale
    (still listed, as its last word); after ``SILENT_EXPIRY_FACTOR`` thresholds they are cleaned up."""
    since = _utc(row.last_success_at or row.created_at)
    assert since is not None
    silent_s = (now - since).total_seconds()
    if silent_s > unhealthy_after_s:
        alerts.mark_stale(db_session, row.name)
    if silent_s > SILENT_EXPIRY_FACTOR * unhealthy_after_s:
        alerts.expire_silent(db_session, row.name, confirmed_before=since, now=now)


def problems_of(row: FeedSource) -> list[str]:
    """What the last poll could not use although the source answered: rejected readings, telegrams that
    could not be fetched, gauges with no data. Each makes the source unhealthy until it clears."""
    found = [str(p) for p in row.state.get("problems", [])]
    found += [f"gauge {c}: no data (vanished from well above its start level)" for c in row.state.get("no_data", [])]
    return found


def source_health(row: FeedSource | None, cfg: SourceConfig | None, *, now: datetime,
                  unhealthy_after_s: float, stale: int = 0) -> dict[str, Any]:
    """One source as operators see it: healthy only once it has succeeded, recently, with nothing left out."""
    name = row.name if row else cfg.name if cfg else ""
    since = _utc(row.last_success_at) if row else None
    down_s = (now - since).total_seconds() if since else None
    problems = problems_of(row) if row else []
    healthy = down_s is not None and down_s <= unhealthy_after_s and not problems
    if row is None:
        status = "not polled yet"
    elif row.last_success_at is None:
        status = "never succeeded" if row.consecutive_failures else "not polled yet"
    elif row.consecutive_failures and down_s is not None and down_s <= unhealthy_after_s:
        status, healthy = "failing", not problems
    elif down_s is None or down_s > unhealthy_after_s:
        status = "down"
    elif problems:
        status = "degraded"
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
        "problems": problems,
        "stale_alerts": stale,
    }


def list_health(db_session: Session, configs: Sequence[SourceConfig], *, now: datetime,
                unhealthy_after_s: float) -> list[dict[str, Any]]:
    """Every configured source, plus stored ones no longer configured (so a removed source is still visible)."""
    rows = {r.name: r for r in db_session.execute(select(FeedSource).order_by(FeedSource.name)).scalars()}
    stale = alerts.stale_sources(db_session)
    out = [source_health(rows.pop(c.name, None), c, now=now, unhealthy_after_s=unhealthy_after_s,
                         stale=stale.get(c.name, 0)) for c in configs]
    out += [source_health(r, None, now=now, unhealthy_after_s=unhealthy_after_s, stale=stale.get(r.name, 0))
            for r in rows.values()]
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
        title=dict(alert.title) or {"ja": alert.title_ja, "en": alert.title_en},
        body=i18n.join(alert.body or {"ja": alert.body_ja, "en": alert.body_en},
                       i18n.texts("source", source=alert.attribution)),
        municipality_codes=list(municipalities), ttl_seconds=RIVER_TTL_S, topic=alert.topic,
        extra={"river_alert": alert.to_dict()},
    )


def _describe(alert: RiverAlert, station: Station | None) -> str:
    level = f"{alert.level:.2f} m" if alert.level is not None else "below start level"
    verb = "rose above" if alert.kind == "rise" else "fell below"
    label = station.label if station else alert.station_name
    return f"{label} {verb} {alert.stage} level {alert.threshold:.2f} m ({level})"


def _river_statement(source: str, alert: RiverAlert, station: Station) -> Statement:
    """A gauge's alert as the alert state's statement: the stage in force for each municipality it concerns."""
    stage = Stage[alert.stage_after.upper()] if alert.stage_after else None
    value = None
    if stage is not None:
        row = stage_product(station, stage)
        value = Value(row.name_ja, row.name_ja, row.name_en, row.level, row.severity, int(stage),
                      {"station": station.code, "threshold": station.thresholds.of(stage)})
    return Statement(source=source, ref=alert.id, at=alert.observed_at, items=tuple(
        AreaValue(f"river:{station.code}", m, value) for m in alert.municipalities))


def ingest_river_snapshot(
    db_session: Session, row: FeedSource, snapshot: Snapshot, stations: Mapping[str, Station], *,
    rules: AlertRules | None, settings: Settings, now: datetime,
) -> tuple[Evaluation, list[SentAlert]]:
    """Evaluate one snapshot against the stored engine state, record each alert in the alert state and notify
    it, store engine state and levels. Gauges gone from well above their start level are kept as "no data"."""
    before = river_states(row)
    result = evaluate(snapshot, stations, before, rules)
    sent: list[SentAlert] = []
    for alert in result.alerts:
        targets = known_municipalities(db_session, alert.municipalities)
        station = stations.get(alert.station_code)
        transitions = alerts.apply_statement(db_session, _river_statement(row.name, alert, station), now=now) \
            if station is not None else []
        draft = _river_draft(alert, targets) if targets else None
        done = send_alert(db_session, source=row.name, key=alert.id, kind=alert.kind, topic=alert.topic,
                          event_id=None, draft=draft, municipalities=targets, summary=_describe(alert, station),
                          settings=settings, now=now, detail=alert.to_dict())
        if done:
            if done.notification_id is not None:
                alerts.attach_notification(db_session, transitions, done.notification_id)
            sent.append(done)
    for code in result.no_data:
        log.warning("%s: gauge %s vanished from well above its start level: no data (not 'fell')", row.name, code)
    for h in result.held:
        log.warning("%s: held suspect reading %s %.2f m at %s: %s", row.name, h.station_code, h.level,
                    h.observed_at.isoformat(), h.reason)
    changed = {c: s for c, s in result.states.items() if before.get(c) != s}
    record_readings(db_session, [(h.station_code, h.observed_at, h.level) for h in result.confirmed] + [
        (c, s.at, s.level) for c, s in changed.items() if s.level is not None and s.at is not None
        and s.missing_since is None])
    if changed:
        for st in db_session.execute(select(RiverStation).where(RiverStation.code.in_(list(changed)))).scalars():
            state = changed[st.code]
            st.level, st.observed_at = state.level, state.at
            st.stage, st.updated_at = stations[st.code].stage(state.level).name.lower(), now
    no_data = sorted(c for c, s in result.states.items() if s.missing_since is not None)
    row.state = {**row.state, "stations": {c: s.to_dict() for c, s in result.states.items()},
                 "last_snapshot_at": snapshot.taken_at.isoformat(), "no_data": no_data}
    db_session.flush()
    return result, sent


def record_readings(db_session: Session, readings: Sequence[tuple[str, datetime, float]]) -> int:
    """Keep trusted readings for the charts, once per (station, observed_at); returns how many were new."""
    fresh = {(c, _utc(at)): level for c, at, level in readings}
    if not fresh:
        return 0
    seen = {(c, _utc(at)) for c, at in db_session.execute(
        select(RiverReading.station, RiverReading.observed_at)
        .where(tuple_(RiverReading.station, RiverReading.observed_at).in_(list(fresh))))}
    new = [RiverReading(station=c, observed_at=at, level=v) for (c, at), v in fresh.items() if (c, at) not in seen]
    db_session.add_all(new)
    return len(new)


def readings_since(db_session: Session, codes: Collection[str], since: datetime) -> dict[str, list[dict[str, Any]]]:
    """Each gauge's readings since ``since``, oldest first, in one query (the portal's charts)."""
    if not codes:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for code, at, level in db_session.execute(
            select(RiverReading.station, RiverReading.observed_at, RiverReading.level)
            .where(RiverReading.station.in_(sorted(set(codes))), RiverReading.observed_at >= _utc(since))
            .order_by(RiverReading.station, RiverReading.observed_at)):
        out.setdefault(code, []).append({"observed_at": _utc(at), "level": level})
    return out


def prune_readings(db_session: Session, *, now: datetime, retention_h: float) -> int:
    """Delete readings older than the retention (housekeeping); returns how many."""
    cut = _utc(now) - timedelta(hours=retention_h)
    return int(db_session.execute(delete(RiverReading).where(RiverReading.observed_at < cut)).rowcount or 0)  # type: ignore[attr-defined]


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



# -- alert transitions → notifications (every source) ------------------------------------------------------

JMA_ATTRIBUTION = "気象庁"
JMA_TTL_S = 12 * 3600  # how long a push may wait for an offline phone; what is in force is alert state's business
KIND_OF_CHANGE = {"cancelled": "cancel"}  # the feed_alerts vocabulary predates the alert-state model


@dataclass(frozen=True)
class Origin:
    """How one kind of source words and files its notifications (JMA, river gauges)."""

    source: str  # notification source: "jma" | "river"
    attribution_ja: str
    attribution_en: str
    ttl_s: int
    category: Callable[[str], str]  # phenomenon → notification category


def _group_key(origin: Origin, ref: str, g: messages.Group) -> str:
    """Deterministic per statement and group; a 訂正 (same ref) has its own keys, its statement ids differ."""
    sig = ",".join(f"{t.area}/{t.phenomenon}/{t.change}/{t.id}" for t in g.transitions)
    return f"{origin.source}:{hashlib.sha256(f'{ref}|{sig}'.encode()).hexdigest()[:24]}"


def notify_transitions(db_session: Session, origin: Origin, *, source: str, ref: str,
                       transitions: Sequence[Transition], name: Callable[[str], str], settings: Settings,
                       now: datetime, extra: Mapping[str, Any] | None = None) -> list[SentAlert]:
    """One notification per group of municipalities with the same changes (``alerts.messages.group``).

    A ``cancelled`` group goes to exactly the subscriptions that received the withdrawn notifications (each
    once) and stops what is still queued of them; a ``corrected`` group to the municipalities, referencing
    what it corrects. Each notification is recorded on its transitions, so a later 取消 finds it.
    """
    sent: list[SentAlert] = []
    issuer = (origin.attribution_ja, origin.attribution_en)
    for g in messages.group(transitions, name, issuer):
        lead = g.transitions[0]
        titles, bodies = texts.translate([t for t in g.transitions if t.area == g.areas[0]],
                                         messages._join(name(a) for a in g.areas), g.message, issuer)
        changes = sorted({t.change for t in g.transitions})
        kind = KIND_OF_CHANGE.get(changes[0], changes[0]) if len(changes) == 1 else "+".join(changes)
        munis = known_municipalities(db_session, g.areas)
        originals = sorted({n for t in g.transitions if t.change in ("cancelled", "corrected")
                            for n in t.notification_ids})
        detail: dict[str, Any] = {
            "ref": ref, "changes": [[t.area, t.phenomenon, t.change, t.value.product] for t in g.transitions],
            "level": g.message.level, "corrects": originals, **dict(extra or {}),
        }
        common: dict[str, Any] = {
            "source": origin.source, "category": origin.category(lead.phenomenon), "severity": g.message.severity,
            "title": titles,
            "body": i18n.join(bodies, i18n.texts("source", source={"ja": origin.attribution_ja,
                                                                   "en": origin.attribution_en})),
            "ttl_seconds": origin.ttl_s, "topic": f"{origin.source}-{lead.phenomenon}"[:64],
            "extra": {origin.source: detail, "level": g.message.level},
        }
        draft: delivery.NotificationDraft | None
        if "cancelled" in changes:
            recipients: set[int] = set()
            for original in originals:
                recipients.update(delivery.recipients_who_received(db_session, original))
                delivery.cancel_notification(db_session, original, now=now)  # stop whatever is still queued
            # Nobody was told: nobody to correct (the state itself has been put back all the same).
            draft = delivery.NotificationDraft(recipient_ids=sorted(recipients), reference_id=originals[0],
                                               also_references=originals[1:], **common) if originals else None
        elif munis:
            # A 訂正 goes to the municipalities whose situation changed. It references what it corrects only
            # when those went nowhere else: a follow-up also reaches whoever a referenced notification reaches
            # later, and that must not tell another town about a change that is not theirs.
            refs = originals if all(set(delivery.get_notification(db_session, o).target_codes or ()) <= set(munis)
                                    for o in originals) else []
            draft = delivery.NotificationDraft(municipality_codes=list(munis), reference_id=(
                refs[0] if refs else None), also_references=refs[1:], **common)
        else:
            draft = None
        done = send_alert(db_session, source=source, key=_group_key(origin, ref, g), kind=kind,
                          topic=lead.phenomenon, event_id=ref, draft=draft, municipalities=munis,
                          summary=f"{g.message.title_ja} → {'、'.join(name(a) for a in g.areas)}",
                          settings=settings, now=now, detail=detail)
        if done:
            if done.notification_id is not None:
                alerts.attach_notification(db_session, g.transitions, done.notification_id)
            sent.append(done)
    return sent


JMA = Origin("jma", JMA_ATTRIBUTION, "JMA", JMA_TTL_S, category_of)


def ingest_jma_telegram(db_session: Session, row: FeedSource, telegram: Telegram, resolver: AreaResolver, *,
                        settings: Settings, now: datetime) -> list[SentAlert]:
    """Apply what this telegram states to the alert state and notify each real change.

    A 取消 withdraws exactly the telegram with the same office, InfoKind, ReportDateTime and EventID and
    reaches exactly the recipients of what it produced; a 訂正 tells only those whose situation changed.
    Earthquake reports, 緊急地震速報, 南海トラフ and 津波情報 go to ``seismic`` (per resident or per event);
    tsunami changes are worded there too (one message per 予報区, the action first).
    """
    from pushsvc.feeds import seismic  # it builds on this module's send_alert

    handled = seismic.ingest(db_session, row, telegram, resolver, settings=settings, now=now)
    if handled is not None:
        db_session.flush()
        return handled
    js = statement_of(telegram, resolver, source=row.name)
    if js.mode == "skip":
        log.info("%s: telegram %s skipped: %s", row.name, telegram.telegram_id, js.skipped)
        return []
    st = js.statement
    if js.mode == "cancel":
        transitions = alerts.cancel_statement(db_session, source=row.name, ref=st.ref, at=st.at, now=now)
        if not transitions:
            log.info("%s: 取消 %s matches nothing we stated", row.name, st.ref)
    elif js.mode == "correction":
        transitions = alerts.correct_statement(db_session, st, now=now)
    else:
        transitions = alerts.apply_statement(db_session, st, now=now)
    extra = {"telegram_id": telegram.telegram_id, "event_id": telegram.head.event_id,
             "correction": js.mode == "correction"}
    tsunami = [t for t in transitions if t.phenomenon == "tsunami" and t.change in seismic.TSUNAMI_CHANGES]
    sent = seismic.notify_tsunami(db_session, row, st.ref, tsunami, settings=settings, now=now, extra=extra)
    sent += notify_transitions(db_session, JMA, source=row.name, ref=st.ref,
                               transitions=[t for t in transitions if t not in tsunami],
                               name=resolver.name, settings=settings, now=now, extra=extra)
    db_session.flush()
    return sent
