"""Evacuation sites: idempotent import and the nearest sites suitable for a hazard.

The nearest sites come from an in-process numpy array of all sites (2,817 for Kochi), rebuilt when the
table changes: a scan of it takes ~0.1 ms, a database round trip more (the portal asks several times per
answer). Only above ``IN_MEMORY_MAX_SITES`` does PostgreSQL answer with a PostGIS KNN query (``<->`` on
the GiST index). Distances are great-circle metres computed the same way on both, so both agree.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Point
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pushsvc.db import cache_key, is_postgres
from pushsvc.errors import ValidationProblem
from pushsvc.shelters.loader import SiteRecord
from pushsvc.shelters.models import Shelter, ShelterState
from pushsvc.shelters.schemas import (
    CAPACITY_IN,
    CAPACITY_LABELS,
    Capacity,
    Hazard,
    ImportSummary,
    OpenSiteOut,
    ShelterStateOut,
    SiteOut,
    gsi_map_url,
    hazard_bit,
    hazards_of,
)

EARTH_RADIUS_M = 6_371_008.8
CACHE_RECHECK_S = 2.0
IN_MEMORY_MAX_SITES = 50_000
_lock = threading.Lock()


@dataclass
class _Cache:
    version: tuple[Any, ...]
    checked: float
    rows: list[_Site]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    mask: NDArray[np.int64]


_caches: dict[str, _Cache] = {}
_versions: dict[str, tuple[float, tuple[Any, ...]]] = {}
# Nearest sites per (database, data version, point, hazard, limit). Places are stored rounded to
# 0.001°, so residents near each other share entries; measured on PostGIS, this spares ~1.7 ms a lookup.
_results: dict[tuple[Any, ...], list[SiteOut]] = {}
MAX_RESULTS = 50_000


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def import_sites(
    db_session: Session,
    sites: list[SiteRecord],
    *,
    source: str,
    skipped: list[str] | None = None,
    read: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Upsert by 共通ID; sites of the imported municipalities missing from the data are removed.

    Importing the same data twice leaves the table as it was: the file is the truth for its municipalities.
    """
    codes = sorted({s.municipality_code for s in sites})
    now = datetime.now(UTC)
    existing = {row.site_id: row for row in db_session.execute(select(Shelter)).scalars()}
    for i, s in enumerate(sites):
        row = existing.pop(s.site_id, None)
        if row is None:
            row = Shelter(site_id=s.site_id)
            db_session.add(row)
        row.name, row.address, row.municipality_code = s.name, s.address, s.municipality_code
        row.hazards_mask, row.also_evacuation_centre = s.hazards_mask, s.also_evacuation_centre
        row.lat, row.lon, row.geom, row.source = s.lat, s.lon, Point(s.lon, s.lat), source[:255]
        row.imported_at = now  # the SQLite cache notices changed rows by this
        if progress and i % 200 == 0:
            progress(200)
    gone = [r.id for r in existing.values() if r.municipality_code in codes]
    if gone:
        db_session.execute(delete(Shelter).where(Shelter.id.in_(gone)))
    db_session.flush()
    forget_cached()
    return ImportSummary(
        read=read if read is not None else len(sites),
        imported=len(sites),
        removed=len(gone),
        skipped=list(skipped or []),
        municipalities=len(codes),
    )


def count_sites(db_session: Session) -> int:
    return int(db_session.execute(select(func.count()).select_from(Shelter)).scalar_one())


# Columns a result needs: loading whole rows would also parse each site's geometry.
_COLS = (
    Shelter.site_id,
    Shelter.name,
    Shelter.address,
    Shelter.municipality_code,
    Shelter.lat,
    Shelter.lon,
    Shelter.hazards_mask,
    Shelter.also_evacuation_centre,
)


@dataclass(frozen=True)
class _Site:
    site_id: str
    name: str
    address: str
    municipality_code: str
    lat: float
    lon: float
    hazards_mask: int
    also_evacuation_centre: bool


def _site_out(row: _Site, lat: float, lon: float) -> SiteOut:
    return SiteOut(
        id=row.site_id,
        name=row.name,
        address=row.address,
        municipality_code=row.municipality_code,
        lat=row.lat,
        lon=row.lon,
        distance_m=round(distance_m(lat, lon, row.lat, row.lon)),
        hazards=hazards_of(row.hazards_mask),
        also_evacuation_centre=row.also_evacuation_centre,
    )


def _version(db_session: Session) -> tuple[Any, ...]:
    """What identifies the loaded data, re-read at most every ``CACHE_RECHECK_S`` seconds."""
    key = cache_key(db_session)
    hit = _versions.get(key)
    now = time.monotonic()
    if hit and now - hit[0] < CACHE_RECHECK_S:
        return hit[1]
    version = tuple(
        db_session.execute(select(func.count(Shelter.id), func.max(Shelter.id), func.max(Shelter.imported_at))).one()
    )
    _versions[key] = (now, version)
    return version


def forget_cached() -> None:
    """Drop this process's caches (an import in this process is then seen at once)."""
    _caches.clear()
    _versions.clear()
    _results.clear()


def _cache(db_session: Session, version: tuple[Any, ...]) -> _Cache:
    key = cache_key(db_session)
    cached = _caches.get(key)
    if cached and cached.version == version:
        return cached
    with _lock:
        rows = [_Site(*r) for r in db_session.execute(select(*_COLS).order_by(Shelter.id))]
        built = _Cache(
            version,
            time.monotonic(),
            rows,
            np.array([r.lat for r in rows], dtype=np.float64),
            np.array([r.lon for r in rows], dtype=np.float64),
            np.array([r.hazards_mask for r in rows], dtype=np.int64),
        )
        _caches[key] = built
        return built


def nearest(
    db_session: Session, lat: float, lon: float, *, hazard: Hazard | None = None, limit: int = 3
) -> list[SiteOut]:
    """The ``limit`` sites nearest to the point that are designated for ``hazard`` (any site if None)."""
    version = _version(db_session)
    key = (cache_key(db_session), version, lat, lon, hazard, limit)
    hit = _results.get(key)
    if hit is not None:
        return list(hit)
    found = _nearest(db_session, lat, lon, hazard, limit, version)
    if len(_results) >= MAX_RESULTS:
        _results.clear()
    _results[key] = found
    return list(found)


def _nearest(
    db_session: Session, lat: float, lon: float, hazard: Hazard | None, limit: int, version: tuple[Any, ...]
) -> list[SiteOut]:
    if is_postgres(db_session) and version[0] > IN_MEMORY_MAX_SITES:
        here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
        # KNN on planar degrees picks candidates; re-rank a few extra by true distance.
        stmt = select(*_COLS).order_by(Shelter.geom.op("<->")(here)).limit(limit * 2 + 4)
        if hazard is not None:
            stmt = stmt.where(Shelter.hazards_mask.op("&")(hazard_bit(hazard)) != 0)
        rows = [_Site(*r) for r in db_session.execute(stmt)]
    else:
        c = _cache(db_session, version)
        if not c.rows:
            return []
        p1, p2 = np.radians(lat), np.radians(c.lat)
        a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(c.lon - lon) / 2) ** 2
        d = np.where((c.mask & hazard_bit(hazard)) != 0, a, np.inf) if hazard is not None else a
        k = min(limit * 2 + 4, len(d))
        idx = np.argpartition(d, k - 1)[:k]
        rows = [c.rows[i] for i in idx if np.isfinite(d[i])]
    out = sorted((_site_out(r, lat, lon) for r in rows), key=lambda s: (s.distance_m, s.id))
    return out[:limit]


# --- open/closed state (operators, the prefecture's shelter system) -----------------------------


def _capacity(value: str, field: str) -> Capacity:
    found = value if value in CAPACITY_LABELS else CAPACITY_IN.get(value)
    if found is None:
        raise ValidationProblem("capacity is available, crowded or full (空き, 混雑, 満員)", field=field)
    return cast(Capacity, found)


def sites_by_id(db_session: Session, site_ids: Collection[str], *, field: str = "shelters") -> dict[str, _Site]:
    """The sites named, or a 422 naming the ids that are not designated sites."""
    ids = sorted(set(site_ids))
    found = (
        {
            r.site_id: r
            for r in (_Site(*row) for row in db_session.execute(select(*_COLS).where(Shelter.site_id.in_(ids))))
        }
        if ids
        else {}
    )
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise ValidationProblem(f"no evacuation site {', '.join(unknown[:5])}", field=field)
    return found


def municipality_of(db_session: Session, site_ids: Collection[str], *, field: str = "shelters") -> dict[str, str]:
    """site id → municipality code, so callers can check an operator's scope before changing a site."""
    return {k: v.municipality_code for k, v in sites_by_id(db_session, site_ids, field=field).items()}


def unsuitable(db_session: Session, site_ids: Collection[str], hazards: Collection[Hazard]) -> list[str]:
    """Sites (by name) not designated for every one of ``hazards``: never to be suggested for them."""
    need = 0
    for h in hazards:
        need |= hazard_bit(h)
    return [s.name for s in sites_by_id(db_session, site_ids).values() if s.hazards_mask & need != need]


def set_states(
    db_session: Session, items: Sequence[tuple[str, bool, str]], *, by: str, now: datetime | None = None
) -> list[ShelterStateOut]:
    """Open/close sites and set how full they are; every id and value is checked before anything changes."""
    now = now or datetime.now(UTC)
    sites = sites_by_id(db_session, [i for i, _, _ in items], field="id")
    parsed = [(i, is_open, _capacity(cap, f"[{n}].capacity")) for n, (i, is_open, cap) in enumerate(items)]
    for site_id, is_open, cap in parsed:
        row = db_session.get(ShelterState, site_id)
        if row is None:
            row = ShelterState(site_id=site_id)
            db_session.add(row)
        row.open, row.capacity, row.updated_at, row.updated_by = is_open, cap, now, by[:80]
    db_session.flush()
    return states(db_session, [i for i, _, _ in parsed], sites=sites)


def states(
    db_session: Session, site_ids: Collection[str], *, sites: dict[str, _Site] | None = None, lang: str = "ja"
) -> list[ShelterStateOut]:
    """Each site's state (closed and available if never set), in the order asked."""
    sites = sites if sites is not None else sites_by_id(db_session, site_ids)
    rows = {
        r.site_id: r
        for r in db_session.execute(
            select(ShelterState).where(ShelterState.site_id.in_(sorted(set(site_ids))))
        ).scalars()
    }
    out = []
    for i in dict.fromkeys(site_ids):
        s, st = sites[i], rows.get(i)
        cap: Capacity = cast(Capacity, st.capacity) if st else "available"
        out.append(
            ShelterStateOut(
                id=i,
                name=s.name,
                municipality_code=s.municipality_code,
                hazards=hazards_of(s.hazards_mask),
                open=bool(st and st.open),
                capacity=cap,
                capacity_label=CAPACITY_LABELS[cap].get(lang, CAPACITY_LABELS[cap]["ja"]),
                updated_at=st.updated_at if st else None,
                updated_by=st.updated_by if st else "",
            )
        )
    return out


def _open_states(db_session: Session) -> dict[str, str]:
    return {
        i: c
        for i, c in db_session.execute(
            select(ShelterState.site_id, ShelterState.capacity).where(ShelterState.open.is_(True))
        )
    }


def list_sites(
    db_session: Session, municipality: str, hazards: Collection[Hazard], *, lang: str = "ja"
) -> list[ShelterStateOut]:
    """A municipality's sites designated for every one of ``hazards``, by name, with their state (the
    console's picker: a site unsuitable for the order's hazards is never offered)."""
    need = 0
    for h in hazards:
        need |= hazard_bit(h)
    ids = [
        i
        for i, m in db_session.execute(
            select(Shelter.site_id, Shelter.hazards_mask).where(Shelter.municipality_code == municipality)
        )
        if m & need == need
    ]
    return sorted(states(db_session, ids, lang=lang), key=lambda s: s.name)


def list_open(db_session: Session, *, municipality: str | None = None, lang: str = "ja") -> list[ShelterStateOut]:
    """Every open site (optionally of one municipality), for the console and open data."""
    ids = sorted(_open_states(db_session))
    found = [s for s in states(db_session, ids, lang=lang) if municipality in (None, s.municipality_code)]
    return sorted(found, key=lambda s: (s.municipality_code, s.name))


def open_nearest(
    db_session: Session, lat: float, lon: float, hazards: Collection[Hazard], *, limit: int = 5, lang: str = "ja"
) -> list[OpenSiteOut]:
    """Open sites designated for every one of ``hazards``, nearest first, with distance and a map link.

    With no hazard in force nothing is suggested: an open site is only offered for what it was opened for.
    """
    if not hazards:
        return []
    open_caps = _open_states(db_session)
    if not open_caps:
        return []
    need = 0
    for h in hazards:
        need |= hazard_bit(h)
    rows = [_Site(*r) for r in db_session.execute(select(*_COLS).where(Shelter.site_id.in_(sorted(open_caps))))]
    fits = sorted(
        (_site_out(r, lat, lon) for r in rows if r.hazards_mask & need == need), key=lambda s: (s.distance_m, s.id)
    )
    out = []
    for s in fits[:limit]:
        cap = cast(Capacity, open_caps[s.id])
        out.append(
            OpenSiteOut(
                **s.model_dump(),
                capacity=cap,
                map_url=gsi_map_url(s.lat, s.lon),
                capacity_label=CAPACITY_LABELS[cap].get(lang, CAPACITY_LABELS[cap]["ja"]),
            )
        )
    return out
