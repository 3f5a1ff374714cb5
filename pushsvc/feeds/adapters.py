"""Per-kind adapters: turn fetched bytes into stored state and notifications.

``prepare`` parses (and, for JMA, fetches the new telegrams) with no database, so a garbage response fails
the poll before anything is written; ``apply`` runs inside the poll's one transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.feeds import service
from pushsvc.feeds.jma import AreaResolver, FeedEntry, TelegramError, for_office, load_area_dir, new_entries, parse_feed
from pushsvc.feeds.jma import parse_telegram as parse_jma
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.river import AlertRules, Snapshot, Station, apply_station_config, load_station_config
from pushsvc.feeds.river.kawabou import SOURCE as KAWABOU
from pushsvc.feeds.river.kawabou import livecam_stations, obslist_readings, tmlist_readings
from pushsvc.feeds.river.kawabou import locator as kawabou_locator
from pushsvc.feeds.river.kriver import area_info_stations, checked_snapshot, load_crisis_gauges
from pushsvc.feeds.river.records import reading_problem
from pushsvc.feeds.service import SentAlert
from pushsvc.feeds.sources import HostNotAllowed, SourceConfig, SourceConfigError, host_allowed
from pushsvc.geo import service as geo_service

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[bytes]]
SEEN_KEEP = 2000  # JMA entry ids remembered (the long feed holds ~1,000 entries)


class FeedFormatError(Exception):
    """The source answered 200 with something we cannot read: the poll failed (and backs off)."""


class Adapter(Protocol):
    async def prepare(self, body: bytes, state: Mapping[str, Any], fetch: Fetch) -> Any: ...

    async def unchanged(self, state: Mapping[str, Any], fetch: Fetch) -> Any:
        """The source answered 304: work still due from earlier polls (JMA retries), or None."""

    def apply(self, db_session: Session, row: FeedSource, prepared: Any, *, now: datetime) -> list[SentAlert]: ...


class KriverAdapter:
    """k.river ``area_info``: one complete snapshot of the prefecture's crisis-management gauges per poll."""

    def __init__(self, cfg: SourceConfig, settings: Settings) -> None:
        self.cfg, self.settings = cfg, settings
        self.pref_code = str(cfg.options.get("pref_code", f"{settings.prefecture}000"))
        stations_file = cfg.path("stations_file")
        self.base: dict[str, Station] = load_crisis_gauges(stations_file) if stations_file else {}
        config_file = cfg.path("station_config")
        self.station_config = load_station_config(config_file) if config_file else {}
        self.rules = AlertRules.from_mapping(cfg.options["rules"]) if cfg.options.get("rules") else AlertRules()
        self.stations = apply_station_config(self.base, self.station_config)
        self.synced = False

    async def prepare(self, body: bytes, state: Mapping[str, Any], fetch: Fetch) -> RiverBatch:
        try:
            doc = json.loads(body)
            snapshot, rejected = checked_snapshot(
                doc, pref_code=self.pref_code, label=self.cfg.url, now=datetime.now(UTC)
            )
            stations = {}
            for item in doc if isinstance(doc, list) else doc["items"]:
                try:
                    stations.update(area_info_stations([item], pref_code=self.pref_code))
                except (ValueError, KeyError, TypeError):
                    continue  # its reading was rejected above, with the reason
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FeedFormatError(f"not a k.river area_info document: {type(exc).__name__}: {exc}"[:500]) from exc
        for problem in rejected:
            log.warning("%s: %s", self.cfg.name, problem)
        return RiverBatch(snapshot, stations, rejected)

    async def unchanged(self, state: Mapping[str, Any], fetch: Fetch) -> None:
        return None

    def apply(self, db_session: Session, row: FeedSource, prepared: RiverBatch, *, now: datetime) -> list[SentAlert]:
        snapshot, seen = prepared.snapshot, prepared.stations
        fresh = {c: s for c, s in seen.items() if c not in self.stations}
        if fresh:
            log.info("%s: %d gauges not in the station list, added from the feed", self.cfg.name, len(fresh))
            self.stations = {**self.stations, **apply_station_config(fresh, self.station_config)}
        if fresh or not self.synced:
            service.sync_stations(db_session, self.cfg.name, self.stations, now=now)
            self.synced = True
        _, sent = service.ingest_river_snapshot(
            db_session, row, snapshot, self.stations, rules=self.rules, settings=self.settings, now=now
        )
        row.state = {**row.state, "problems": prepared.problems[:50]}
        return sent


@dataclass
class RiverBatch:
    snapshot: Snapshot
    stations: dict[str, Station]
    problems: list[str] = field(default_factory=list)  # readings rejected one by one, with why


TELEGRAM_ATTEMPTS = 5  # a telegram that cannot be fetched is retried this many times, then given up (and shown)


@dataclass
class JmaBatch:
    entries: list[FeedEntry]
    telegrams: dict[str, bytes] = field(default_factory=dict)  # entry id → XML
    failed: dict[str, str] = field(default_factory=dict)  # entry id → why it could not be fetched
    refused: dict[str, str] = field(default_factory=dict)  # entry id → why it is never fetched (its host)


def _entry_doc(e: FeedEntry) -> dict[str, Any]:
    return {"id": e.id, "title": e.title, "updated": e.updated.isoformat(), "author": e.author, "link": e.link}


def _entry(doc: Mapping[str, Any]) -> FeedEntry:
    return FeedEntry(
        str(doc["id"]),
        str(doc.get("title", "")),
        datetime.fromisoformat(str(doc["updated"])),
        str(doc.get("author", "")),
        str(doc["link"]),
        "",
    )


class JmaAtomAdapter:
    """A JMA Atom feed: new entries of the configured offices, each telegram fetched, parsed and diffed."""

    def __init__(self, cfg: SourceConfig, settings: Settings) -> None:
        self.cfg, self.settings = cfg, settings
        self.offices = [str(o) for o in cfg.options.get("offices", [f"{settings.prefecture}0000"])]
        types = cfg.options.get("data_types")
        self.data_types = {str(t) for t in types} if types else None
        codes = cfg.path("codes_dir") or settings.jma_codes_dir
        try:
            self.resolver: AreaResolver = load_area_dir(codes, prefecture=settings.prefecture)
        except TelegramError as exc:
            raise SourceConfigError(f"source {cfg.name}: {exc}") from exc

    async def prepare(self, body: bytes, state: Mapping[str, Any], fetch: Fetch) -> JmaBatch:
        try:
            feed = parse_feed(body)
        except TelegramError as exc:
            raise FeedFormatError(f"not a JMA Atom feed: {exc}"[:500]) from exc
        ours = [e for office in self.offices for e in for_office(feed.entries, office, self.data_types)]
        last = state.get("last_updated")
        pending = dict(state.get("pending", {}))
        fresh = new_entries(
            ours, set(state.get("seen", [])) | set(pending), datetime.fromisoformat(last) if last else None
        )
        return await self._fetch_all(fresh, state, fetch)

    async def unchanged(self, state: Mapping[str, Any], fetch: Fetch) -> JmaBatch | None:
        due = await self._fetch_all([], state, fetch)
        return due if due.entries else None

    async def _fetch_all(self, fresh: list[FeedEntry], state: Mapping[str, Any], fetch: Fetch) -> JmaBatch:
        now = datetime.now(UTC)
        pending = dict(state.get("pending", {}))
        due = [_entry(p) for p in pending.values() if datetime.fromisoformat(p["next_at"]) <= now]
        batch = JmaBatch(sorted([*due, *fresh], key=lambda e: (e.updated, e.id)))
        for entry in batch.entries:
            # Each telegram on its own: one that cannot be fetched is retried later, never blocks the others.
            if not host_allowed(entry.link, self.cfg.allowed_hosts):
                batch.refused[entry.id] = f"link to a host not in allowed_hosts: {entry.link[:200]}"
                continue
            try:
                batch.telegrams[entry.id] = await fetch(entry.link)
            except HostNotAllowed as exc:  # a redirect elsewhere: never retried
                batch.refused[entry.id] = str(exc)[:300]
            except Exception as exc:  # FetchError, or anything the transport throws
                batch.failed[entry.id] = str(exc)[:300] or type(exc).__name__
        return batch

    def _retry(self, pending: dict[str, Any], entry: FeedEntry, error: str, now: datetime) -> str | None:
        """Schedule another try with backoff; after ``TELEGRAM_ATTEMPTS`` give up. Returns the give-up reason."""
        attempts = int(pending.get(entry.id, {}).get("attempts", 0)) + 1
        if attempts >= TELEGRAM_ATTEMPTS:
            pending.pop(entry.id, None)
            return f"telegram {entry.link[:200]} given up after {attempts} attempts: {error}"
        wait = min(self.cfg.interval_s * 2**attempts, self.settings.feed_max_backoff_s)
        pending[entry.id] = {
            **_entry_doc(entry),
            "attempts": attempts,
            "error": error,
            "next_at": (now + timedelta(seconds=wait)).isoformat(),
        }
        return None

    def apply(self, db_session: Session, row: FeedSource, prepared: JmaBatch, *, now: datetime) -> list[SentAlert]:
        sent: list[SentAlert] = []
        seen = list(row.state.get("seen", []))
        skipped = int(row.state.get("malformed", 0))
        pending = dict(row.state.get("pending", {}))
        lost = list(row.state.get("lost", []))
        for entry in prepared.entries:
            if entry.id in prepared.failed:
                log.warning("%s: telegram %s not fetched: %s", self.cfg.name, entry.link, prepared.failed[entry.id])
                gave_up = self._retry(pending, entry, prepared.failed[entry.id], now)
                if gave_up is None:
                    continue
                lost.append(gave_up)
            elif entry.id in prepared.refused:
                log.warning("%s: %s", self.cfg.name, prepared.refused[entry.id])
                lost.append(prepared.refused[entry.id])
                pending.pop(entry.id, None)
            else:
                pending.pop(entry.id, None)
                try:
                    telegram = parse_jma(prepared.telegrams[entry.id], telegram_id=entry.id)
                except TelegramError as exc:
                    log.warning("%s: malformed telegram %s skipped: %s", self.cfg.name, entry.link, exc)
                    skipped += 1
                else:
                    sent += service.ingest_jma_telegram(
                        db_session, row, telegram, self.resolver, settings=self.settings, now=now
                    )
            seen.append(entry.id)
        last = max((e.updated for e in prepared.entries), default=None)
        state = dict(row.state)
        problems = [
            f"telegram {p['link'][:200]} not fetched ({p['attempts']} of {TELEGRAM_ATTEMPTS} attempts): {p['error']}"
            for p in pending.values()
        ] + lost[-10:]
        state.update(seen=seen[-SEEN_KEEP:], malformed=skipped, pending=pending, lost=lost[-10:], problems=problems)
        if last is not None:
            state["last_updated"] = last.isoformat()
        row.state = state
        return sent


class KawabouAdapter:
    """川の防災情報 (kawabou) water-level stations with five thresholds and 10-minute readings.

    ``url`` is the prefecture's station list (``obslist/twninfo/tm/stg/3901.json``: every station's latest
    reading) or one station's ``tmlist`` (then ``station`` names it). Stations come from ``stations_file``
    (the livecam-jp threshold file: names, rivers, lat/lon, rsrv…fld levels); kawabou never says which
    municipality a station is in, so ``station_config`` names it or the boundaries place it by lat/lon.
    Readings are checked one by one like k.river's; an absent station means nothing (not "fell").
    """

    def __init__(self, cfg: SourceConfig, settings: Settings) -> None:
        self.cfg, self.settings = cfg, settings
        stations_file = cfg.path("stations_file")
        if stations_file is None:
            raise SourceConfigError(f"source {cfg.name}: a kawabou source needs stations_file")
        config_file = cfg.path("station_config")
        self.station_config = load_station_config(config_file) if config_file else {}
        try:
            self.master = json.loads(stations_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SourceConfigError(f"source {cfg.name}: cannot read stations_file: {exc}") from exc
        self.rules = AlertRules.from_mapping(cfg.options["rules"]) if cfg.options.get("rules") else AlertRules()
        self.stations: dict[str, Station] | None = None  # placed on first apply (needs the boundaries)

    async def prepare(self, body: bytes, state: Mapping[str, Any], fetch: Fetch) -> RiverBatch:
        now = datetime.now(UTC)
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise ValueError(f"a JSON {type(doc).__name__}")
            if "min10Values" in doc:
                station = str(self.cfg.options.get("station") or "")
                if not station:
                    raise ValueError("a tmlist document, but the source names no station")
                raw = tmlist_readings(doc, code=station)
            else:
                raw = obslist_readings(doc)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FeedFormatError(f"not a kawabou station list or tmlist: {type(exc).__name__}: {exc}"[:500]) from exc
        readings, problems = [], []
        for r in raw:
            problem = reading_problem(float(r.level or 0.0), r.observed_at, now)
            if problem:
                problems.append(f"station {r.station_code}: reading rejected: {problem}"[:300])
            else:
                readings.append(r)
        taken = max((r.observed_at for r in readings), default=now)
        return RiverBatch(
            Snapshot(source=KAWABOU, taken_at=taken, readings=tuple(readings), complete=False, label=self.cfg.url),
            {},
            problems,
        )

    async def unchanged(self, state: Mapping[str, Any], fetch: Fetch) -> None:
        return None

    def _place(self, db_session: Session) -> dict[str, Station]:
        mapping = {c: s.municipality for c, s in self.station_config.items() if s.municipality}

        def point(lat: float, lon: float) -> str | None:
            found = geo_service.find(db_session, lat, lon, tolerance_m=self.settings.coastal_tolerance_m)
            return found.place.code if found else None

        placed, unplaced = livecam_stations(self.master, locate=kawabou_locator(mapping, point))
        if unplaced:
            log.warning(
                "%s: %d stations could not be placed in a municipality: %s",
                self.cfg.name,
                len(unplaced),
                ", ".join(unplaced[:10]),
            )
        return apply_station_config(placed, self.station_config)

    def apply(self, db_session: Session, row: FeedSource, prepared: RiverBatch, *, now: datetime) -> list[SentAlert]:
        if self.stations is None:
            self.stations = self._place(db_session)
            service.sync_stations(db_session, self.cfg.name, self.stations, now=now)
        _, sent = service.ingest_river_snapshot(
            db_session, row, prepared.snapshot, self.stations, rules=self.rules, settings=self.settings, now=now
        )
        row.state = {**row.state, "problems": prepared.problems[:50]}
        return sent


ADAPTERS: dict[str, Callable[[SourceConfig, Settings], Adapter]] = {
    "kriver_area": KriverAdapter,
    "jma_atom": JmaAtomAdapter,
    "kawabou": KawabouAdapter,
}


def make_adapter(cfg: SourceConfig, settings: Settings) -> Adapter:
    return ADAPTERS[cfg.kind](cfg, settings)
