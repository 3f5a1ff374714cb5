from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pushsvc.deps import SessionDep, SettingsDep
from pushsvc.geo import service
from pushsvc.geo.schemas import LocateOut, MunicipalityFeatureCollection

router = APIRouter(prefix="/api/v1/geo", tags=["geo"])


@router.get("/locate", response_model=LocateOut, responses={422: {"description": "Outside the service area"}})
def locate(
    db_session: SessionDep,
    settings: SettingsDep,
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="latitude, WGS84")],
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="longitude, WGS84")],
) -> LocateOut:
    found = service.locate(db_session, lat, lon, tolerance_m=settings.coastal_tolerance_m)
    p = found.place
    return LocateOut(
        code=p.code,
        name=p.name,
        prefecture=p.prefecture,
        district=p.district,
        match=found.match,
        distance_m=round(found.distance_m, 1),
    )


@router.get("/municipalities", response_model=MunicipalityFeatureCollection)
def municipalities(
    db_session: SessionDep,
    simplify: Annotated[
        float, Query(ge=0, le=5000, allow_inf_nan=False, description="simplification tolerance in metres")
    ] = 0.0,
) -> dict[str, Any]:
    return service.municipalities_geojson(db_session, simplify_m=simplify)
