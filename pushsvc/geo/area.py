"""Target areas drawn by people: GeoJSON polygons checked before anything is sent to them."""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from pushsvc.errors import ValidationProblem

MAX_VERTICES = 5000


def _shape(geojson: dict[str, Any], field: str) -> BaseGeometry:
    if not isinstance(geojson, dict) or geojson.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationProblem("the area must be a GeoJSON Polygon or MultiPolygon", field=field)
    try:
        return shape(geojson)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ValidationProblem(f"unreadable area coordinates: {exc}", field=field) from exc


def _check_rings(geojson: dict[str, Any], geom: BaseGeometry, field: str) -> None:
    """Every ring closed as written (shapely would close it silently), and not too many vertices."""
    rings = (
        [geom.exterior, *geom.interiors]
        if isinstance(geom, Polygon)
        else [r for p in geom.geoms for r in (p.exterior, *p.interiors)]
    )
    coords = geojson.get("coordinates") or []
    flat = coords if geojson["type"] == "Polygon" else [r for poly in coords for r in poly]
    if any(len(r) < 4 or list(r[0]) != list(r[-1]) for r in flat):
        raise ValidationProblem("every ring must be closed (first point = last point, at least 4 points)", field=field)
    if sum(len(r.coords) for r in rings) > MAX_VERTICES:
        raise ValidationProblem(f"the area has more than {MAX_VERTICES} vertices", field=field)


def _repaired(geom: BaseGeometry, field: str) -> BaseGeometry:
    """A self-intersecting drawing made valid, keeping only its areal parts."""
    if geom.is_valid:
        return geom
    geom = shapely.make_valid(geom)
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    if not parts:
        raise ValidationProblem("the area encloses nothing", field=field)
    return shapely.union_all(parts)


def parse_area(geojson: dict[str, Any], *, field: str = "area") -> BaseGeometry:
    """A valid Polygon/MultiPolygon in WGS84, or a 422 naming the field and what is wrong."""
    geom = _shape(geojson, field)
    _check_rings(geojson, geom, field)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValidationProblem("area coordinates must be longitude, latitude in WGS84", field=field)
    geom = _repaired(geom, field)
    if geom.is_empty or geom.area == 0:
        raise ValidationProblem("the area encloses nothing", field=field)
    return geom


CIRCLE_SEGMENTS = 64
MAX_RADIUS_M = 100_000.0
_M_PER_DEG_LAT = 111_320.0


def circle_area(lat: float, lon: float, radius_m: float, *, field: str = "circle") -> Polygon:
    """A circle drawn by centre and radius, as a 64-sided polygon in WGS84 (local flat-earth scale).

    Over the ≤100 km an operator draws, the error of scaling longitude by cos(lat) is under 0.1 %.
    """
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationProblem("circle centre must be latitude, longitude in WGS84", field=field)
    if not (0 < radius_m <= MAX_RADIUS_M):
        raise ValidationProblem(f"circle radius must be between 0 and {MAX_RADIUS_M:.0f} m", field=field)
    dlat = radius_m / _M_PER_DEG_LAT
    dlon = radius_m / (_M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 1e-6))
    ring = [
        (
            lon + dlon * math.cos(2 * math.pi * i / CIRCLE_SEGMENTS),
            lat + dlat * math.sin(2 * math.pi * i / CIRCLE_SEGMENTS),
        )
        for i in range(CIRCLE_SEGMENTS)
    ]
    return Polygon(ring)
