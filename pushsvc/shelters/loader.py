"""Read evacuation sites from the GSI data (CSV or GeoJSON, one file or a folder) or the standard
open-data CSV layout (デジタル庁 自治体標準オープンデータセット「指定緊急避難場所一覧」, old and current).

Parsing is pure and separate from storage so every layout is tested without a database. Rows whose
coordinates are missing or out of range are skipped and reported, never guessed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pushsvc.shelters.schemas import HAZARD_COLUMNS, hazard_bit


class ShelterDataError(ValueError):
    """The file is not a layout we know; the message says what was expected."""


@dataclass(frozen=True)
class SiteRecord:
    site_id: str
    name: str
    address: str
    municipality_code: str
    hazards_mask: int
    also_evacuation_centre: bool
    lat: float
    lon: float


@dataclass
class ParseResult:
    sites: list[SiteRecord]
    read: int
    skipped: list[str]


NAME_KEYS = ("施設・場所名", "名称")
ADDRESS_KEYS = ("住所", "所在地_連結表記")
CODE_KEYS = ("団体コード", "所在地_全国地方公共団体コード", "全国地方公共団体コード", "市区町村コード")
DUPLICATE_KEYS = ("指定避難所との住所同一", "指定避難所との重複")


def _first(row: Mapping[str, Any], keys: Iterable[str]) -> str:
    for k in keys:
        v = row.get(k)
        if v is not None and str(v).strip():
            return str(v).strip()
    return ""


def _flag(value: Any) -> bool:
    return str(value or "").strip() in {"1", "○", "◯", "true", "TRUE", "True"}


def _code5(raw: str) -> str:
    """A 5-digit municipality code from a 6-digit one (check digit) or one that lost its leading zero."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) in (5, 6):
        return digits[:5]
    if len(digits) == 4:  # spreadsheets drop the leading zero of codes 01xxx–09xxx
        return "0" + digits
    return ""


def _coord(value: Any) -> float | None:
    try:
        f = float(str(value).strip())
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _position(row: Mapping[str, Any], lat: Any, lon: Any) -> tuple[float, float] | None:
    """(lat, lon) from the row's 緯度/経度 (or those given, for GeoJSON), if usable."""
    lat_f = _coord(row.get("緯度") if lat is None else lat)
    lon_f = _coord(row.get("経度") if lon is None else lon)
    if lat_f is None or lon_f is None or not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        return None
    return lat_f, lon_f


def _municipality(row: Mapping[str, Any], common_id: str, default_code: str) -> str:
    """The row's municipality code; else the one inside a 共通ID (E + code …); else the file's default."""
    return _code5(_first(row, CODE_KEYS)) or (_code5(common_id[1:6]) if common_id[:1] == "E" else "") or default_code


def _hazards_mask(row: Mapping[str, Any]) -> int:
    mask = 0
    for hazard, column in HAZARD_COLUMNS.items():
        if _flag(row.get(column)) or _flag(row.get(f"災害種別_{column}")):
            mask |= hazard_bit(hazard)
    return mask


def parse_row(
    row: Mapping[str, Any], *, where: str, default_code: str = "", lat: Any = None, lon: Any = None
) -> SiteRecord | str:
    """One site, or the reason it was skipped."""
    position = _position(row, lat, lon)
    if position is None:
        return f"{where}: no usable 緯度/経度"
    lat_f, lon_f = position
    name = _first(row, NAME_KEYS)
    if not name:
        return f"{where}: no 名称"
    common_id = _first(row, ("共通ID",))
    code = _municipality(row, common_id, default_code)
    if not code:
        return f"{where}: no municipality code"
    mask = _hazards_mask(row)
    site_id = common_id or _first(row, ("ID",))
    if not site_id:
        digest = hashlib.sha256(f"{code}|{name}|{lat_f:.6f}|{lon_f:.6f}".encode()).hexdigest()[:16]
        site_id = f"{code}-{digest}"
    return SiteRecord(
        site_id[:64],
        name[:200],
        _first(row, ADDRESS_KEYS)[:300],
        code,
        mask,
        any(_flag(row.get(k)) for k in DUPLICATE_KEYS),
        lat_f,
        lon_f,
    )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ShelterDataError("the file is neither UTF-8 nor Shift_JIS (cp932)")


def _csv_rows(text: str, name: str) -> Iterator[tuple[dict[str, Any], str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or [])
    if not ({"緯度", "経度"} <= header and header & set(NAME_KEYS)):
        raise ShelterDataError(f"{name}: expected a header with 緯度, 経度 and 名称 or 施設・場所名")
    for i, row in enumerate(reader, start=2):
        yield row, f"{name}:{i}"


def _geojson_rows(text: str, name: str) -> Iterator[tuple[dict[str, Any], str, Any, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ShelterDataError(f"{name}: not JSON ({exc.msg})") from exc
    if isinstance(doc, dict) and doc.get("type") == "unavailable":  # GSI's placeholder: nothing published
        return
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ShelterDataError(f"{name}: expected a GeoJSON FeatureCollection")
    for i, feature in enumerate(doc.get("features") or []):
        geom = (feature or {}).get("geometry") or {}
        coords = geom.get("coordinates") if geom.get("type") == "Point" else None
        lon, lat = (coords[0], coords[1]) if isinstance(coords, list) and len(coords) >= 2 else (None, None)
        yield dict((feature or {}).get("properties") or {}), f"{name}#{i}", lat, lon


def parse_file(path: Path) -> ParseResult:
    """Every site in one CSV or GeoJSON file."""
    text = _decode(path.read_bytes())
    default_code = _code5(path.stem) if path.stem.isdigit() else ""
    out = ParseResult([], 0, [])
    if path.suffix.lower() in (".json", ".geojson"):
        items: Iterable[tuple[Mapping[str, Any], str, Any, Any]] = _geojson_rows(text, path.name)
    elif path.suffix.lower() == ".csv":
        items = ((row, where, None, None) for row, where in _csv_rows(text, path.name))
    else:
        raise ShelterDataError(f"{path.name}: expected .csv, .json or .geojson")
    for row, where, lat, lon in items:
        out.read += 1
        parsed = parse_row(row, where=where, default_code=default_code, lat=lat, lon=lon)
        if isinstance(parsed, str):
            out.skipped.append(parsed)
        else:
            out.sites.append(parsed)
    return out


def parse_path(path: Path) -> ParseResult:
    """A file, or every .csv/.json/.geojson in a folder; a site in several files is kept once."""
    if not path.exists():
        raise ShelterDataError(f"{path}: no such file or folder")
    files = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".json", ".geojson"))
        if path.is_dir()
        else [path]
    )
    if not files:
        raise ShelterDataError(f"{path}: no .csv or .json files")
    total = ParseResult([], 0, [])
    seen: set[str] = set()
    for f in files:
        part = parse_file(f)
        total.read += part.read
        total.skipped.extend(part.skipped)
        for site in part.sites:
            if site.site_id not in seen:
                seen.add(site.site_id)
                total.sites.append(site)
    return total
