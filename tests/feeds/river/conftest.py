"""Real river files from ../shared (PUSHSVC_SHARED), parsed once per session: the year replay takes seconds."""

from __future__ import annotations

import pytest

from pushsvc.feeds.river import Evaluation, Snapshot, Station, replay
from pushsvc.feeds.river.kriver import load_crisis_gauges, load_series
from tests.fixtures.river import EVENT_CSV, GAUGES_CSV, RIVER, SPIKY_GAUGE, YEAR_CSV, river_file

__all__ = ["EVENT_CSV", "GAUGES_CSV", "RIVER", "SPIKY_GAUGE", "YEAR_CSV", "river_file"]


@pytest.fixture(scope="session")
def crisis_stations() -> dict[str, Station]:
    return load_crisis_gauges(river_file("stations", GAUGES_CSV.name))


@pytest.fixture(scope="session")
def event_snapshots() -> list[Snapshot]:
    return load_series(river_file("series", EVENT_CSV.name))


@pytest.fixture(scope="session")
def year_snapshots() -> list[Snapshot]:
    return load_series(river_file("series", YEAR_CSV.name))


@pytest.fixture(scope="session")
def year_replay(year_snapshots: list[Snapshot], crisis_stations: dict[str, Station]) -> Evaluation:
    return replay(year_snapshots, crisis_stations)
