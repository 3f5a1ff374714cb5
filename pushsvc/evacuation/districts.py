"""Districts of a municipality (named, drawn areas) and the area an evacuation order covers.

Functions take ``db_session`` and never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.errors import NotFound, ValidationProblem
from pushsvc.evacuation import texts
from pushsvc.evacuation.models import District
from pushsvc.evacuation.schemas import AreaIn, DistrictIn, DistrictOut
from pushsvc.geo import service as geo_service
from pushsvc.geo.area import parse_area
from pushsvc.operators import accounts
from pushsvc.operators.accounts import Operator
from pushsvc.operators.targets import municipalities_touching
from pushsvc.timeutil import as_utc as _utc


def municipality_name(db_session: Session, code: str, prefecture: str, field: str) -> str:
    place = geo_service.get_place(db_session, code)
    if place is None or not code.startswith(prefecture):
        raise ValidationProblem(f"not a municipality of prefecture {prefecture}: {code}", field=field)
    return place.name


def municipality_geom(db_session: Session, code: str) -> BaseGeometry:
    for p, g in geo_service.list_places_with_geoms(db_session):
        if p.code == code:
            return g
    raise NotFound(f"no municipality {code}", field="municipality_code")


def _within(db_session: Session, geom: BaseGeometry, code: str, prefecture: str, field: str) -> None:
    """A district or drawn area must lie in its municipality: reaching a neighbour is that neighbour's call."""
    touched = municipalities_touching(db_session, geom, prefecture)
    if not touched:
        raise ValidationProblem(f"the area is outside prefecture {prefecture}", field=field)
    others = [c for c in touched if c != code]
    if others:
        names = geo_service.places_by_code(db_session, others)
        raise ValidationProblem(
            f"the area reaches beyond {code} into {', '.join(names[c].name for c in others)}; "
            "draw it inside the municipality",
            field=field,
        )


def save_district(
    db_session: Session, op: Operator, code: str, body: DistrictIn, *, settings: Settings, now: datetime | None = None
) -> District:
    """Save (or redraw) a named district of a municipality; its own operators and the prefecture's."""
    municipality_name(db_session, code, settings.prefecture, "municipality_code")
    accounts.ensure_scope(op, [code], field="municipality_code")
    geom = parse_area(body.area, field="area")
    _within(db_session, geom, code, settings.prefecture, "area")
    d = db_session.execute(
        select(District).where(District.municipality_code == code, District.name == body.name)
    ).scalar_one_or_none()
    if d is None:
        d = District(
            municipality_code=code, name=body.name, created_by=op.id, created_at=_utc(now or datetime.now(UTC))
        )
        db_session.add(d)
    d.name_en, d.geom = body.name_en, geom
    accounts.audit(db_session, "district.save", operator=op, municipality=code, name=body.name)
    db_session.flush()
    return d


def list_districts(db_session: Session, code: str | None = None) -> list[District]:
    stmt = select(District).order_by(District.municipality_code, District.name)
    if code is not None:
        stmt = stmt.where(District.municipality_code == code)
    return list(db_session.execute(stmt).scalars())


def district_out(d: District) -> DistrictOut:
    return DistrictOut(municipality_code=d.municipality_code, name=d.name, name_en=d.name_en, area=mapping(d.geom))


# --- the area of an order -------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderArea:
    kind: str
    districts: list[str]
    geom: BaseGeometry | None  # None = the whole municipality
    label: dict[str, str]


def _whole(db_session: Session, code: str, name: str, area: AreaIn, prefecture: str) -> OrderArea:
    if area.districts or area.polygon:
        raise ValidationProblem("a whole-municipality order takes no districts or polygon", field="area")
    return OrderArea(
        "municipality", [], None, {lang: texts.area_label(name, "municipality", [], lang) for lang in ("ja", "en")}
    )


def _saved(db_session: Session, code: str, name: str, wanted: Sequence[str]) -> dict[str, District]:
    """The municipality's saved districts; 422 naming those it does not have (and whose they are)."""
    found = {d.name: d for d in list_districts(db_session, code)}
    unknown = [n for n in wanted if n not in found]
    if unknown:
        other = (
            db_session.execute(
                select(District.municipality_code).where(District.name.in_(unknown), District.municipality_code != code)
            )
            .scalars()
            .first()
        )
        hint = f" (that is a district of {other})" if other else ""
        raise ValidationProblem(f"no saved district {', '.join(unknown)} in {name}{hint}", field="area.districts")
    return found


def _districts(db_session: Session, code: str, name: str, area: AreaIn, prefecture: str) -> OrderArea:
    if not area.districts or area.polygon:
        raise ValidationProblem("name one or more saved districts (and no polygon)", field="area.districts")
    found = _saved(db_session, code, name, area.districts)
    names = list(dict.fromkeys(area.districts))
    geom = shapely.union_all([found[n].geom for n in names])
    en = [found[n].name_en or n for n in names]
    return OrderArea(
        "districts",
        names,
        geom,
        {"ja": texts.area_label(name, "districts", names, "ja"), "en": texts.area_label(name, "districts", en, "en")},
    )


def _drawn(db_session: Session, code: str, name: str, area: AreaIn, prefecture: str) -> OrderArea:
    if area.polygon is None or area.districts:
        raise ValidationProblem("a drawn area needs a polygon (and no districts)", field="area.polygon")
    geom = parse_area(area.polygon, field="area.polygon")
    _within(db_session, geom, code, prefecture, "area.polygon")
    return OrderArea("polygon", [], geom, {lang: texts.area_label(name, "polygon", [], lang) for lang in ("ja", "en")})


_KINDS: dict[str, Callable[[Session, str, str, AreaIn, str], OrderArea]] = {
    "municipality": _whole,
    "districts": _districts,
    "polygon": _drawn,
}


def order_area(db_session: Session, code: str, name: str, area: AreaIn, prefecture: str) -> OrderArea:
    """The area of an order (whole municipality, saved districts or a drawn polygon), checked."""
    return _KINDS.get(area.kind, _drawn)(db_session, code, name, area, prefecture)
