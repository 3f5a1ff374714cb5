"""One point at a time and many at once, the index gives the same answers."""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from pushsvc.geo import service


def test_single_point_lookup_agrees_with_the_vectorised_one(session: Session) -> None:
    rng = np.random.default_rng(7)
    lats, lons = rng.uniform(32.7, 33.9, 3000), rng.uniform(132.4, 134.4, 3000)
    index = service.get_index(session, tolerance_m=2000)
    idx, match, _ = index.locate_many(lats, lons)
    one_by_one = [index.locate(float(a), float(o)) for a, o in zip(lats, lons, strict=True)]
    got = [(f.place.code, f.match) if f else None for f in one_by_one]
    want = [
        (index.places[i].code, "inside" if m == 1 else "coastal") if i >= 0 else None
        for i, m in zip(idx, match, strict=True)
    ]
    assert got == want
    assert sum(g is not None and g[1] == "inside" for g in got) > 500  # the fast path was exercised
    assert any(g is not None and g[1] == "coastal" for g in got)  # and the fallback
