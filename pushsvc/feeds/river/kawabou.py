"""Adapters for river.go.jp 川の防災情報 (kawabou): the station master with its five thresholds, the 10-minute
``tmlist`` readings, and CSVs derived from them.

Kawabou data never says which municipality a station is in, only lat/lon, so every station builder takes a
``Locator``: a station-code mapping from the operator's TOML, or a point lookup such as
``MunicipalityIndex.locate``. Stations that cannot be placed are skipped and reported, never guessed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pushsvc.feeds.river.records import Reading, Station, Thresholds, municipality_code, parse_time

SOURCE = "kawabou"
MISSING_AT_OR_BELOW = -9999.0  # kawabou writes -9999.99 and similar for 欠測

Locator = Callable[[str, float | None, float | None], str | None]
"""(station code, lat, lon) → 5-digit municipality code, or None when unknown."""


def locator(
    mapping: Mapping[str, str] | None = None, point: Callable[[float, float], str | None] | None = None
) -> Locator:
    """A Locator that tries the configured station → municipality mapping first, then a point lookup."""

    def locate(code: str, lat: float | None, lon: float | None) -> str | None:
        if mapping and code in mapping:
            return municipality_code(mapping[code])
        if point is not None and lat is not None and lon is not None:
            found = point(lat, lon)
            return municipality_code(found) if found else None
        return None

    return locate


# Field names of the master (camelCase JSON / snake_case GeoJSON) and livecam-jp's short keys.
_THRESHOLD_KEYS: dict[str, tuple[str, ...]] = {
    "standby": ("rsrvStg", "rsrv_stg", "rsrv"),
    "caution": ("warnStg", "warn_stg", "warn"),
    "evacuation": ("spclWarnStg", "spcl_warn_stg", "spcl"),
    "danger": ("dngStg", "dng_stg", "dng"),
    "flooding": ("fldStg", "fld_stg", "fld"),
}


def _level(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if number <= MISSING_AT_OR_BELOW else number


def thresholds_from(levels: Mapping[str, Any]) -> Thresholds:
    """Five thresholds from any of the known key spellings; an absent or missing-marker value = not set."""
    found: dict[str, float | None] = {}
    for name, keys in _THRESHOLD_KEYS.items():
        found[name] = next((_level(levels[k]) for k in keys if k in levels), None)
    return Thresholds(**found)


def station_from_master(doc: Mapping[str, Any], *, code: str, locate: Locator) -> Station | None:
    """``master/obs/stg/{obsFcd}.json`` (``{"obsInfo": {...}}`` or the obsInfo itself) → Station."""
    info = doc.get("obsInfo", doc)
    lat, lon = _level(info.get("lat")), _level(info.get("lon"))
    town = locate(code, lat, lon)
    if town is None:
        return None
    return Station(
        code=code,
        name=str(info.get("obsNm") or info.get("obs_nm")),
        municipality=town,
        thresholds=thresholds_from(info),
        source=SOURCE,
        river=info.get("rvrNm") or info.get("rvr_nm"),
        lat=lat,
        lon=lon,
    )


def livecam_stations(doc: Mapping[str, Any], *, locate: Locator) -> tuple[dict[str, Station], list[str]]:
    """stations/kochi_kawabou_thresholds_from_livecam-jp.json → (placed stations, codes that could not be placed)."""
    placed: dict[str, Station] = {}
    unplaced: list[str] = []
    for code, entry in doc["stations"].items():
        lat, lon = _level(entry.get("lat")), _level(entry.get("lon"))
        town = locate(code, lat, lon)
        if town is None:
            unplaced.append(code)
            continue
        placed[code] = Station(
            code=code,
            name=entry["name"],
            municipality=town,
            thresholds=thresholds_from(entry.get("levels", {})),
            source=SOURCE,
            river=entry.get("rvr"),
            lat=lat,
            lon=lon,
        )
    return placed, unplaced


def tmlist_readings(doc: Mapping[str, Any], *, code: str, field: str = "stg") -> list[Reading]:
    """``tmlist/{stg|swstg}/…/{obsFcd}.json`` → readings, oldest first, missing values dropped.

    ``stg`` is on the thresholds' datum; ``stgHght`` (swstg) is height from the levee crown and is only
    comparable with thresholds expressed the same way. ``obsTime`` (the real observation minute, JST) is
    used; ``tmObsTime`` is the 10-minute slot and the fallback. The latest value also appears as
    ``obsValue`` and is de-duplicated.
    """
    rows = [*doc.get("min10Values", []), doc.get("obsValue") or {}]
    readings: dict[Any, Reading] = {}
    for row in rows:
        stamp = row.get("obsTime") or row.get("tmObsTime")
        level = _level(row.get(field))
        if stamp and level is not None:
            at = parse_time(str(stamp))
            readings[at] = Reading(station_code=code, observed_at=at, level=level)
    return [readings[t] for t in sorted(readings)]


def obslist_readings(doc: Mapping[str, Any], *, field: str = "stg") -> list[Reading]:
    """``obslist/twninfo/tm/stg/{prefCd}.json`` (``prefTwn[].stg[]``: every station's latest 10-minute
    reading) → readings; missing-value markers are dropped (absence here means nothing: the list is not
    complete the way k.river's is). Raises ``ValueError`` when the document does not have that shape."""
    towns = doc.get("prefTwn")
    if not isinstance(towns, list):
        raise ValueError("no prefTwn list")
    out: list[Reading] = []
    for town in towns:
        for row in (town.get("stg") or []) if isinstance(town, dict) else []:
            if not isinstance(row, dict) or not row.get("obsFcd"):
                continue
            stamp = row.get("obsTime") or row.get("tmObsTime")
            value = row.get(field)
            level = float(value) if isinstance(value, int | float) or (isinstance(value, str) and value) else None
            if stamp and level is not None and level > MISSING_AT_OR_BELOW:
                out.append(Reading(station_code=str(row["obsFcd"]), observed_at=parse_time(str(stamp)), level=level))
    return out


def derived_csv_readings(data: bytes, *, code: str) -> list[Reading]:
    """series/kawabou_derived_10min_*_sjis.csv (Shift_JIS, ``time,<value column>``; JST) → readings."""
    text = data.decode("cp932")
    reader = csv.reader(io.StringIO(text))
    next(reader, None)  # header: time,水位（m） or time,堤防天端からの高さ（m）
    out = []
    for row in reader:
        if len(row) >= 2 and row[0].strip() and (level := _level(row[1])) is not None:
            out.append(Reading(station_code=code, observed_at=parse_time(row[0]), level=level))
    return sorted(out, key=lambda r: r.observed_at)


def load_derived_csv(path: Path, *, code: str) -> list[Reading]:
    return derived_csv_readings(path.read_bytes(), code=code)
