"""Adapters for k.river.go.jp ``area_info`` (危機管理型水位計) — the live JSON and the crawled CSV series.

The feed lists a gauge only while its level is at or above its start level (観測開始水位), so each parsed
document is a *complete* snapshot: a known gauge missing from it has fallen below that level. Gauges carry
only a start level and a danger level (危険水位, ``fladLevel``); ``warnLevel`` is rarely set and is kept as
the caution level (its meaning is inferred from its position between the two; it never raises an alert).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pushsvc.feeds.river.records import (
    Reading,
    Snapshot,
    Station,
    Thresholds,
    municipality_code,
    parse_time,
    reading_problem,
)

SOURCE = "k.river"
KOCHI_PREF_CODE = "39000"


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    """The first present key: crawler copies rename fields (lat → latitude, startLevel → startLevel_観測開始水位)."""
    for key in keys:
        if key in row:
            return row[key]
    return None


def station_from_item(row: Mapping[str, Any]) -> Station:
    """A crisis gauge from one feed item or CSV row (the feed repeats each gauge's master data)."""
    return Station(
        code=str(row["code"]),
        name=str(row["name"]),
        municipality=municipality_code(row["townCode"]),
        thresholds=Thresholds(
            start=_num(_first(row, "startLevel", "startLevel_観測開始水位")),
            caution=_num(row.get("warnLevel")),
            danger=_num(_first(row, "fladLevel", "fladLevel_危険水位")),
        ),
        source=SOURCE,
        lat=_num(_first(row, "lat", "latitude")),
        lon=_num(_first(row, "lon", "longitude")),
    )


def _reading(row: Mapping[str, Any]) -> Reading:
    return Reading(
        station_code=str(row["code"]), observed_at=parse_time(str(row["obsTime"])), level=float(row["level"])
    )


def _items(doc: Any) -> list[dict[str, Any]]:
    """The raw feed is a list of items; the crawler wraps it as ``{"items": [...], ...}``."""
    items = doc.get("items", []) if isinstance(doc, dict) else doc
    return [i for i in items if isinstance(i, dict)]


def _in_pref(item: Mapping[str, Any], pref_code: str | None) -> bool:
    return pref_code is None or str(item.get("prefCode")) == pref_code


def _gauges(doc: Any) -> list[dict[str, Any]]:
    """The gauge-shaped items of a live document; ``ValueError`` when it is not a list of gauges."""
    if isinstance(doc, dict):
        if not isinstance(doc.get("items"), list):
            raise ValueError("a JSON object without an 'items' list")
        raw = doc["items"]
    elif isinstance(doc, list):
        raw = doc
    else:
        raise ValueError(f"a JSON {type(doc).__name__}, not a list of gauges")
    gauges = [i for i in raw if isinstance(i, dict) and "code" in i and "obsTime" in i]
    if raw and not gauges:
        raise ValueError(f"{len(raw)} items, none with a gauge's code and obsTime")
    return gauges


def _checked(item: Mapping[str, Any], now: datetime) -> tuple[Reading | None, str]:
    """(the reading, "") or (None, why it is rejected)."""
    try:
        reading = _reading(item)
        problem = reading_problem(float(reading.level or 0.0), reading.observed_at, now)
    except (KeyError, TypeError, ValueError) as exc:
        problem = f"unreadable item: {type(exc).__name__}: {exc}"
    if problem:
        return None, problem
    return reading, ""


def checked_snapshot(
    doc: Any, *, pref_code: str | None = KOCHI_PREF_CODE, label: str = "", now: datetime
) -> tuple[Snapshot, list[str]]:
    """A live area_info document → (complete snapshot, why each rejected item was rejected).

    The document must be a list of gauges (or the crawler's ``{"items": [...]}``), and a non-empty one
    must hold at least one gauge-shaped item; anything else raises ``ValueError`` (a feed error: nothing
    is concluded from it, least of all "every gauge is low"). Items are then checked one by one: a
    malformed item, a non-finite or out-of-range level or a future obsTime is rejected with its reason, and
    its gauge counts as listed-but-unknown (not "fell"), so the rest of the snapshot is still used.
    """
    readings, rejected, unreadable = [], [], []
    for item in _gauges(doc):
        if not _in_pref(item, pref_code):
            continue
        code = str(item["code"])
        reading, problem = _checked(item, now)
        if reading is None:
            rejected.append(f"gauge {code}: reading rejected: {problem}"[:300])
            unreadable.append(code)
            continue
        readings.append(reading)
    taken_at = max((r.observed_at for r in readings), default=now)
    return Snapshot(
        source=SOURCE,
        taken_at=taken_at,
        readings=tuple(readings),
        complete=True,
        label=label,
        unreadable=tuple(unreadable),
    ), rejected


def area_info_snapshot(doc: Any, *, pref_code: str | None = KOCHI_PREF_CODE, label: str = "") -> Snapshot:
    """One area_info document → a complete snapshot of the prefecture's gauges.

    ``taken_at`` is the newest obsTime in the whole document (data time, not crawl time), so a gauge that
    reappears with a slightly older obsTime than the crawl is not mistaken for a stale value.
    """
    items = _items(doc)
    times = [parse_time(str(i["obsTime"])) for i in items if i.get("obsTime")]
    if times:
        taken_at = max(times)
    elif isinstance(doc, dict) and doc.get("generatedAt"):
        taken_at = parse_time(str(doc["generatedAt"]))
    else:
        raise ValueError("area_info document has no obsTime and no generatedAt: cannot date the snapshot")
    readings = tuple(_reading(i) for i in items if _in_pref(i, pref_code) and i.get("level") is not None)
    return Snapshot(source=SOURCE, taken_at=taken_at, readings=readings, complete=True, label=label)


def area_info_stations(doc: Any, *, pref_code: str | None = KOCHI_PREF_CODE) -> dict[str, Station]:
    """Gauges described in a document (only those currently above start level appear)."""
    return {str(i["code"]): station_from_item(i) for i in _items(doc) if _in_pref(i, pref_code)}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def load_crisis_gauges(path: Path) -> dict[str, Station]:
    """The station list (stations/kochi_crisis_gauges_k_river_area_info.csv): every gauge ever seen, with
    townCode, so stations are known before they first rise above their start level."""
    return {row["code"]: station_from_item(row) for row in _read_csv(path)}


def snapshots_from_rows(rows: Iterable[Mapping[str, str]], *, label_key: str = "snapshot_path") -> list[Snapshot]:
    """Rows of crawled items, each tagged with the snapshot it came from → snapshots in crawl order.

    A crawl in which the prefecture had no gauge above start level leaves no row, so it is absent here;
    the replay then sees the fall one crawl later, which is the best the derived file allows.
    """
    groups: dict[str, list[Mapping[str, str]]] = defaultdict(list)
    for row in rows:
        groups[row[label_key]].append(row)
    snapshots = []
    for label in sorted(groups):
        readings = tuple(_reading(r) for r in groups[label])
        taken_at = max(r.observed_at for r in readings)
        snapshots.append(Snapshot(source=SOURCE, taken_at=taken_at, readings=readings, complete=True, label=label))
    return snapshots


def load_series(path: Path) -> list[Snapshot]:
    """series/*.csv (crawled area_info rows with ``snapshot_path``) → replayable snapshots."""
    return snapshots_from_rows(_read_csv(path))


def series_stations(path: Path) -> dict[str, Station]:
    """Stations described by a series CSV that carries townCode (the year file; the event file does not)."""
    stations: dict[str, Station] = {}
    for row in _read_csv(path):
        stations.setdefault(row["code"], station_from_item(row))
    return stations
