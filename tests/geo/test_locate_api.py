"""The question every other part asks: which municipality is this point in? Asked over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pushsvc.geo.n03 import load_boundaries
from tests.conftest import BOUNDARIES

KNOWN_PLACES = [
    ("高知県庁", 33.5597, 133.5311, "39201", "高知市"),
    ("室戸岬", 33.2453, 134.1770, "39202", "室戸市"),
    ("足摺岬", 32.7253, 133.0203, "39209", "土佐清水市"),
    ("高知龍馬空港", 33.5461, 133.6694, "39204", "南国市"),
    ("梼原町役場", 33.3917, 132.9269, "39405", "梼原町"),
]


@pytest.mark.parametrize(("label", "lat", "lon", "code", "name"), KNOWN_PLACES, ids=[p[0] for p in KNOWN_PLACES])
def test_known_places_resolve(client: TestClient, label: str, lat: float, lon: float, code: str, name: str) -> None:
    r = client.get("/api/v1/geo/locate", params={"lat": lat, "lon": lon})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["code"], body["name"], body["prefecture"], body["match"]) == (code, name, "高知県", "inside")


def test_district_is_given_for_towns(client: TestClient) -> None:
    body = client.get("/api/v1/geo/locate", params={"lat": 33.3917, "lon": 132.9269}).json()
    assert body["district"] == "高岡郡"
    assert client.get("/api/v1/geo/locate", params={"lat": 33.5597, "lon": 133.5311}).json()["district"] is None


def test_every_municipality_representative_point_resolves_to_itself(client: TestClient) -> None:
    boundaries = load_boundaries(BOUNDARIES, prefecture="39")
    assert len(boundaries) == 34
    for b in boundaries:
        p = b.geom.representative_point()
        r = client.get("/api/v1/geo/locate", params={"lat": p.y, "lon": p.x})
        assert r.status_code == 200 and r.json()["code"] == b.code, (b.code, b.name, r.text)


def test_point_off_katsurahama_beach_is_coastal_kochi_city(client: TestClient) -> None:
    # 桂浜 beach is at about (33.4975, 133.5745); 500 m due south is open sea.
    lat = 33.4975 - 500 / 111_195
    r = client.get("/api/v1/geo/locate", params={"lat": lat, "lon": 133.5745})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == "39201" and body["match"] == "coastal"
    assert 0 < body["distance_m"] <= 2000


def test_middle_of_the_pacific_is_outside_the_service_area(client: TestClient) -> None:
    r = client.get("/api/v1/geo/locate", params={"lat": 31.0, "lon": 134.0})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 422 and body["field"] == "lat" and "outside the service area" in body["detail"]


def test_coastal_tolerance_is_a_setting(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pushsvc.main import create_app

    lat = 33.4975 - 500 / 111_195
    with TestClient(create_app(db.settings(coastal_tolerance_m=100))) as c:
        assert c.get("/api/v1/geo/locate", params={"lat": lat, "lon": 133.5745}).status_code == 422


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": 133.5}, "lat"),
        ({"lat": 33.5}, "lon"),
        ({"lat": "nan", "lon": 133.5}, "lat"),
        ({"lat": 33.5, "lon": "inf"}, "lon"),
        ({"lat": 91, "lon": 133.5}, "lat"),
        ({"lat": 33.5, "lon": -181}, "lon"),
        ({"lat": "north", "lon": 133.5}, "lat"),
    ],
)
def test_bad_coordinates_are_refused_naming_the_field(client: TestClient, params: dict, field: str) -> None:
    r = client.get("/api/v1/geo/locate", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["field"] == field and body["title"] and body["type"] and body["detail"]


def test_municipalities_geojson_carries_all_34_and_the_mlit_credit(client: TestClient) -> None:
    r = client.get("/api/v1/geo/municipalities")
    assert r.status_code == 200
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert "国土数値情報（行政区域データ）" in fc["attribution"]
    codes = {f["properties"]["code"] for f in fc["features"]}
    assert len(codes) == 34 and "39201" in codes
    kochi = next(f for f in fc["features"] if f["properties"]["code"] == "39201")
    assert kochi["properties"]["name"] == "高知市" and kochi["geometry"]["type"] == "MultiPolygon"


def test_simplified_municipalities_are_smaller_but_complete(client: TestClient) -> None:
    full = client.get("/api/v1/geo/municipalities").content
    r = client.get("/api/v1/geo/municipalities", params={"simplify": 500})
    assert r.status_code == 200 and len(r.content) < len(full) * 0.8
    assert len(r.json()["features"]) == 34
    assert client.get("/api/v1/geo/municipalities", params={"simplify": -1}).json()["field"] == "simplify"


def test_healthz_reports_database_and_municipalities(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/healthz").json()
    assert body == {"status": "ok", "database": db.backend, "municipalities": 34}


def test_healthz_is_503_when_the_database_is_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pushsvc.config import Settings
    from pushsvc.main import create_app

    app = create_app(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"), migrate=False)
    with TestClient(app) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == 503
