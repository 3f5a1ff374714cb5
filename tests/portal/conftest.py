"""Portal fixtures: the delivery harness (real app + local push service) and the real shelter data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pushsvc.db import session_scope
from pushsvc.shelters import service as shelters
from pushsvc.shelters.loader import parse_path
from tests.conftest import SHARED, TestDatabase
from tests.fixtures.delivery import ADMIN, Harness, harness
from tests.fixtures.devpush import devpush, devpush_server
from tests.fixtures.operators import Ops, ops

__all__ = ["ADMIN", "Harness", "Ops", "devpush", "devpush_server", "harness", "ops"]

SHELTERS = SHARED / "samples" / "shelters"
KOCHI_CITY_SITES = SHELTERS / "gsi_emergency_geojson_by_city" / "392014.json"
MUROTO_SITES = SHELTERS / "gsi_emergency_geojson_by_city" / "392022.json"


def load_sites(db: TestDatabase, *paths: Any) -> None:
    with session_scope(db.sessionmaker) as s:
        for p in paths:
            parsed = parse_path(p)
            shelters.import_sites(s, parsed.sites, source=str(p))


@pytest.fixture
def kochi_sites(db: TestDatabase) -> Iterator[None]:
    """The real 高知市 and 室戸市 sites (the portal tests' places)."""
    load_sites(db, KOCHI_CITY_SITES, MUROTO_SITES)
    yield


def admin(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}", **extra}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
