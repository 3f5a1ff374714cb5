"""Geo service: boundary import, municipality listing and point lookup.

Point → municipality is answered on both backends by the in-process ``MunicipalityIndex``, built from
the boundary table and rebuilt when it changes: it is the hottest call in the system (every sign-up and
location update), and a PostGIS round trip with its session costs ~5 ms against ~0.1 ms in-process
(docs/BENCHMARKS.md). ``find_postgis`` answers the same question in SQL; tests check the two agree.
Set-based spatial queries (who is inside an area, nearest shelters) run in PostGIS on PostgreSQL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from typing import cast as type_cast

import shapely
from geoalchemy2 import Geography
from sqlalchemy import cast, delete, func, select
from sqlalchemy.orm import Session

from pushsvc.config import MLIT_BOUNDARY_CREDIT
from pushsvc.db import cache_key
from pushsvc.errors import OutsideServiceArea, ValidationProblem
from pushsvc.geo.index import EARTH_M_PER_DEG, Located, MunicipalityIndex, Place
from pushsvc.geo.models import Municipality
from pushsvc.geo.n03 import MunicipalityBoundary

_lock = threading.Lock()
T = TypeVar("T")
_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
_checked_at: dict[tuple[Any, ...], float] = {}
INDEX_RECHECK_S = 1.0  # how stale the in-process index may be after another process re-imports
_geojson_cache: dict[tuple[str, tuple[Any, ...], float], dict[str, Any]] = {}


@dataclass(frozen=True)
class ImportResult:
    prefecture_code: str
    municipalities: int
    replaced: int
    repaired: list[str]


def import_boundaries(
    db_session: Session,
    boundaries: list[MunicipalityBoundary],
    *,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Replace each prefecture's set with the given boundaries; the caller's commit makes it atomic."""
    prefs = sorted({b.prefecture_code for b in boundaries})
    replaced = 0
    for pref in prefs:
        existing = count_municipalities(db_session, pref)
        db_session.execute(delete(Municipality).where(Municipality.prefecture_code == pref))
        replaced += existing
    for b in boundaries:
        db_session.add(
            Municipality(
                code=b.code,
                prefecture_code=b.prefecture_code,
                prefecture=b.prefecture,
                district=b.district,
                name=b.name,
                geom=b.geom,
                source=source[-255:],
            )
        )
        if progress:
            progress(1)
    db_session.flush()
    _checked_at.clear()  # this process sees its own import at once
    return ImportResult(
        prefecture_code=",".join(prefs),
        municipalities=len(boundaries),
        replaced=replaced,
        repaired=[b.code for b in boundaries if b.repaired],
    )


def count_municipalities(db_session: Session, prefecture: str | None = None) -> int:
    stmt = select(func.count()).select_from(Municipality)
    if prefecture:
        stmt = stmt.where(Municipality.prefecture_code == prefecture)
    return int(db_session.execute(stmt).scalar_one())


def _version(db_session: Session) -> tuple[Any, ...]:
    row = db_session.execute(
        select(func.count(), func.max(Municipality.imported_at), func.min(Municipality.code))
    ).one()
    return tuple(row)


def _cached(db_session: Session, name: tuple[Any, ...], build: Callable[[], T]) -> T:
    """A per-process copy of something derived from the boundary table, rebuilt when the table changes.

    The version is checked at most once a second, so a re-import by another process shows within that.
    """
    key = (cache_key(db_session), *name)
    cached = _cache.get(key)
    now = time.monotonic()
    if cached and now - _checked_at.get(key, 0.0) < INDEX_RECHECK_S:
        return type_cast(T, cached[1])
    version = _version(db_session)
    _checked_at[key] = now
    if cached and cached[0] == version:
        return type_cast(T, cached[1])
    with _lock:
        value = build()
        _cache[key] = (version, value)
        return value


def get_index(db_session: Session, *, tolerance_m: float) -> MunicipalityIndex:
    """The in-process point → municipality index for this database."""

    def build() -> MunicipalityIndex:
        rows = list_places_with_geoms(db_session)
        if not rows:
            raise OutsideServiceArea("no municipal boundaries are loaded; run `pushsvc boundaries import`")
        return MunicipalityIndex([p for p, _ in rows], [g for _, g in rows], tolerance_m=tolerance_m)

    return _cached(db_session, ("index", tolerance_m), build)


def list_places_with_geoms(db_session: Session) -> list[tuple[Place, Any]]:
    rows = db_session.execute(select(Municipality).order_by(Municipality.code)).scalars()
    return [(Place(m.code, m.name, m.prefecture, m.district), m.geom) for m in rows]


def list_places(db_session: Session) -> list[Place]:
    rows = db_session.execute(
        select(Municipality.code, Municipality.name, Municipality.prefecture, Municipality.district).order_by(
            Municipality.code
        )
    )
    return [Place(*r) for r in rows]


def _all_places(db_session: Session) -> dict[str, Place]:
    return _cached(db_session, ("places",), lambda: {p.code: p for p in list_places(db_session)})


def get_place(db_session: Session, code: str) -> Place | None:
    return _all_places(db_session).get(code)


def places_by_code(db_session: Session, codes: Iterable[str]) -> dict[str, Place]:
    """Names for codes, from the per-process copy: every sign-up asks, and they change once a year."""
    places = _all_places(db_session)
    return {c: places[c] for c in set(codes) if c in places}


def check_coordinates(lat: float, lon: float, *, lat_field: str = "lat", lon_field: str = "lon") -> None:
    if not isinstance(lat, int | float) or not math.isfinite(lat) or not -90 <= lat <= 90:
        raise ValidationProblem(f"latitude must be a finite number in [-90, 90], got {lat!r}", field=lat_field)
    if not isinstance(lon, int | float) or not math.isfinite(lon) or not -180 <= lon <= 180:
        raise ValidationProblem(f"longitude must be a finite number in [-180, 180], got {lon!r}", field=lon_field)


def find(db_session: Session, lat: float, lon: float, *, tolerance_m: float) -> Located | None:
    """Point → municipality, or None outside the service area."""
    check_coordinates(lat, lon)
    return get_index(db_session, tolerance_m=tolerance_m).locate(lat, lon)


def locate(
    db_session: Session,
    lat: float,
    lon: float,
    *,
    tolerance_m: float,
    lat_field: str = "lat",
    lon_field: str = "lon",
) -> Located:
    check_coordinates(lat, lon, lat_field=lat_field, lon_field=lon_field)
    found = find(db_session, lat, lon, tolerance_m=tolerance_m)
    if found is None:
        raise OutsideServiceArea(
            f"({lat}, {lon}) is outside the service area (no municipality within {tolerance_m:.0f} m)",
            field=lat_field,
        )
    return found


def find_postgis(db_session: Session, lat: float, lon: float, tolerance_m: float) -> Located | None:
    """The same lookup as a PostGIS query (PostgreSQL only): the cross-check for the in-process index."""
    pt = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    cols = (Municipality.code, Municipality.name, Municipality.prefecture, Municipality.district)
    row = db_session.execute(select(*cols).where(func.ST_Intersects(Municipality.geom, pt)).limit(1)).first()
    if row:
        return Located(Place(*row), "inside", 0.0)
    if tolerance_m <= 0:
        return None
    # Open sea is most of the bounding box: a GiST-indexed planar DWithin (degrees, with a margin for
    # longitude shrinking at this latitude) drops far points before any costly geodesic distance, and
    # ST_ClipByBox2D keeps the geodesic part to the stretch of boundary near the point.
    deg = tolerance_m / EARTH_M_PER_DEG / max(math.cos(math.radians(abs(lat))), 0.2)
    window = func.ST_Expand(pt, deg)
    near = (
        select(
            Municipality.code,
            Municipality.name,
            Municipality.prefecture,
            Municipality.district,
            func.ST_ClipByBox2D(Municipality.geom, window).label("part"),
        )
        .where(func.ST_DWithin(Municipality.geom, pt, deg))
        .subquery()
    )
    metres = func.ST_Distance(cast(near.c.part, Geography), cast(pt, Geography)).label("d")
    rows = db_session.execute(
        select(near.c.code, near.c.name, near.c.prefecture, near.c.district, metres).order_by("d")
    ).all()
    for code, name, prefecture, district, d in rows:
        if d is not None and d <= tolerance_m:
            return Located(Place(code, name, prefecture, district), "coastal", float(d))
    return None


def municipalities_geojson(db_session: Session, *, simplify_m: float = 0.0) -> dict[str, Any]:
    """The boundaries as a GeoJSON FeatureCollection carrying MLIT's required credit line."""
    key = (cache_key(db_session), _version(db_session), simplify_m)
    cached = _geojson_cache.get(key)
    if cached is not None:
        return cached
    features = []
    for place, geom in list_places_with_geoms(db_session):
        if simplify_m > 0:
            geom = shapely.simplify(geom, simplify_m / EARTH_M_PER_DEG, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "id": place.code,
                "properties": {"code": place.code, "name": place.name, "district": place.district},
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    body = {"type": "FeatureCollection", "attribution": MLIT_BOUNDARY_CREDIT, "features": features}
    if len(_geojson_cache) > 32:
        _geojson_cache.clear()
    _geojson_cache[key] = body
    return body
