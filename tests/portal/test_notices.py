"""Operators' notices: important ones stay in every affected resident's portal until acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.portal.conftest import Harness, admin, bearer


def publish(harness: Harness, **fields: Any) -> int:
    body: dict[str, Any] = {"title": {"ja": "重要なお知らせ", "en": "Important"}, "body": {"ja": "本文"},
                            "important": True, "municipality_codes": ["39201"],
                            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    body.update(fields)
    r = harness.client.post("/api/v1/notices", json=body, headers=admin())
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def notices(harness: Harness, rid: int, token: str) -> list[int]:
    r = harness.client.get(f"/api/v1/portal/me?subscription={rid}", headers=bearer(token))
    assert r.status_code == 200, r.text
    return [n["id"] for n in r.json()["notices"]]


def test_important_notice_stays_until_acknowledged(harness: Harness) -> None:
    resident = harness.subscribe("39201", lang="en")
    elsewhere = harness.subscribe("39210")
    nid = publish(harness)
    everyone = publish(harness, important=False, municipality_codes=[], title={"ja": "県からのお知らせ"})

    for _ in range(2):
        assert notices(harness, resident.id, resident.token) == [nid, everyone]
    assert notices(harness, elsewhere.id, elsewhere.token) == [everyone]
    me = harness.client.get(f"/api/v1/portal/me?subscription={resident.id}", headers=bearer(resident.token)).json()
    assert me["notices"][0]["title"] == "Important" and me["notices"][1]["title"] == "県からのお知らせ"

    url = f"/api/v1/portal/notices/{nid}/ack?subscription={resident.id}"
    assert harness.client.post(url).status_code == 401
    assert harness.client.post(url, headers=bearer(elsewhere.token)).status_code == 403
    for _ in range(2):  # acknowledging twice is fine
        assert harness.client.post(url, headers=bearer(resident.token)).status_code == 204
    assert notices(harness, resident.id, resident.token) == [everyone]
    r = harness.client.post(f"/api/v1/portal/notices/{nid}/ack?subscription={elsewhere.id}",
                            headers=bearer(elsewhere.token))
    assert r.status_code == 404  # not a notice for 四万十市


def test_withdrawn_and_expired_notices_leave(harness: Harness) -> None:
    resident = harness.subscribe("39201")
    nid = publish(harness)
    assert harness.client.post(f"/api/v1/notices/{nid}/withdraw", headers=admin()).status_code == 200
    assert notices(harness, resident.id, resident.token) == []
    assert harness.client.get("/api/v1/notices").json() == []


def test_publishing_validates_and_needs_the_admin_token(harness: Harness) -> None:
    good: dict[str, Any] = {"title": {"ja": "x"}, "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    assert harness.client.post("/api/v1/notices", json=good).status_code == 401
    changes: list[tuple[dict[str, Any], str]] = [
        ({"title": {"en": "x"}}, "title"),
        ({"expires_at": "2020-01-01T00:00:00+09:00"}, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00"}, "expires_at"),
        ({"municipality_codes": ["99999"]}, "municipality_codes"),
        ({"colour": "red"}, "colour"),
    ]
    for change, field in changes:
        r = harness.client.post("/api/v1/notices", json={**good, **change}, headers=admin())
        assert r.status_code == 422 and r.json()["field"] == field, (change, r.text)


def test_a_pushed_notice_is_also_a_notification(harness: Harness) -> None:
    resident = harness.subscribe("39201")
    r = harness.client.post("/api/v1/notices", headers=admin(), json={
        "title": {"ja": "断水のお知らせ"}, "municipality_codes": ["39201"], "push": True,
        "expires_at": (datetime.now(UTC) + timedelta(hours=6)).isoformat()})
    assert r.status_code == 201
    nid = r.json()["notification_id"]
    assert harness.status(nid)["targeted"] == 1
    alerts = harness.client.get(f"/api/v1/portal/me?subscription={resident.id}",
                                headers=bearer(resident.token)).json()["places"][0]["alerts"]
    assert [a["id"] for a in alerts] == [nid]
    assert harness.client.get("/api/v1/notices?municipality=39201").json()[0]["title"] == "断水のお知らせ"
