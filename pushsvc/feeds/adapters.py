"""Per-kind adapters: turn fetched bytes into stored state and notifications.

``prepare`` parses (and, for JMA, fetches the new telegrams) with no database, so a garbage response fails
the poll before anything is written; ``apply`` runs inside the poll's one transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.feeds import service
from pushsvc.feeds.jma import AreaResolver, FeedEntry, TelegramError, for_office, load_area_dir, new_entries, parse_feed
from pushsvc.feeds.jma import parse_telegram as parse_jma
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.river import AlertRules, Snapshot, Station, apply_station_config, load_station_config
from pushsvc.feeds.river.kriver import SOURCE as KRIVER
from pushsvc.feeds.river.kriver import area_info_snapshot, area_info_stations, load_crisis_gauges
from pushsvc.feeds.service import SentAlert
from pushsvc.feeds.sources import SourceConfig, SourceConfigError

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[bytes]]
SEEN_KEEP = 2000  # JMA entry ids remembered (the long feed holds ~1,000 entries)


class FeedFormatError(Exception):
    """The source answered 200 with something we cannot read: the poll failed (and backs off)."""


class Adapter(Protocol):
    async def prepare(self, body: bytes, state: Mapping[str, Any], fetch: Fetch) -> Any: ...

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

    async def prepare(self, body: bytes, state: Mapping[str, Any], fetch: Fetch) -> tuple[Snapshot, dict[str, Station]]:
        try:
            doc = json.loads(body)
            items = doc.get("items", []) if isinstance(doc, dict) else doc
            if not isinstance(items, list):
                raise ValueError("not a list of gauges")
            if not items:  # nothing above its start level anywhere: every gauge is low
                return Snapshot(source=KRIVER, taken_at=datetime.now(UTC), complete=True), {}
            return area_info_snapshot(doc, pref_code=self.pref_code, label=self.cfg.url), area_info_stations(
                doc, pref_code=self.pref_code)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FeedFormatError(f"not a k.river area_info document: {type(exc).__name__}: {exc}"[:500]) from exc

    def apply(self, db_session: Session, row: FeedSource, prepared: tuple[Snapshot, dict[str, Station]], *,
              now: datetime) -> list[SentAlert]:
        snapshot, seen = prepared
        fresh = {c: s for c, s in seen.items() if c not in self.stations}
        if fresh:
            log.info("%s: %d gauges not in the station list, added from the feed", self.cfg.name, len(fresh))
            self.stations = {**self.stations, **apply_station_config(fresh, self.station_config)}
        if fresh or not self.synced:
            service.sync_stations(db_session, self.cfg.name, self.stations, now=now)
            self.synced = True
        _, sent = service.ingest_river_snapshot(db_session, row, snapshot, self.stations, rules=self.rules,
                                                settings=self.settings, now=now)
        return sent


@dataclass
class JmaBatch:
    entries: list[FeedEntry]
    telegrams: dict[str, bytes] = field(default_factory=dict)  # entry id → XML (missing = could not fetch)


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
        fresh = new_entries(ours, set(state.get("seen", [])), datetime.fromisoformat(last) if last else None)
        batch = JmaBatch(fresh)
        for entry in fresh:  # a failed fetch fails the poll: the entry stays unseen and is retried
            batch.telegrams[entry.id] = await fetch(entry.link)
        return batch

    def apply(self, db_session: Session, row: FeedSource, prepared: JmaBatch, *, now: datetime) -> list[SentAlert]:
        sent: list[SentAlert] = []
        seen = list(row.state.get("seen", []))
        skipped = int(row.state.get("malformed", 0))
        for entry in prepared.entries:
            try:
                telegram = parse_jma(prepared.telegrams[entry.id], telegram_id=entry.id)
            except TelegramError as exc:
                log.warning("%s: malformed telegram %s skipped: %s", self.cfg.name, entry.link, exc)
                skipped += 1
            else:
                sent += service.ingest_jma_telegram(db_session, row, telegram, self.resolver,
                                                    settings=self.settings, now=now)
            seen.append(entry.id)
        last = max((e.updated for e in prepared.entries), default=None)
        state = dict(row.state)
        state.update(seen=seen[-SEEN_KEEP:], malformed=skipped)
        if last is not None:
            state["last_updated"] = last.isoformat()
        row.state = state
        return sent


ADAPTERS: dict[str, Callable[[SourceConfig, Settings], Adapter]] = {
    "kriver_area": KriverAdapter,
    "jma_atom": JmaAtomAdapter,
}


def make_adapter(cfg: SourceConfig, settings: Settings) -> Adapter:
    return ADAPTERS[cfg.kind](cfg, settings)
