"""A notification reaches every matching phone once, through a push service that checks and decrypts."""

from __future__ import annotations

import json
import time

from pushsvc.dev.devpush.state import Fault
from tests.fixtures.delivery import ADMIN, KOCHI_KENCHO, MUROTO, SHIMANTO, Harness

KATSURAHAMA_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[133.560, 33.485], [133.590, 33.485], [133.590, 33.510], [133.560, 33.510], [133.560, 33.485]]],
}


def test_notification_to_kochi_city_is_decrypted_by_exactly_the_four_right_devices(harness: Harness) -> None:
    kochi = [harness.subscribe(KOCHI_KENCHO) for _ in range(2)] + [harness.subscribe("39201", lang="en")]
    muroto = [harness.subscribe(MUROTO) for _ in range(2)]
    both = harness.subscribe(KOCHI_KENCHO, MUROTO)
    nid = harness.notify(
        title={"ja": "避難所開設", "en": "Shelter open"},
        body={"ja": "高知市役所が開設"},
        target={"municipality_codes": ["39201"]},
        severity="warning",
    )
    harness.run_worker(nid)

    for r in [*kochi[:2], both]:
        [msg] = harness.push.received(r.device)
        payload = msg.json()
        assert payload["title"] == "避難所開設" and payload["body"] == "高知市役所が開設"
        assert payload["id"] == str(nid) and payload["url"].endswith(f"/alerts/{nid}")
        assert msg.urgency == "high" and msg.ttl > 0 and msg.topic
    [english] = harness.push.received(kochi[2].device)
    assert english.json()["title"] == "Shelter open" and english.json()["body"] == "高知市役所が開設"  # ja fallback
    assert all(harness.push.received(r.device) == [] for r in muroto)
    status = harness.status(nid)
    assert (status["status"], status["targeted"], status["sent"], status["failed"]) == ("done", 4, 4, 0)
    assert status["first_sent_at"] and status["half_sent_at"] and status["last_sent_at"]


def test_polygon_around_katsurahama_reaches_only_subscribers_inside(harness: Harness) -> None:
    inside = harness.subscribe((33.497, 133.575))  # 桂浜
    elsewhere = harness.subscribe(KOCHI_KENCHO)  # same city, outside the square
    nid = harness.notify(target={"area": KATSURAHAMA_SQUARE})
    harness.run_worker(nid)
    assert len(harness.push.received(inside.device)) == 1
    assert harness.push.received(elsewhere.device) == []


def test_category_opt_out_and_test_devices_are_respected(harness: Harness) -> None:
    river_only = harness.subscribe(KOCHI_KENCHO, categories=["river"])
    tester = harness.subscribe(KOCHI_KENCHO, test_device=True)
    everyone = harness.subscribe(KOCHI_KENCHO)
    drill = harness.notify(target={"municipality_codes": ["39201"]}, test=True)
    harness.run_worker(drill)
    assert [len(harness.push.received(r.device)) for r in (river_only, tester, everyone)] == [0, 1, 0]
    real = harness.notify(target={"municipality_codes": ["39201"]})
    harness.run_worker(real)
    assert [len(harness.push.received(r.device)) for r in (river_only, tester, everyone)] == [0, 2, 1]


def test_gone_subscription_is_deleted_and_counted(harness: Harness) -> None:
    dead, alive = harness.subscribe(KOCHI_KENCHO), harness.subscribe(KOCHI_KENCHO)
    harness.push.fault(dead.device, Fault(status=410))
    nid = harness.notify(target={"municipality_codes": ["39201"]})
    harness.run_worker(nid)
    status = harness.status(nid)
    assert (status["sent"], status["gone"]) == (1, 1)
    r = harness.client.get(f"/api/v1/subscriptions/{dead.id}", headers={"Authorization": f"Bearer {dead.token}"})
    assert r.status_code in (401, 404)
    ok = harness.client.get(f"/api/v1/subscriptions/{alive.id}", headers={"Authorization": f"Bearer {alive.token}"})
    assert ok.status_code == 200


def test_429_and_500_are_retried_until_they_succeed_and_never_delete(harness: Harness) -> None:
    limited, broken = harness.subscribe(KOCHI_KENCHO), harness.subscribe(KOCHI_KENCHO)
    harness.push.fault(limited.device, Fault(status=429, retry_after="1", remaining=1))
    harness.push.fault(broken.device, Fault(status=500, remaining=2))
    nid = harness.notify(target={"municipality_codes": ["39201"]})
    harness.run_worker(nid)
    assert len(harness.push.received(limited.device)) == 1
    assert len(harness.push.received(broken.device)) == 1
    status = harness.status(nid)
    assert (status["status"], status["sent"], status["gone"], status["retrying"]) == ("done", 2, 0, 0)
    with harness.db.sessionmaker() as s:
        from pushsvc.delivery.service import failures_of

        codes = sorted(f.status_code for f in failures_of(s, nid))
    assert codes == [429, 500, 500]


def test_a_stalled_endpoint_does_not_hold_up_the_others(harness: Harness) -> None:
    stalled = harness.subscribe(KOCHI_KENCHO)
    others = [harness.subscribe(KOCHI_KENCHO) for _ in range(5)]
    harness.push.fault(stalled.device, Fault(stall_s=5.0, remaining=1))
    start = time.time()  # the push service stamps arrivals with wall-clock time
    nid = harness.notify(target={"municipality_codes": ["39201"]})
    harness.run_worker(nid)
    arrivals = [harness.push.received(r.device)[0].received_at for r in others]
    assert max(arrivals) - start < 3.0  # well before the 5 s stall ends; the sender times out at 1 s
    assert len(harness.push.received(stalled.device)) == 1  # and the stalled one is retried and reached
    assert harness.status(nid)["sent"] == 6


def test_ttl_running_out_while_retrying_expires_the_message(harness: Harness) -> None:
    r = harness.subscribe(KOCHI_KENCHO)
    harness.push.fault(r.device, Fault(status=503))
    nid = harness.notify(target={"municipality_codes": ["39201"]}, ttl_seconds=1)
    harness.run_worker(nid)
    status = harness.status(nid)
    assert (status["status"], status["sent"], status["expired"]) == ("expired", 0, 1)
    assert (
        harness.client.get(f"/api/v1/subscriptions/{r.id}", headers={"Authorization": f"Bearer {r.token}"}).status_code
        == 200
    )


def test_quiet_hours_send_info_at_once_marked_silent_and_warnings_ring(harness: Harness) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    quiet = {"start": (now - timedelta(hours=1)).strftime("%H:%M"), "end": (now + timedelta(hours=1)).strftime("%H:%M")}
    sleeper = harness.subscribe(KOCHI_KENCHO, quiet_hours=quiet)
    awake = harness.subscribe(KOCHI_KENCHO)
    info = harness.notify(target={"municipality_codes": ["39201"]}, severity="info")
    harness.run_worker(info)
    [quiet_msg] = harness.push.received(sleeper.device)
    assert quiet_msg.json()["silent"] is True  # delivered now, without a sound; never held until morning
    assert "silent" not in harness.push.received(awake.device)[0].json()
    assert harness.status(info)["status"] == "done"
    warning = harness.notify(target={"municipality_codes": ["39201"]}, severity="warning")
    harness.run_worker(warning)
    rings = harness.push.received(sleeper.device)[1].json()
    assert rings["severity"] == "warning" and "silent" not in rings


def test_cancel_stops_unsent_batches(harness: Harness) -> None:
    r = harness.subscribe(KOCHI_KENCHO)
    nid = harness.notify(target={"municipality_codes": ["39201"]})
    resp = harness.client.post(f"/api/v1/notifications/{nid}/cancel", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    harness.run_worker(None)
    assert harness.push.received(r.device) == []


def test_payload_is_the_documented_json(harness: Harness) -> None:
    r = harness.subscribe(SHIMANTO)
    nid = harness.notify(target={"municipality_codes": ["39210"]}, body={"ja": "長い本文" * 2000})
    harness.run_worker(nid)
    [msg] = harness.push.received(r.device)
    payload = json.loads(msg.payload)
    assert set(payload) == {
        "id",
        "title",
        "body",
        "category",
        "severity",
        "url",
        "lang",
        "sent_at",
        "web_push",
        "notification",
        "mutable",
    }  # also a Declarative Web Push message
    assert payload["notification"]["navigate"] == payload["url"] and payload["notification"]["body"] == payload["body"]
    assert len(msg.payload) <= 3000 and payload["url"].endswith(f"/alerts/{nid}") and payload["body"].endswith("…")


def test_notifications_api_is_closed_without_the_token(harness: Harness) -> None:
    r = harness.client.post("/api/v1/notifications", json={})
    assert r.status_code == 401 and r.json()["field"] == "Authorization"
    body = {"title": {"ja": "x"}, "category": "area_info", "target": {"municipality_codes": ["99999"]}}
    bad = harness.client.post("/api/v1/notifications", headers={"Authorization": f"Bearer {ADMIN}"}, json=body)
    assert bad.status_code == 422 and bad.json()["field"] == "target.municipality_codes"
