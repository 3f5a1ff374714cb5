"""Each adapter on its real sample file from ../shared/samples/river."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from pushsvc.feeds.river import Snapshot, Stage, Station
from pushsvc.feeds.river.kawabou import (
    Locator,
    livecam_stations,
    load_derived_csv,
    locator,
    station_from_master,
    thresholds_from,
    tmlist_readings,
)
from pushsvc.feeds.river.kriver import area_info_snapshot, area_info_stations, series_stations
from pushsvc.geo.index import MunicipalityIndex, Place
from pushsvc.geo.n03 import load_boundaries
from tests.conftest import BOUNDARIES
from tests.feeds.river.conftest import YEAR_CSV, river_file


@pytest.fixture(scope="module")
def index() -> MunicipalityIndex:
    boundaries = load_boundaries(BOUNDARIES, prefecture="39")
    return MunicipalityIndex(
        [Place(b.code, b.name, b.prefecture, b.district) for b in boundaries], [b.geom for b in boundaries]
    )


def point_locator(index: MunicipalityIndex) -> Locator:
    def at(lat: float, lon: float) -> str | None:
        found = index.locate(lat, lon)
        return found.place.code if found else None

    return locator(point=at)


def load_json(*parts: str) -> Any:
    with river_file(*parts).open(encoding="utf-8") as fh:
        return json.load(fh)


def test_area_info_event_snapshot_is_complete_kochi_only_and_utc() -> None:
    doc = load_json("formats", "k_river_area_info_crawler_snapshot_2026-06-02T22JST.json")
    snap = area_info_snapshot(doc)
    stations = area_info_stations(doc)
    assert snap.complete and snap.source == "k.river"
    assert len(snap.readings) == len(stations) == 126  # of 396 items nationwide
    assert snap.taken_at == datetime(2026, 6, 2, 13, 2, tzinfo=UTC)  # newest obsTime 22:02 JST
    first = next(r for r in snap.readings if r.station_code == "3900000050")  # 鍛冶屋瀬橋
    assert first.observed_at == datetime(2026, 6, 2, 13, 0, tzinfo=UTC) and first.level == 213.83
    over = {i["code"] for i in doc["items"] if i["prefCode"] == "39000" and i["over"] >= 100}
    at_danger = {r.station_code for r in snap.readings if stations[r.station_code].stage(r.level) is Stage.DANGER}
    assert at_danger == over and len(over) == 8


def test_area_info_townCode_is_the_n03_code_where_each_gauge_stands(
    crisis_stations: dict[str, Station], index: MunicipalityIndex
) -> None:
    """townCode needs no conversion (5-digit N03 code); all 155 gauges' coordinates agree with it."""
    assert len(crisis_stations) == 155
    for s in crisis_stations.values():
        assert s.lat is not None and s.lon is not None
        found = index.locate(s.lat, s.lon)
        assert found is not None and found.place.code == s.municipality, s
    kagiyase = crisis_stations["3900000050"]
    assert (kagiyase.name, kagiyase.municipality, kagiyase.thresholds.start, kagiyase.thresholds.danger) == (
        "鍛冶屋瀬橋",
        "39412",
        206.81,
        212.71,
    )
    assert kagiyase.alert_stages == (Stage.DANGER,)  # crisis gauges: start and danger levels only


def test_area_info_latest_nationwide_keeps_other_prefectures_out_unless_asked() -> None:
    doc = load_json("formats", "k_river_area_info_crawler_latest_2026-08-23T08JST.json")
    assert {r.station_code[:2] for r in area_info_snapshot(doc).readings} == {"39"}
    assert len(area_info_snapshot(doc, pref_code=None).readings) == 170
    fukuoka = area_info_stations(doc, pref_code=None)["4021100020"]
    assert fukuoka.municipality == "40211" and fukuoka.thresholds.caution == 14.74


def test_series_csv_stations_match_the_station_list(crisis_stations: dict[str, Station]) -> None:
    from_series = series_stations(river_file("series", YEAR_CSV.name))
    assert from_series.keys() <= crisis_stations.keys()
    assert all(from_series[c].municipality == crisis_stations[c].municipality for c in from_series)


def test_series_csv_replays_as_time_ordered_snapshots(
    event_snapshots: list[Snapshot], year_snapshots: list[Snapshot]
) -> None:
    assert (len(event_snapshots), sum(len(s.readings) for s in event_snapshots)) == (58, 1926)
    assert (len(year_snapshots), sum(len(s.readings) for s in year_snapshots)) == (7763, 67605)
    times = [s.taken_at for s in year_snapshots]
    assert times == sorted(times) and all(t.tzinfo is UTC for t in times)


def test_livecam_kawabou_stations_carry_five_thresholds_and_are_placed_by_coordinates(
    index: MunicipalityIndex,
) -> None:
    placed, unplaced = livecam_stations(
        load_json("stations", "kochi_kawabou_thresholds_from_livecam-jp.json"), locate=point_locator(index)
    )
    assert len(placed) == 17 and unplaced == []
    ino = placed["2255900400009"]
    assert (ino.name, ino.river, ino.municipality) == ("伊野", "仁淀川", "39386")  # いの町
    assert ino.thresholds.evacuation == 8.15 and ino.thresholds.flooding == 9.75
    assert ino.alert_stages == (Stage.EVACUATION, Stage.DANGER, Stage.FLOODING)
    assert ino.stage(8.2) is Stage.EVACUATION and ino.stage(5.0) is Stage.STANDBY and ino.stage(1.0) is Stage.NORMAL
    assert placed["2256000400003"].municipality == "39210"  # 具同 in 四万十市
    assert placed["2255900400012"].alert_stages == (Stage.EVACUATION, Stage.DANGER)  # 本郷: spcl + dng only
    assert placed["0998500400063"].alert_stages == ()  # 岩の川堰: no thresholds, never alerts


def test_livecam_stations_without_a_municipality_are_reported_not_guessed() -> None:
    doc = load_json("stations", "kochi_kawabou_thresholds_from_livecam-jp.json")
    placed, unplaced = livecam_stations(doc, locate=locator({"2255900400009": "39386"}))
    assert list(placed) == ["2255900400009"] and len(unplaced) == 16


def test_kawabou_master_in_both_spellings_gives_the_same_station() -> None:
    camel = {
        "obsInfo": {
            "obsNm": "伊野",
            "rvrNm": "仁淀川",
            "lat": 33.5525,
            "lon": 133.4138889,
            "rsrvStg": 5,
            "warnStg": 6.6,
            "spclWarnStg": 8.15,
            "dngStg": 8.8,
            "fldStg": 9.75,
            "dsgnHighStg": 11.7,
        }
    }
    snake = {
        "obs_nm": "伊野",
        "rvr_nm": "仁淀川",
        "lat": 33.5525,
        "lon": 133.4138889,
        "rsrv_stg": 5,
        "warn_stg": 6.6,
        "spcl_warn_stg": 8.15,
        "dng_stg": 8.8,
        "fld_stg": -9999.99,
    }
    where = locator({"2255900400009": "39386"})
    a = station_from_master(camel, code="2255900400009", locate=where)
    b = station_from_master(snake, code="2255900400009", locate=where)
    assert a is not None and b is not None
    assert a.thresholds.flooding == 9.75 and b.thresholds.flooding is None  # -9999.99 = not set
    assert a.thresholds.danger == b.thresholds.danger == 8.8 and a.river == b.river == "仁淀川"
    assert thresholds_from({}).danger is None


def test_tmlist_readings_are_oldest_first_deduplicated_jst_to_utc() -> None:
    doc = load_json("formats", "kawabou_tmlist_swstg_2200000053_油山_response.json")
    readings = tmlist_readings(doc, code="2200000053")
    assert len(readings) == 9  # obsValue repeats the newest min10Value
    assert readings[-1].observed_at == datetime(2025, 9, 17, 0, 2, tzinfo=UTC)  # "2025/09/17 09:02" JST
    assert readings[-1].level == 96.25 and readings[0].level == 96.24
    assert tmlist_readings(doc, code="2200000053", field="stgHght")[-1].level == -1.55


@pytest.mark.parametrize(
    ("name", "count", "first_utc", "first_level"),
    [
        ("kawabou_derived_10min_玉川_sjis.csv", 49, datetime(2025, 9, 16, 19, 10, tzinfo=UTC), 0.52),
        ("kawabou_derived_10min_油山_sjis.csv", 9, datetime(2025, 9, 9, 0, 0, tzinfo=UTC), -1.56),
        ("kawabou_derived_10min_安倍川L20k50_sjis.csv", 9, datetime(2025, 9, 8, 15, 0, tzinfo=UTC), -3.98),
    ],
)
def test_derived_shift_jis_csv_readings(name: str, count: int, first_utc: datetime, first_level: float) -> None:
    readings = load_derived_csv(river_file("series", name), code="x")
    assert len(readings) == count
    assert (readings[0].observed_at, readings[0].level) == (first_utc, first_level)
