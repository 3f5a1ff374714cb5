"""Public evacuation-site lookup (open data, no login)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pushsvc.deps import SessionDep
from pushsvc.shelters import service
from pushsvc.shelters.schemas import Hazard, NearestOut
from pushsvc.subscriptions.schemas import Lat, Lon

router = APIRouter(prefix="/api/v1/shelters", tags=["shelters"])


@router.get("/nearest", response_model=NearestOut)
def nearest(lat: Annotated[Lat, Query()], lon: Annotated[Lon, Query()], db_session: SessionDep,
            hazard: Hazard | None = None, limit: Annotated[int, Query(ge=1, le=20)] = 5) -> NearestOut:
    """Designated emergency evacuation sites nearest to a point, for one hazard (flood, tsunami, …)."""
    return NearestOut(hazard=hazard, sites=service.nearest(db_session, lat, lon, hazard=hazard, limit=limit))
