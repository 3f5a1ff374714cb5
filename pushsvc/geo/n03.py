"""Reading MLIT N03 行政区域 data: GeoJSON as published, or the official zip as MLIT ships it.

Pure functions over files; nothing here touches the database, so the importer can be tested and reused.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)


class BoundaryDataError(ValueError):
    """The file cannot be imported as it is; the message names the feature at fault."""


@dataclass(frozen=True)
class MunicipalityBoundary:
    code: str
    prefecture_code: str
    prefecture: str
    district: str | None
    name: str
    geom: MultiPolygon
    repaired: bool = False


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):  # GeometryCollection from make_valid: keep the areal parts
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def read_collection(path: Path) -> dict[str, Any]:
    """Load the FeatureCollection from a .geojson/.json file or from the GeoJSON inside an N03 zip."""
    if not path.exists():
        raise BoundaryDataError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith((".geojson", ".json"))]
            if not names:
                raise BoundaryDataError(f"{path}: the zip holds no GeoJSON (MLIT's N03 zips since 2021 include one)")
            with zf.open(sorted(names, key=len)[0]) as fh:
                data = json.load(fh)
    else:
        with path.open("rb") as fh:
            data = json.load(fh)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise BoundaryDataError(f"{path}: not a GeoJSON FeatureCollection")
    return data


def _code(label: str, props: dict[str, Any]) -> str:
    code = props.get("N03_007")
    if not code or not str(code).isdigit() or len(str(code)) != 5:
        raise BoundaryDataError(f"{label}: no 5-digit municipality code in N03_007 ({code!r})")
    return str(code)


def _geometry(label: str, code: str, feature: dict[str, Any]) -> BaseGeometry:
    geometry = feature.get("geometry")
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if geometry else None
        raise BoundaryDataError(f"{label} {code}: geometry {kind!r} is not a Polygon or MultiPolygon")
    try:
        return shape(geometry)
    except Exception as exc:  # shapely raises several types for broken coordinates
        raise BoundaryDataError(f"{label} {code}: unreadable geometry: {exc}") from exc


def _boundary(code: str, polys: list[Polygon], props: dict[str, Any], repaired: bool) -> MunicipalityBoundary:
    merged = MultiPolygon(polys)
    if not merged.is_valid:  # touching parts from separate features
        merged = MultiPolygon(_polygons(shapely.make_valid(merged)))
    return MunicipalityBoundary(
        code=code,
        prefecture_code=code[:2],
        prefecture=str(props.get("N03_001") or ""),
        district=props.get("N03_003") or None,
        name=str(props.get("N03_004") or props.get("N03_003") or code),
        geom=merged,
        repaired=repaired,
    )


def parse_features(data: dict[str, Any], *, prefecture: str | None = None) -> list[MunicipalityBoundary]:
    """Group features by N03_007 into one MultiPolygon each, repairing invalid rings.

    Several features share a code for islands and exclaves. Features without a code (N03 marks
    unsettled boundary areas 所属未定地 that way) or with a non-areal geometry are refused, naming them.
    """
    parts: dict[str, list[Polygon]] = defaultdict(list)
    props_by_code: dict[str, dict[str, Any]] = {}
    repaired: set[str] = set()
    for i, feature in enumerate(data.get("features") or []):
        props = feature.get("properties") or {}
        label = f"feature #{i} ({props.get('N03_004') or props.get('N03_003') or 'unnamed'})"
        code = _code(label, props)
        if prefecture and not code.startswith(prefecture):
            continue  # a national file: keep only the served prefecture
        geom = _geometry(label, code, feature)
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            geom = shapely.make_valid(geom)
            repaired.add(code)
            log.warning("repaired invalid boundary of %s %s: %s", code, props.get("N03_004"), reason)
        parts[code].extend(_polygons(geom))
        props_by_code.setdefault(code, props)
    if not parts:
        where = f" for prefecture {prefecture}" if prefecture else ""
        raise BoundaryDataError(f"the collection has no municipality features{where}")
    return [_boundary(code, polys, props_by_code[code], code in repaired) for code, polys in sorted(parts.items())]


def load_boundaries(path: Path, *, prefecture: str | None = None) -> list[MunicipalityBoundary]:
    return parse_features(read_collection(path), prefecture=prefecture)
