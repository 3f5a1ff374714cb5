"""Operators' notices: important ones stay in every affected resident's portal until acknowledged; municipal
operators publish only for their own municipalities, and every publication is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pushsvc.operators import accounts
from tests.portal.conftest import Harness, Ops, admin, bearer


def notice(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": {"ja": "重要なお知らせ", "en": "Important"},
        "body": {"ja": "本文"},
        "important": True,
        "municipality_codes": ["39201"],
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    return {**body, **fields}


def publish(ops: Ops, who: str = "pref", **fields: Any) -> int:
    r = ops.call("POST", "/api/v1/notices", who, json=notice(**fields))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def notices(harness: Harness, rid: int, token: str) -> list[int]:
    r = harness.client.get(f"/api/v1/portal/me?subscription={rid}", headers=bearer(token))
    assert r.status_code == 200, r.text
    return [n["id"] for n in r.json()["notices"]]


def test_important_notice_stays_until_acknowledged(harness: Harness, ops: Ops) -> None:
    resident = harness.subscribe("39201", lang="en")
    elsewhere = harness.subscribe("39210")
    nid = publish(ops, "kochi-city")
    everyone = publish(ops, important=False, municipality_codes=[], title={"ja": "県からのお知らせ"})

    for _ in range(2):
        assert notices(harness, resident.id, resident.token) == [nid, everyone]
    assert notices(harness, elsewhere.id, elsewhere.token) == [everyone]
    me = harness.client.get(f"/api/v1/portal/me?subscription={resident.id}", headers=bearer(resident.token)).json()
    assert me["notices"][0]["title"] == "Important" and me["notices"][1]["title"] == "県からのお知らせ"

    url = f"/api/v1/portal/notices/{nid}/ack?subscription={resident.id}"
    assert harness.client.post(url).status_code == 401
    assert harness.client.post(url, headers=bearer(elsewhere.token)).status_code == 404  # one 404 for not yours
    for _ in range(2):  # acknowledging twice is fine
        assert harness.client.post(url, headers=bearer(resident.token)).status_code == 204
    assert notices(harness, resident.id, resident.token) == [everyone]
    r = harness.client.post(
        f"/api/v1/portal/notices/{nid}/ack?subscription={elsewhere.id}", headers=bearer(elsewhere.token)
    )
    assert r.status_code == 404  # not a notice for 四万十市


def test_withdrawn_and_expired_notices_leave(harness: Harness, ops: Ops) -> None:
    resident = harness.subscribe("39201")
    nid = publish(ops)
    assert ops.call("POST", f"/api/v1/notices/{nid}/withdraw", "muroto-city").status_code == 403
    assert ops.call("POST", f"/api/v1/notices/{nid}/withdraw", "kochi-city").status_code == 200
    assert notices(harness, resident.id, resident.token) == []
    assert harness.client.get("/api/v1/notices").json() == []


def test_municipal_operators_publish_only_for_their_municipalities(harness: Harness, ops: Ops) -> None:
    own = publish(ops, "kochi-city")
    for codes in (["39202"], ["39201", "39202"], []):  # another town, partly another, the whole prefecture
        r = ops.call("POST", "/api/v1/notices", "kochi-city", json=notice(municipality_codes=codes))
        assert r.status_code == 403 and r.json()["field"] == "municipality_codes", (codes, r.text)
    wide = publish(ops, "pref", municipality_codes=[])
    assert ops.call("POST", f"/api/v1/notices/{wide}/withdraw", "kochi-city").status_code == 403
    assert ops.call("POST", "/api/v1/notices/99999/withdraw", "pref").status_code == 404
    assert harness.client.post("/api/v1/notices", json=notice(), headers=admin()).status_code == 401  # not an operator
    with harness.db.sessionmaker() as s:
        entries = accounts.list_audit(s, action="notice.publish")
    assert [(e.operator_name, e.detail["notice_id"], e.detail["municipalities"]) for e in entries] == [
        ("pref", wide, []),
        ("kochi-city", own, ["39201"]),
    ]
    r = ops.call("POST", f"/api/v1/notices/{own}/withdraw", "kochi-city")
    assert r.status_code == 200 and r.json()["published_by"] == "kochi-city"
    with harness.db.sessionmaker() as s:
        [withdrawn] = accounts.list_audit(s, action="notice.withdraw")
    assert (withdrawn.operator_name, withdrawn.detail["notice_id"]) == ("kochi-city", own)


def test_publishing_validates_and_needs_an_operator_token(harness: Harness, ops: Ops) -> None:
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
        r = ops.call("POST", "/api/v1/notices", "pref", json={**good, **change})
        assert r.status_code == 422 and r.json()["field"] == field, (change, r.text)


def test_a_pushed_notice_is_also_a_notification(harness: Harness, ops: Ops) -> None:
    resident = harness.subscribe("39201")
    r = ops.call(
        "POST",
        "/api/v1/notices",
        "kochi-city",
        json={
            "title": {"ja": "断水のお知らせ"},
            "municipality_codes": ["39201"],
            "push": True,
            "expires_at": (datetime.now(UTC) + timedelta(hours=6)).isoformat(),
        },
    )
    assert r.status_code == 201
    nid = r.json()["notification_id"]
    assert harness.status(nid)["targeted"] == 1
    alerts = harness.client.get(f"/api/v1/portal/me?subscription={resident.id}", headers=bearer(resident.token)).json()[
        "places"
    ][0]["alerts"]
    assert [a["id"] for a in alerts] == [nid]
    assert harness.client.get("/api/v1/notices?municipality=39201").json()[0]["title"] == "断水のお知らせ"


def test_a_withdrawn_pushed_notice_that_reached_nobody_leaves_the_alert_feeds(harness: Harness, ops: Ops) -> None:
    r = ops.call("POST", "/api/v1/notices", "pref", json=notice(municipality_codes=["39202"], push=True))
    assert r.status_code == 201, r.text
    nid, alert = r.json()["id"], r.json()["notification_id"]
    assert harness.status(alert)["status"] == "done"  # no resident in 室戸市: finished at once
    assert [a["id"] for a in harness.client.get("/api/v1/alerts?municipality=39202").json()["alerts"]] == [alert]
    assert ops.call("POST", f"/api/v1/notices/{nid}/withdraw", "pref").status_code == 200
    assert harness.status(alert)["status"] == "cancelled"
    assert harness.client.get("/api/v1/alerts?municipality=39202").json()["alerts"] == []
