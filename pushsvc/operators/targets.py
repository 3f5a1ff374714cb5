"""Resolve what an operator aimed at into municipality codes and one area, and what it touches.

Every part (codes, polygon, circle, preset) is checked on its own so a problem names its field;
the municipalities an area touches are computed here, on the server, for scope and approval.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.errors import OutsideServiceArea, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.geo.area import circle_area, parse_area
from pushsvc.operators.models import AreaPreset
from pushsvc.operators.schemas import TargetIn

# A target touching more than this share of the prefecture's municipalities counts as prefecture-wide
# and, like an emergency, needs a second operator's approval.
WIDE_SHARE = 0.5
_CODE = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class ResolvedTarget:
    codes: list[str]  # municipalities chosen by code (everyone registered there)
    area: BaseGeometry | None  # union of polygon, circle and preset
    touched: list[str]  # every municipality the target reaches
    prefecture_wide: bool


def municipalities_touching(db_session: Session, geom: BaseGeometry, prefecture: str) -> list[str]:
    shapely.prepare(geom)
    return [
        p.code
        for p, g in geo_service.list_places_with_geoms(db_session)
        if p.code.startswith(prefecture) and geom.intersects(g)
    ]


def check_codes(db_session: Session, codes: list[str], prefecture: str, *, field: str) -> list[str]:
    bad = [c for c in codes if not _CODE.match(c)]
    if bad:
        raise ValidationProblem(f"municipality codes are 5 digits (N03), not {', '.join(bad)}", field=field)
    known = geo_service.places_by_code(db_session, codes)
    unknown = sorted({c for c in codes if c not in known or not c.startswith(prefecture)})
    if unknown:
        raise ValidationProblem(f"not a municipality of prefecture {prefecture}: {', '.join(unknown)}", field=field)
    return sorted(set(codes))


def inside(db_session: Session, geom: BaseGeometry, prefecture: str, *, field: str) -> list[str]:
    """The municipalities ``geom`` touches; 422 if it touches none (drawn in the wrong place)."""
    touched = municipalities_touching(db_session, geom, prefecture)
    if not touched:
        raise OutsideServiceArea(f"the area does not touch prefecture {prefecture}", field=field)
    return touched


def get_preset(db_session: Session, name: str, *, field: str = "target.preset") -> AreaPreset:
    preset = db_session.execute(select(AreaPreset).where(AreaPreset.name == name)).scalar_one_or_none()
    if preset is None:
        raise ValidationProblem(f"no area preset named {name!r}", field=field)
    return preset


def is_wide(db_session: Session, touched: list[str], prefecture: str) -> bool:
    total = geo_service.count_municipalities(db_session, prefecture)
    return bool(total) and len(touched) > math.floor(total * WIDE_SHARE)


def resolve_target(db_session: Session, target: TargetIn, *, prefecture: str) -> ResolvedTarget:
    codes = check_codes(db_session, target.municipality_codes, prefecture, field="target.municipality_codes")
    parts: list[BaseGeometry] = []
    touched = set(codes)
    if target.area is not None:
        parts.append(parse_area(target.area, field="target.area"))
        touched.update(inside(db_session, parts[-1], prefecture, field="target.area"))
    if target.circle is not None:
        c = target.circle
        parts.append(circle_area(c.lat, c.lon, c.radius_m, field="target.circle"))
        touched.update(inside(db_session, parts[-1], prefecture, field="target.circle"))
    if target.preset is not None:
        parts.append(get_preset(db_session, target.preset).geom)
        touched.update(inside(db_session, parts[-1], prefecture, field="target.preset"))
    if not codes and not parts:
        raise ValidationProblem("a target needs municipality codes, an area, a circle or a preset", field="target")
    area = shapely.union_all(parts) if parts else None
    ordered = sorted(touched)
    return ResolvedTarget(codes, area, ordered, is_wide(db_session, ordered, prefecture))
