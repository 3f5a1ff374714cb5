"""Where and what a subscription covers: its places, resolved to municipalities before anything is written,
and its categories as a bitmask. Geography goes through ``pushsvc.geo.service``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import Point
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.errors import ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.subscriptions.models import SubscriptionPlace
from pushsvc.subscriptions.schemas import (
    MAX_PLACES,
    PlaceIn,
    round_coord,
)
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import CATEGORIES


@dataclass(frozen=True)
class Resolved:
    """A place after lookup, before it is written: resolving every place first keeps errors atomic."""

    label: str | None
    code: str
    match: str
    lat: float | None
    lon: float | None
    name: str = ""


def category_mask(categories: Iterable[str]) -> int:
    mask = 0
    for c in categories:
        if c not in CATEGORIES:
            raise ValueError(f"unknown category {c!r}")
        mask |= 1 << CATEGORIES.index(c)
    return mask


def categories_of(mask: int) -> list[str]:
    return [c for i, c in enumerate(CATEGORIES) if mask & (1 << i)]


def resolve_places(db_session: Session, places: Sequence[PlaceIn], settings: Settings) -> list[Resolved]:
    if len(places) > MAX_PLACES:
        raise ValidationProblem(f"at most {MAX_PLACES} places", field="places")
    out: list[Resolved] = []
    codes = geo_service.places_by_code(db_session, [p.municipality_code for p in places if p.municipality_code])
    for i, p in enumerate(places):
        where = f"places[{i}]"
        if p.municipality_code is not None:
            if p.lat is not None or p.lon is not None:
                raise ValidationProblem(
                    "give lat and lon, or municipality_code, not both", field=f"{where}.municipality_code"
                )
            place = codes.get(p.municipality_code)
            if place is None or not place.code.startswith(settings.prefecture):
                raise ValidationProblem(
                    f"unknown municipality code {p.municipality_code!r}", field=f"{where}.municipality_code"
                )
            out.append(Resolved(p.label, place.code, "code", None, None, place.name))
            continue
        if p.lat is None or p.lon is None:
            missing = "lat" if p.lat is None else "lon"
            raise ValidationProblem("give lat and lon, or municipality_code", field=f"{where}.{missing}")
        out.append(locate(db_session, p.lat, p.lon, settings, p.label, where=f"{where}."))
    return out


def locate(
    db_session: Session, lat: float, lon: float, settings: Settings, label: str | None, *, where: str
) -> Resolved:
    """The municipality from the exact point; only the rounded point is kept."""
    found = geo_service.locate(
        db_session, lat, lon, tolerance_m=settings.coastal_tolerance_m, lat_field=f"{where}lat", lon_field=f"{where}lon"
    )
    return Resolved(label, found.place.code, found.match, round_coord(lat), round_coord(lon), found.place.name)


def place_row(r: Resolved, kind: str, position: int, expires_at: datetime | None = None) -> SubscriptionPlace:
    geom = Point(r.lon, r.lat) if r.lat is not None and r.lon is not None else None
    return SubscriptionPlace(
        kind=kind,
        position=position,
        label=r.label,
        municipality_code=r.code,
        match=r.match,
        lat=r.lat,
        lon=r.lon,
        geom=geom,
        expires_at=expires_at,
    )


def expiry(now: datetime, settings: Settings) -> datetime:
    return _utc(now) + timedelta(hours=settings.current_location_ttl_hours)


def place_values(
    sub_id: int, r: Resolved, kind: str, position: int, expires_at: datetime | None = None
) -> dict[str, Any]:
    geom = Point(r.lon, r.lat) if r.lat is not None and r.lon is not None else None
    return {
        "subscription_id": sub_id,
        "kind": kind,
        "position": position,
        "label": r.label,
        "municipality_code": r.code,
        "match": r.match,
        "lat": r.lat,
        "lon": r.lon,
        "geom": geom,
        "expires_at": expires_at,
    }


def place_out(r: Resolved) -> dict[str, Any]:
    return {
        "label": r.label,
        "municipality_code": r.code,
        "municipality_name": r.name,
        "match": r.match,
        "lat": r.lat,
        "lon": r.lon,
    }


def as_resolved(db_session: Session, p: SubscriptionPlace) -> Resolved:
    place = geo_service.get_place(db_session, p.municipality_code)
    return Resolved(p.label, p.municipality_code, p.match, p.lat, p.lon, place.name if place else "")
