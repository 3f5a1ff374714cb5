"""A browser renews its push subscription (pushsubscriptionchange): PATCH moves the same resident to it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TestDatabase
from tests.fixtures.delivery import KOCHI_KENCHO, Harness, harness
from tests.fixtures.devpush import devpush, devpush_server
from tests.subscriptions.conftest import browser_keys, new_endpoint
from tests.subscriptions.test_subscriptions_api import BAD_INPUTS, _auth, _rows, _subscribe

__all__ = ["devpush", "devpush_server", "harness"]


def _patch(client: TestClient, created: dict[str, Any], body: dict[str, Any], token: str | None = None) -> Any:
    return client.patch(f"/api/v1/subscriptions/{created['id']}", json=body, headers=_auth(token or created["token"]))


def _get(client: TestClient, created: dict[str, Any]) -> dict[str, Any]:
    r = client.get(f"/api/v1/subscriptions/{created['id']}", headers=_auth(created["token"]))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_new_endpoint_and_keys_keep_the_same_subscription_token_and_places(
    client: TestClient, db: TestDatabase
) -> None:
    created = _subscribe(client, lang="en", categories=["river"])
    renewed = {"endpoint": new_endpoint(), "keys": browser_keys()}
    r = _patch(client, created, renewed)
    assert r.status_code == 200, r.text
    got = _get(client, created)  # the same token still works
    assert (got["id"], got["endpoint"], got["keys"]) == (created["id"], renewed["endpoint"], renewed["keys"])
    assert (got["places"], got["lang"], got["categories"]) == (created["places"], "en", ["river"])
    assert got["updated_at"] > created["updated_at"]
    assert _rows(db) == (1, 1)
    # The old endpoint is free again: posting it makes a new subscription, it does not find this one.
    again = _subscribe(client, endpoint=created["endpoint"], keys=created["keys"])
    assert again["id"] != created["id"] and _rows(db) == (2, 2)


def test_the_same_endpoint_again_only_updates_its_keys(client: TestClient) -> None:
    created = _subscribe(client)
    keys = browser_keys()
    assert _patch(client, created, {"endpoint": created["endpoint"], "keys": keys}).status_code == 200
    assert _get(client, created)["keys"] == keys


def test_an_endpoint_another_subscription_holds_is_refused_and_nothing_moves(
    client: TestClient, db: TestDatabase
) -> None:
    mine, theirs = _subscribe(client), _subscribe(client)
    r = _patch(client, mine, {"endpoint": theirs["endpoint"], "keys": browser_keys()})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "endpoint"
    assert _get(client, mine)["endpoint"] == mine["endpoint"]
    assert _get(client, theirs)["keys"] == theirs["keys"]
    assert _rows(db) == (2, 2)


PUSH_INPUTS = [b for b in BAD_INPUTS if set(b[1]) <= {"endpoint", "keys"}]


@pytest.mark.parametrize(
    ("overrides", "field", "status"), [b[1:] for b in PUSH_INPUTS], ids=[b[0] for b in PUSH_INPUTS]
)
def test_a_bad_endpoint_or_keys_is_refused_exactly_as_at_sign_up(
    client: TestClient, overrides: dict[str, Any], field: str, status: int
) -> None:
    created = _subscribe(client)
    body = {"endpoint": new_endpoint(), "keys": browser_keys(), "lang": "en"}
    for key, value in overrides.items():
        body[key] = dict(body[key], **value) if key == "keys" else value
    r = _patch(client, created, body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field, r.json()
    got = _get(client, created)
    assert (got["endpoint"], got["keys"], got["lang"]) == (created["endpoint"], created["keys"], "ja")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"endpoint": "NEW"}, "keys"),
        ({"keys": "NEW"}, "endpoint"),
        ({"endpoint": None, "keys": "NEW"}, "endpoint"),
        ({"endpoint": "NEW", "keys": None}, "keys"),
    ],
)
def test_endpoint_and_keys_come_together(client: TestClient, body: dict[str, Any], field: str) -> None:
    created = _subscribe(client)
    fresh = {"endpoint": new_endpoint(), "keys": browser_keys()}
    r = _patch(client, created, {k: fresh[k] if v == "NEW" else v for k, v in body.items()})
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert _get(client, created)["endpoint"] == created["endpoint"]


def test_only_the_token_holder_may_move_a_subscription(client: TestClient) -> None:
    mine, other = _subscribe(client), _subscribe(client)
    r = _patch(client, mine, {"endpoint": new_endpoint(), "keys": browser_keys()}, token=other["token"])
    assert r.status_code == 404 and r.json()["field"] == "id"
    assert _get(client, mine)["endpoint"] == mine["endpoint"]


def test_alerts_go_to_the_renewed_push_subscription(harness: Harness) -> None:
    resident = harness.subscribe(KOCHI_KENCHO)
    renewed = harness.push.subscribe(vapid_key=harness.app.state.vapid.public_key_b64url)
    r = harness.client.patch(
        f"/api/v1/subscriptions/{resident.id}",
        headers=_auth(resident.token),
        json={
            "endpoint": harness.push.endpoint(renewed),
            "keys": {"p256dh": renewed.keys.p256dh, "auth": renewed.keys.auth},
        },
    )
    assert r.status_code == 200, r.text
    nid = harness.notify(target={"municipality_codes": ["39201"]}, title={"ja": "避難所開設"})
    harness.run_worker(nid)
    assert [m.json()["title"] for m in harness.push.received(renewed)] == ["避難所開設"]
    assert harness.push.received(resident.device) == []
