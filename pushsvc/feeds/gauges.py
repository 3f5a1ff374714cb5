"""River gauges: station master data, snapshots → alert state and notifications, readings for the charts.

Like the rest of the feeds service: functions take ``db_session`` and never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import AreaValue, Statement, Value
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.models import FeedSource, RiverReading, RiverStation
from pushsvc.feeds.notify import SentAlert, known_municipalities, record_sent, send_alert
from pushsvc.feeds.river import AlertRules, Evaluation, RiverAlert, Snapshot, Stage, Station, StationState, evaluate
from pushsvc.feeds.river.alerts import stage_product
from pushsvc.timeutil import as_utc as _utc

log = logging.getLogger(__name__)

RIVER_TTL_S = 6 * 3600  # a water level six hours old is no longer news

_LEVEL_FIELDS = {s: f"{s.name.lower()}_level" for s in Stage if s is not Stage.NORMAL}


def sync_stations(db_session: Session, source: str, stations: Mapping[str, Station], *, now: datetime) -> None:
    """Insert new stations and refresh master data (thresholds, names, targets); keeps their latest levels."""
    rows = {
        r.code: r
        for r in db_session.execute(select(RiverStation).where(RiverStation.code.in_(list(stations)))).scalars()
    }
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
        source="river",
        category="river",
        severity=alert.severity,
        title=dict(alert.title) or {"ja": alert.title_ja, "en": alert.title_en},
        body=i18n.join(
            alert.body or {"ja": alert.body_ja, "en": alert.body_en}, i18n.texts("source", source=alert.attribution)
        ),
        municipality_codes=list(municipalities),
        ttl_seconds=RIVER_TTL_S,
        topic=alert.topic,
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
        value = Value(
            row.name_ja,
            row.name_ja,
            row.name_en,
            row.level,
            row.severity,
            int(stage),
            {"station": station.code, "threshold": station.thresholds.of(stage)},
        )
    return Statement(
        source=source,
        ref=alert.id,
        at=alert.observed_at,
        items=tuple(AreaValue(f"river:{station.code}", m, value) for m in alert.municipalities),
    )


def _notify_river(
    db_session: Session,
    row: FeedSource,
    found: Sequence[RiverAlert],
    stations: Mapping[str, Station],
    *,
    settings: Settings,
    now: datetime,
) -> list[SentAlert]:
    """Record each gauge alert in the alert state and notify it, once per alert id."""
    sent: list[SentAlert] = []
    for alert in found:
        targets = known_municipalities(db_session, alert.municipalities)
        station = stations.get(alert.station_code)
        transitions = (
            alerts.apply_statement(db_session, _river_statement(row.name, alert, station), now=now)
            if station is not None
            else []
        )
        draft = _river_draft(alert, targets) if targets else None
        done = send_alert(
            db_session,
            source=row.name,
            key=alert.id,
            kind=alert.kind,
            topic=alert.topic,
            event_id=None,
            draft=draft,
            municipalities=targets,
            summary=_describe(alert, station),
            settings=settings,
            now=now,
            detail=alert.to_dict(),
        )
        sent += record_sent(db_session, done, transitions)
    return sent


def _log_unused(row: FeedSource, result: Evaluation) -> None:
    for code in result.no_data:
        log.warning("%s: gauge %s vanished from well above its start level: no data (not 'fell')", row.name, code)
    for h in result.held:
        log.warning(
            "%s: held suspect reading %s %.2f m at %s: %s",
            row.name,
            h.station_code,
            h.level,
            h.observed_at.isoformat(),
            h.reason,
        )


def _store_levels(
    db_session: Session,
    result: Evaluation,
    before: Mapping[str, StationState],
    stations: Mapping[str, Station],
    *,
    now: datetime,
) -> None:
    """Keep the confirmed readings and each changed gauge's latest trusted level and stage."""
    changed = {c: s for c, s in result.states.items() if before.get(c) != s}
    record_readings(
        db_session,
        [(h.station_code, h.observed_at, h.level) for h in result.confirmed]
        + [
            (c, s.at, s.level)
            for c, s in changed.items()
            if s.level is not None and s.at is not None and s.missing_since is None
        ],
    )
    if changed:
        for st in db_session.execute(select(RiverStation).where(RiverStation.code.in_(list(changed)))).scalars():
            state = changed[st.code]
            st.level, st.observed_at = state.level, state.at
            st.stage, st.updated_at = stations[st.code].stage(state.level).name.lower(), now


def ingest_river_snapshot(
    db_session: Session,
    row: FeedSource,
    snapshot: Snapshot,
    stations: Mapping[str, Station],
    *,
    rules: AlertRules | None,
    settings: Settings,
    now: datetime,
) -> tuple[Evaluation, list[SentAlert]]:
    """Evaluate one snapshot against the stored engine state, record each alert in the alert state and notify
    it, store engine state and levels. Gauges gone from well above their start level are kept as "no data"."""
    before = river_states(row)
    result = evaluate(snapshot, stations, before, rules)
    sent = _notify_river(db_session, row, result.alerts, stations, settings=settings, now=now)
    _log_unused(row, result)
    _store_levels(db_session, result, before, stations, now=now)
    no_data = sorted(c for c, s in result.states.items() if s.missing_since is not None)
    row.state = {
        **row.state,
        "stations": {c: s.to_dict() for c, s in result.states.items()},
        "last_snapshot_at": snapshot.taken_at.isoformat(),
        "no_data": no_data,
    }
    db_session.flush()
    return result, sent


def record_readings(db_session: Session, readings: Sequence[tuple[str, datetime, float]]) -> int:
    """Keep trusted readings for the charts, once per (station, observed_at); returns how many were new."""
    fresh = {(c, _utc(at)): level for c, at, level in readings}
    if not fresh:
        return 0
    seen = {
        (c, _utc(at))
        for c, at in db_session.execute(
            select(RiverReading.station, RiverReading.observed_at).where(
                tuple_(RiverReading.station, RiverReading.observed_at).in_(list(fresh))
            )
        )
    }
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
        .order_by(RiverReading.station, RiverReading.observed_at)
    ):
        out.setdefault(code, []).append({"observed_at": _utc(at), "level": level})
    return out


def prune_readings(db_session: Session, *, now: datetime, retention_h: float) -> int:
    """Delete readings older than the retention (housekeeping); returns how many."""
    cut = _utc(now) - timedelta(hours=retention_h)
    return int(db_session.execute(delete(RiverReading).where(RiverReading.observed_at < cut)).rowcount or 0)  # type: ignore[attr-defined]


def _station_out(r: RiverStation) -> dict[str, Any]:
    return {
        "code": r.code,
        "name": r.name,
        "river": r.river,
        "municipality_code": r.municipality,
        "downstream": list(r.downstream),
        "lat": r.lat,
        "lon": r.lon,
        "source": r.source,
        "level": r.level,
        "observed_at": _utc(r.observed_at),
        "stage": r.stage,
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
