"""Endpoints as one parser sees them at sign-up and at send; one 404; 413 for any oversized body (issue 14)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pushsvc.subscriptions.models import Subscription
from pushsvc.webpush.sender import Outcome, PushTarget
from pushsvc.webpush.vapid import VapidIdentity
from tests.conftest import TestDatabase
from tests.subscriptions.conftest import browser_keys, subscription_body
from tests.webpush.conftest import make_sender

FCM = "https://fcm.googleapis.com/fcm/send/"


def _count(db: TestDatabase) -> int:
    with db.sessionmaker() as s:
        return int(s.execute(select(func.count()).select_from(Subscription)).scalar_one())


@pytest.mark.parametrize(
    "endpoint",
    [
        FCM + "abc def",
        FCM + "abc\r\nX-Injected: 1",
        FCM + "abc\tdef",
        FCM + "abc\x00",
        FCM + "トークン",
        FCM + "abc\u00e9",
        " " + FCM + "abc",
        FCM + "abc ",
        "https://fcm.googleapis.com:22/fcm/send/abc",
        "https://fcm.googleapis.com:8443/fcm/send/abc",
        "https://fcm.googleapis.com:0/fcm/send/abc",
        "http://fcm.googleapis.com/fcm/send/abc",
        "https://user:pw@fcm.googleapis.com/fcm/send/abc",
        "https://fcm.googleapis.com.evil.example/fcm/send/abc",
    ],
)
def test_endpoints_the_sender_could_not_use_are_refused_at_sign_up(
    client: TestClient, db: TestDatabase, endpoint: str
) -> None:
    r = client.post("/api/v1/subscriptions", json=subscription_body(endpoint=endpoint))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "endpoint" and r.headers["content-type"].startswith("application/problem+json")
    assert _count(db) == 0


def test_one_push_subscription_written_six_ways_is_one_row(client: TestClient, db: TestDatabase) -> None:
    token = "dGVzdA:APA91bHrandom-token_1234"
    ways = [
        FCM + token,
        "https://FCM.GoogleAPIs.com/fcm/send/" + token,
        "https://fcm.googleapis.com./fcm/send/" + token,
        "https://fcm.googleapis.com:443/fcm/send/" + token,
        FCM + token + "#frag",
        "HTTPS://fcm.googleapis.com.:443/fcm/send/" + token + "#x",
    ]
    ids = set()
    for way in ways:
        r = client.post("/api/v1/subscriptions", json=subscription_body(endpoint=way, keys=browser_keys()))
        assert r.status_code == 201, (way, r.text)
        assert r.json()["endpoint"] == FCM + token
        ids.add(r.json()["id"])
    assert len(ids) == 1 and _count(db) == 1


def test_a_renewed_endpoint_is_stored_canonical_and_cannot_take_another_rows(client: TestClient) -> None:
    a = client.post("/api/v1/subscriptions", json=subscription_body()).json()
    b = client.post("/api/v1/subscriptions", json=subscription_body()).json()
    r = client.patch(
        f"/api/v1/subscriptions/{a['id']}",
        headers={"Authorization": f"Bearer {a['token']}"},
        json={
            "endpoint": b["endpoint"].replace("fcm.googleapis.com", "FCM.googleapis.com:443"),
            "keys": browser_keys(),
        },
    )
    assert r.status_code == 409, r.text
    fresh = FCM + "renewed"
    r = client.patch(
        f"/api/v1/subscriptions/{a['id']}",
        headers={"Authorization": f"Bearer {a['token']}"},
        json={"endpoint": "https://fcm.googleapis.com.:443/fcm/send/renewed#x", "keys": browser_keys()},
    )
    assert r.status_code == 200 and r.json()["endpoint"] == fresh


def test_the_sender_refuses_what_sign_up_refuses_instead_of_retrying_it() -> None:
    """A row stored before sign-up checked this well: refused at once, never retried until it expires."""
    keys = browser_keys()
    identity = VapidIdentity.generate()

    async def go(endpoint: str) -> Outcome:
        async with make_sender(identity) as sender:
            return (await sender.send(PushTarget(endpoint, keys["p256dh"], keys["auth"]), b"hi", ttl=60)).outcome

    for endpoint in ("http://127.0.0.1:9/push/a b", "http://127.0.0.1:9/push/a\r\nb", "http://127.0.0.1:9/push/é"):
        assert asyncio.run(go(endpoint)) is Outcome.REFUSED, endpoint


def test_wrong_token_and_no_such_subscription_are_the_same_404(client: TestClient) -> None:
    mine = client.post("/api/v1/subscriptions", json=subscription_body()).json()
    other = client.post("/api/v1/subscriptions", json=subscription_body()).json()
    missing = mine["id"] + other["id"] + 1000

    def answer(sid: int, method: str, **kw: Any) -> tuple[int, str, Any]:
        r = client.request(
            method, f"/api/v1/subscriptions/{sid}", headers={"Authorization": f"Bearer {other['token']}"}, **kw
        )
        body = r.json() if r.content else {}
        return r.status_code, body.get("title"), body.get("field")

    for method, kw in (("GET", {}), ("DELETE", {}), ("PATCH", {"json": {"lang": "en"}})):
        assert answer(mine["id"], method, **kw) == answer(missing, method, **kw) == (404, "Not found", "id")
    r = client.put(
        f"/api/v1/subscriptions/{mine['id']}/location",
        json={"lat": 33.56, "lon": 133.53},
        headers={"Authorization": f"Bearer {other['token']}"},
    )
    assert r.status_code == 404
    assert (
        client.get(
            f"/api/v1/subscriptions/{mine['id']}", headers={"Authorization": f"Bearer {mine['token']}"}
        ).status_code
        == 200
    )


def test_an_oversized_chunked_body_is_413_like_a_declared_one(client: TestClient, db: TestDatabase) -> None:
    limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]

    def chunks() -> Iterator[bytes]:
        yield b'{"endpoint": "' + FCM.encode() + b'x", "padding": "'
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000
        yield b'"}'

    for content in (chunks(), b"x" * (limit + 1)):
        r = client.post("/api/v1/subscriptions", content=content, headers={"Content-Type": "application/json"})
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith("application/problem+json") and r.json()["status"] == 413

    def small() -> Iterator[bytes]:  # a chunked body within the limit still works
        text = json.dumps(subscription_body()).encode()
        yield text[:10]
        yield text[10:]

    assert (
        client.post("/api/v1/subscriptions", content=small(), headers={"Content-Type": "application/json"}).status_code
        == 201
    )
    assert _count(db) == 1
