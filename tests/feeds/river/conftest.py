"""Real river files from ../shared (PUSHSVC_SHARED), parsed once per session: the year replay takes seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushsvc.feeds.river import Evaluation, Snapshot, Station, replay
from pushsvc.feeds.river.kriver import load_crisis_gauges, load_series
from tests.conftest import SHARED

RIVER = SHARED / "samples" / "river"
GAUGES_CSV = RIVER / "stations" / "kochi_crisis_gauges_k_river_area_info.csv"
EVENT_CSV = RIVER / "series" / "kochi_event_2026-06-02_k_river_crisis_gauges.csv"
YEAR_CSV = RIVER / "series" / "kochi_k_river_area_info_hourly_snapshots_2025-09_2026-08.csv"
SPIKY_GAUGE = "3900000104"  # 渡し上り川橋下流


def river_file(*parts: str) -> Path:
    path = RIVER.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared sample {path} not available (set PUSHSVC_SHARED)")
    return path


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
