"""Evacuation sites: every published layout parses the same, imports are idempotent, nearest is right."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pushsvc.shelters import service
from pushsvc.shelters.loader import ShelterDataError, parse_path
from pushsvc.shelters.schemas import ImportSummary, hazard_bit, hazards_of
from tests.conftest import SHARED, TestDatabase

SHELTERS = SHARED / "samples" / "shelters"
MERGED = SHELTERS / "kochi_gsi_emergency_sites_merged.csv"
BY_CITY = SHELTERS / "gsi_emergency_geojson_by_city"
KENCHO = (33.5597, 133.5311)  # 高知県庁


def test_merged_csv_and_per_city_geojson_give_the_same_2817_sites() -> None:
    csv_sites = {s.site_id: s for s in parse_path(MERGED).sites}
    json_sites = {s.site_id: s for s in parse_path(BY_CITY).sites}
    assert len(csv_sites) == 2817 and csv_sites.keys() == json_sites.keys()
    assert all(csv_sites[k] == json_sites[k] for k in csv_sites)
    site = csv_sites["E3920100001201"]
    assert (site.name, site.municipality_code, hazards_of(site.hazards_mask)) == (
        "ロイヤルガーデンはりまや町",
        "39201",
        ["tsunami"],
    )
    assert len({s.municipality_code for s in csv_sites.values()}) == 31  # 大豊町, 土佐町, 大川村 published none


def test_standard_open_data_layout_in_shift_jis_with_bad_rows_reported(tmp_path: Path) -> None:
    header = [
        "全国地方公共団体コード",
        "ID",
        "名称",
        "所在地_連結表記",
        "緯度",
        "経度",
        "災害種別_洪水",
        "災害種別_崖崩れ、土石流及び地滑り",
        "災害種別_津波",
        "指定避難所との重複",
    ]
    rows = [
        ["392014", "001", "高知市立A小学校", "高知市A町1", "33.56", "133.53", "1", "", "1", "1"],
        ["39201", "002", "B公園", "高知市B町", "", "133.5", "1", "", "", ""],
        ["39201", "003", "C公民館", "高知市C町", "33.5", "133.5", "", "○", "", ""],
    ]
    path = tmp_path / "039_kinkyu.csv"
    with path.open("w", encoding="cp932", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    parsed = parse_path(path)
    assert parsed.read == 3 and len(parsed.skipped) == 1 and "緯度" in parsed.skipped[0]
    a, c = parsed.sites
    assert (a.site_id, a.municipality_code, hazards_of(a.hazards_mask), a.also_evacuation_centre) == (
        "001",
        "39201",
        ["flood", "tsunami"],
        True,
    )
    assert hazards_of(c.hazards_mask) == ["landslide"]


def test_unknown_layouts_are_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "y.json").write_text('{"type": "Feature"}', encoding="utf-8")
    (tmp_path / "z.txt").write_text("", encoding="utf-8")
    for name, needle in [("x.csv", "緯度"), ("y.json", "FeatureCollection"), ("z.txt", ".csv")]:
        with pytest.raises(ShelterDataError, match=needle):
            parse_path(tmp_path / name)


def _load(session: Session, path: Path) -> ImportSummary:
    parsed = parse_path(path)
    result = service.import_sites(session, parsed.sites, source=str(path))
    session.commit()
    return result


def test_import_is_idempotent_and_the_file_is_the_truth_for_its_towns(session: Session, tmp_path: Path) -> None:
    first = _load(session, MERGED)
    assert (first.imported, first.removed) == (2817, 0)
    again = _load(session, MERGED)
    assert (again.imported, again.removed, service.count_sites(session)) == (2817, 0, 2817)
    # 室戸市 republished without one site: only that site goes; other towns are untouched.
    parsed = parse_path(BY_CITY / "392022.json")
    smaller = tmp_path / "392022.csv"
    with smaller.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["共通ID", "施設・場所名", "住所", "洪水", "津波", "緯度", "経度"])
        for s in parsed.sites[1:]:
            w.writerow(
                [
                    s.site_id,
                    s.name,
                    s.address,
                    "1" if s.hazards_mask & hazard_bit("flood") else "",
                    "1" if s.hazards_mask & hazard_bit("tsunami") else "",
                    s.lat,
                    s.lon,
                ]
            )
    result = _load(session, smaller)
    assert result.removed == 1 and service.count_sites(session) == 2816


def _brute_force(lat: float, lon: float, hazard_column: str) -> list[str]:
    with MERGED.open(encoding="utf-8-sig") as f:
        rows = [r for r in csv.DictReader(f) if r[hazard_column] == "1"]
    rows.sort(key=lambda r: service.distance_m(lat, lon, float(r["緯度"]), float(r["経度"])))
    return [r["共通ID"] for r in rows[:5]]


def test_nearest_flood_sites_to_the_prefectural_office_come_from_the_real_data(session: Session) -> None:
    _load(session, MERGED)
    found = service.nearest(session, *KENCHO, hazard="flood", limit=5)
    assert [s.id for s in found] == _brute_force(*KENCHO, "洪水")
    assert all("flood" in s.hazards for s in found)
    assert found[0].municipality_code == "39201" and found[0].distance_m < 1500
    assert [s.distance_m for s in found] == sorted(s.distance_m for s in found)
    tsunami = service.nearest(session, 33.2903, 134.1522, hazard="tsunami", limit=3)  # 室戸市役所
    assert [s.id for s in tsunami] == _brute_force(33.2903, 134.1522, "津波")[:3]


def test_nearest_api_is_public_and_validates(db: TestDatabase, client: TestClient) -> None:
    with db.sessionmaker() as s:
        _load(s, BY_CITY / "392014.json")
    r = client.get(
        "/api/v1/shelters/nearest", params={"lat": KENCHO[0], "lon": KENCHO[1], "hazard": "flood", "limit": 3}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["attribution"] == "国土地理院 指定緊急避難場所データ" and len(body["sites"]) == 3
    for params, field in [
        ({"lat": 95, "lon": 133}, "lat"),
        ({"lat": 33, "lon": 133, "hazard": "fire"}, "hazard"),
        ({"lat": 33, "lon": 133, "limit": 0}, "limit"),
        ({"lon": 133}, "lat"),
    ]:
        r = client.get("/api/v1/shelters/nearest", params=params)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)
