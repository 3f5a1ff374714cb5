"""What a resident's browser does: subscribe with places, see, change and erase its own data."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pushsvc.subscriptions.models import Subscription, SubscriptionPlace
from pushsvc.subscriptions.service import hash_token
from tests.conftest import TestDatabase
from tests.subscriptions.conftest import KOCHI_PREF_OFFICE, MUROTO_CAPE, subscription_body


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rows(db: TestDatabase) -> tuple[int, int]:
    with db.sessionmaker() as s:
        return (
            s.execute(select(func.count()).select_from(Subscription)).scalar_one(),
            s.execute(select(func.count()).select_from(SubscriptionPlace)).scalar_one(),
        )


def _subscribe(client: TestClient, **overrides: Any) -> dict[str, Any]:
    r = client.post("/api/v1/subscriptions", json=subscription_body(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


def test_places_in_kochi_city_and_muroto_list_both_municipalities(client: TestClient) -> None:
    body = _subscribe(
        client,
        places=[
            {"label": "自宅", "lat": KOCHI_PREF_OFFICE[0], "lon": KOCHI_PREF_OFFICE[1]},
            {"label": "実家", "lat": MUROTO_CAPE[0], "lon": MUROTO_CAPE[1]},
        ],
    )
    assert [(p["label"], p["municipality_code"], p["municipality_name"]) for p in body["places"]] == [
        ("自宅", "39201", "高知市"),
        ("実家", "39202", "室戸市"),
    ]
    assert body["places"][0]["match"] == "inside"
    assert body["categories"] == ["evacuation", "river", "weather", "landslide", "quake_tsunami", "area_info"]
    assert len(body["token"]) >= 22 and body["id"] >= 1


def test_a_place_may_be_a_whole_municipality(client: TestClient) -> None:
    body = _subscribe(client, places=[{"label": "職場", "municipality_code": "39209"}])
    assert body["places"] == [
        {
            "label": "職場",
            "municipality_code": "39209",
            "municipality_name": "土佐清水市",
            "match": "code",
            "lat": None,
            "lon": None,
        }
    ]


def test_coordinates_are_stored_rounded_to_a_thousandth_of_a_degree(client: TestClient, db: TestDatabase) -> None:
    body = _subscribe(client, places=[{"label": "home", "lat": 33.559712345, "lon": 133.531198765}])
    assert (body["places"][0]["lat"], body["places"][0]["lon"]) == (33.56, 133.531)
    with db.sessionmaker() as s:
        place = s.execute(select(SubscriptionPlace)).scalar_one()
        assert (place.lat, place.lon) == (33.56, 133.531)
        assert (place.geom.x, place.geom.y) == (133.531, 33.56)


def test_municipality_comes_from_the_exact_point_not_the_rounded_one(client: TestClient) -> None:
    # Off 桂浜, 500 m to sea: the exact point resolves (coastal) before rounding moves it.
    body = _subscribe(client, places=[{"label": "海", "lat": 33.4975 - 500 / 111_195, "lon": 133.5745}])
    assert body["places"][0]["municipality_code"] == "39201" and body["places"][0]["match"] == "coastal"


def test_token_is_stored_only_as_its_hash(client: TestClient, db: TestDatabase) -> None:
    body = _subscribe(client)
    with db.sessionmaker() as s:
        row = s.get(Subscription, body["id"])
        assert row is not None
        assert row.token_hash == hash_token(body["token"]) and body["token"] not in row.token_hash
    assert "token" not in client.get(f"/api/v1/subscriptions/{body['id']}", headers=_auth(body["token"])).json()


def test_reposting_an_endpoint_updates_the_one_row(client: TestClient, db: TestDatabase) -> None:
    first = subscription_body()
    a = client.post("/api/v1/subscriptions", json=first).json()
    second = dict(first, places=[{"label": "実家", "lat": MUROTO_CAPE[0], "lon": MUROTO_CAPE[1]}], lang="en")
    r = client.post("/api/v1/subscriptions", json=second)
    assert r.status_code == 201
    b = r.json()
    assert b["id"] == a["id"] and b["lang"] == "en"
    assert [p["municipality_code"] for p in b["places"]] == ["39202"]
    assert _rows(db) == (1, 1)
    # The new token works; the old one no longer does.
    assert client.get(f"/api/v1/subscriptions/{a['id']}", headers=_auth(b["token"])).status_code == 200
    assert client.get(f"/api/v1/subscriptions/{a['id']}", headers=_auth(a["token"])).status_code == 404


def test_wrong_or_missing_token_is_refused(client: TestClient) -> None:
    body = _subscribe(client)
    url = f"/api/v1/subscriptions/{body['id']}"
    other = _subscribe(client)
    for method in ("GET", "DELETE"):
        r = client.request(method, url, headers=_auth(other["token"]))
        assert r.status_code == 404 and r.json()["field"] == "id"
        r = client.request(method, url)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.patch(url, json={"lang": "en"}, headers=_auth("x" * 32)).status_code == 404
    assert (
        client.put(url + "/location", json={"lat": 33.56, "lon": 133.53}, headers=_auth(other["token"])).status_code
        == 404
    )
    assert client.get(url, headers=_auth(body["token"])).json()["lang"] == "ja"


def test_get_shows_everything_stored(client: TestClient) -> None:
    created = _subscribe(
        client,
        categories=["evacuation", "river"],
        quiet_hours={"start": "22:00", "end": "06:00"},
        follow_current_location=True,
    )
    got = client.get(f"/api/v1/subscriptions/{created['id']}", headers=_auth(created["token"])).json()
    assert got == {k: v for k, v in created.items() if k != "token"}
    assert got["keys"]["p256dh"] and got["quiet_hours"] == {"start": "22:00", "end": "06:00"}
    assert got["test_device"] is False and got["categories"] == ["evacuation", "river"]


def test_delete_leaves_nothing_in_any_table(client: TestClient, db: TestDatabase) -> None:
    body = _subscribe(
        client,
        follow_current_location=True,
        places=[
            {"label": "自宅", "lat": KOCHI_PREF_OFFICE[0], "lon": KOCHI_PREF_OFFICE[1]},
            {"label": "実家", "municipality_code": "39202"},
        ],
    )
    url = f"/api/v1/subscriptions/{body['id']}"
    assert (
        client.put(
            url + "/location", json={"lat": MUROTO_CAPE[0], "lon": MUROTO_CAPE[1]}, headers=_auth(body["token"])
        ).status_code
        == 200
    )
    assert _rows(db) == (1, 3)
    assert client.delete(url, headers=_auth(body["token"])).status_code == 204
    assert _rows(db) == (0, 0)
    assert client.get(url, headers=_auth(body["token"])).status_code == 404


def test_current_location_resolves_and_shows_its_expiry(client: TestClient) -> None:
    body = _subscribe(client, follow_current_location=True, places=[])
    url = f"/api/v1/subscriptions/{body['id']}"
    r = client.put(
        url + "/location",
        json={"lat": KOCHI_PREF_OFFICE[0], "lon": KOCHI_PREF_OFFICE[1], "accuracy_m": 30},
        headers=_auth(body["token"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["municipality_code"] == "39201" and r.json()["municipality_name"] == "高知市"
    got = client.get(url, headers=_auth(body["token"])).json()
    assert got["current_location"]["municipality_code"] == "39201" and got["current_location"]["expires_at"]


def test_current_location_needs_consent(client: TestClient) -> None:
    body = _subscribe(client)
    r = client.put(
        f"/api/v1/subscriptions/{body['id']}/location", json={"lat": 33.56, "lon": 133.53}, headers=_auth(body["token"])
    )
    assert r.status_code == 409 and r.json()["field"] == "follow_current_location"


def test_turning_off_follow_forgets_the_current_location(client: TestClient, db: TestDatabase) -> None:
    body = _subscribe(
        client,
        follow_current_location=True,
        places=[],
        current_location={"lat": KOCHI_PREF_OFFICE[0], "lon": KOCHI_PREF_OFFICE[1]},
    )
    assert body["current_location"]["municipality_code"] == "39201"
    r = client.patch(
        f"/api/v1/subscriptions/{body['id']}", json={"follow_current_location": False}, headers=_auth(body["token"])
    )
    assert r.status_code == 200 and r.json()["current_location"] is None
    assert _rows(db) == (1, 0)


def test_patch_changes_only_what_was_sent(client: TestClient) -> None:
    body = _subscribe(client, lang="ja", categories=["river"])
    r = client.patch(
        f"/api/v1/subscriptions/{body['id']}",
        headers=_auth(body["token"]),
        json={"places": [{"label": "職場", "municipality_code": "39204"}], "lang": "en"},
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["lang"] == "en" and got["categories"] == ["river"]
    assert [p["municipality_name"] for p in got["places"]] == ["南国市"]


BAD_INPUTS: list[tuple[str, dict[str, Any], str, int]] = [
    ("http endpoint", {"endpoint": "http://fcm.googleapis.com/fcm/send/x"}, "endpoint", 422),
    ("private host", {"endpoint": "https://10.0.0.5/push"}, "endpoint", 422),
    ("unknown host", {"endpoint": "https://evil.example.com/push"}, "endpoint", 422),
    ("long endpoint", {"endpoint": "https://fcm.googleapis.com/" + "a" * 2100}, "endpoint", 422),
    ("p256dh not base64", {"keys": {"p256dh": "not base64!", "auth": "tBHItJI5svbpez7KI4CCXg"}}, "keys.p256dh", 422),
    ("p256dh short", {"keys": {"p256dh": "BAAA", "auth": "tBHItJI5svbpez7KI4CCXg"}}, "keys.p256dh", 422),
    ("p256dh off curve", {"keys": {"p256dh": "BA" + "A" * 85, "auth": "tBHItJI5svbpez7KI4CCXg"}}, "keys.p256dh", 422),
    ("auth 15 bytes", {"keys": {"auth": "tBHItJI5svbpez7KI4CC"}}, "keys.auth", 422),
    (
        "unknown municipality",
        {"places": [{"label": "x", "municipality_code": "13101"}]},
        "places[0].municipality_code",
        422,
    ),
    ("six places", {"places": [{"label": str(i), "municipality_code": "39201"} for i in range(6)]}, "places", 422),
    ("unknown category", {"categories": ["sports"]}, "categories[0]", 422),
    ("unknown language", {"lang": "klingon"}, "lang", 422),
    ("outside the area", {"places": [{"label": "東京", "lat": 35.68, "lon": 139.76}]}, "places[0].lat", 422),
    ("lat without lon", {"places": [{"label": "x", "lat": 33.5}]}, "places[0].lon", 422),
    (
        "point and code",
        {"places": [{"label": "x", "lat": 33.56, "lon": 133.53, "municipality_code": "39201"}]},
        "places[0].municipality_code",
        422,
    ),
    ("empty label", {"places": [{"label": "  ", "municipality_code": "39201"}]}, "places[0].label", 422),
    ("latitude 91", {"places": [{"label": "x", "lat": 91, "lon": 133.5}]}, "places[0].lat", 422),
    ("quiet hours 25:00", {"quiet_hours": {"start": "25:00", "end": "06:00"}}, "quiet_hours.start", 422),
    ("quiet hours equal", {"quiet_hours": {"start": "06:00", "end": "06:00"}}, "quiet_hours.end", 422),
    ("location without consent", {"current_location": {"lat": 33.56, "lon": 133.53}}, "current_location", 422),
    ("unknown field", {"name": "山田太郎"}, "name", 422),
]


@pytest.mark.parametrize(("overrides", "field", "status"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    client: TestClient, db: TestDatabase, overrides: dict[str, Any], field: str, status: int
) -> None:
    body = subscription_body()
    for key, value in overrides.items():
        body[key] = dict(body[key], **value) if key == "keys" else value
    r = client.post("/api/v1/subscriptions", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field, r.json()
    assert _rows(db) == (0, 0)


def test_a_bad_second_place_leaves_an_existing_subscription_untouched(client: TestClient, db: TestDatabase) -> None:
    body = subscription_body()
    created = client.post("/api/v1/subscriptions", json=body).json()
    bad = dict(body, lang="en", places=[body["places"][0], {"label": "x", "municipality_code": "99999"}])
    assert client.post("/api/v1/subscriptions", json=bad).status_code == 422
    got = client.get(f"/api/v1/subscriptions/{created['id']}", headers=_auth(created["token"])).json()
    assert got["lang"] == "ja" and [p["municipality_code"] for p in got["places"]] == ["39201"]


def test_oversized_body_is_413(client: TestClient, db: TestDatabase) -> None:
    body = subscription_body(places=[{"label": "x" * 70_000, "municipality_code": "39201"}])
    r = client.post("/api/v1/subscriptions", json=body)
    assert r.status_code == 413 and r.json()["status"] == 413
    assert _rows(db) == (0, 0)


def test_loopback_push_service_allowed_when_listed(db: TestDatabase, tmp_path: Any) -> None:
    from pushsvc.main import create_app

    settings = db.settings(vapid_key_file=tmp_path / "k.pem", push_allowed_hosts="127.0.0.1")
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/v1/subscriptions", json=subscription_body(endpoint="http://127.0.0.1:9999/push/1"))
        assert r.status_code == 201, r.text
        r = c.post("/api/v1/subscriptions", json=subscription_body(endpoint="http://127.0.0.2:9999/push/1"))
        assert r.status_code == 422


def test_choices_list_kochi_municipalities(client: TestClient) -> None:
    body = client.get("/api/v1/subscriptions/choices").json()
    assert len(body["municipalities"]) == 34 and body["max_places"] == 5
    assert {"code": "39201", "name": "高知市", "district": None} in body["municipalities"]
    assert body["current_location_ttl_hours"] == 24
