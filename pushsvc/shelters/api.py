"""Evacuation sites: public lookup and open sites (open data, no login); open/closed state set by
operators and by the prefecture's shelter system (an operator account), within their municipalities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from pushsvc.deps import SessionDep
from pushsvc.operators import accounts
from pushsvc.operators.auth import CurrentOperator
from pushsvc.shelters import service
from pushsvc.shelters.schemas import Hazard, NearestOut, ShelterStateIn, ShelterStateItem, ShelterStateOut
from pushsvc.types import Lang, Lat, Lon, SiteId

router = APIRouter(prefix="/api/v1/shelters", tags=["shelters"])
MAX_STATES = 5000


@router.get("/nearest", response_model=NearestOut)
def nearest(
    lat: Annotated[Lat, Query()],
    lon: Annotated[Lon, Query()],
    db_session: SessionDep,
    hazard: Hazard | None = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> NearestOut:
    """Designated emergency evacuation sites nearest to a point, for one hazard (flood, tsunami, …)."""
    return NearestOut(hazard=hazard, sites=service.nearest(db_session, lat, lon, hazard=hazard, limit=limit))


@router.get("/open", response_model=list[ShelterStateOut])
def open_sites(
    db_session: SessionDep, municipality: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None, lang: Lang = "ja"
) -> list[ShelterStateOut]:
    """Sites open now, with how full they are (空き・混雑・満員)."""
    return service.list_open(db_session, municipality=municipality, lang=lang)


@router.get("/sites", response_model=list[ShelterStateOut])
def sites(
    db_session: SessionDep,
    municipality: Annotated[str, Query(pattern=r"^\d{5}$")],
    hazard: Annotated[list[Hazard] | None, Query()] = None,
    lang: Lang = "ja",
) -> list[ShelterStateOut]:
    """A municipality's sites designated for every hazard given, with whether each is open."""
    return service.list_sites(db_session, municipality, hazard or [], lang=lang)


def _set(db_session: SessionDep, op: CurrentOperator, items: list[ShelterStateItem]) -> list[ShelterStateOut]:
    codes = service.municipality_of(db_session, [i.id for i in items], field="id")
    accounts.ensure_scope(op, set(codes.values()), field="id")
    out = service.set_states(db_session, [(i.id, i.open, i.capacity) for i in items], by=op.name)
    accounts.audit(
        db_session,
        "shelter.state",
        operator=op,
        sites={i.id: {"open": i.open, "capacity": o.capacity} for i, o in zip(items, out, strict=True)},
    )
    return out


@router.put("/{site_id}/state", response_model=ShelterStateOut)
def set_state(site_id: SiteId, body: ShelterStateIn, op: CurrentOperator, db_session: SessionDep) -> ShelterStateOut:
    """Open or close one site and say how full it is; operators of the site's municipality only."""
    return _set(db_session, op, [ShelterStateItem(id=site_id, open=body.open, capacity=body.capacity)])[0]


@router.post("/states", response_model=list[ShelterStateOut])
def set_states(
    op: CurrentOperator, db_session: SessionDep, body: Annotated[list[ShelterStateItem], Body(max_length=MAX_STATES)]
) -> list[ShelterStateOut]:
    """Many sites at once (the prefecture's shelter system): all applied, or none if one is wrong."""
    return _set(db_session, op, body)
