"""The in-process index that answers point lookups agrees with PostGIS asking the same question."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.orm import Session

from pushsvc.geo import service
from tests.conftest import TestDatabase


def test_index_and_postgis_agree_on_random_points(db: TestDatabase, session: Session) -> None:
    if db.backend != "postgresql":
        pytest.skip("PostGIS is the reference only on PostgreSQL")
    rng = np.random.default_rng(39)
    lats, lons = rng.uniform(32.7, 33.9, 1500), rng.uniform(132.4, 134.4, 1500)
    index = service.get_index(session, tolerance_m=2000)
    disagreements = []
    for lat, lon in zip(lats, lons, strict=True):
        mine = index.locate(float(lat), float(lon))
        theirs = service.find_postgis(session, float(lat), float(lon), 2000)
        key = (mine.place.code, mine.match) if mine else None
        same = key == ((theirs.place.code, theirs.match) if theirs else None)
        if not same:
            # Only a point right at the 2 km edge of the coastal band may differ (planar vs geodesic metres).
            d = (mine or theirs).distance_m  # type: ignore[union-attr]
            if not 1950 <= d <= 2050:
                disagreements.append((lat, lon, mine, theirs))
    assert disagreements == []
    assert sum(index.locate(float(a), float(o)) is not None for a, o in zip(lats, lons, strict=True)) > 300
