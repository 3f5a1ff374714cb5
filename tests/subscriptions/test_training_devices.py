"""Training devices: only an operator's one-time link makes a phone one; the public API cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from pushsvc.db import session_scope
from pushsvc.operators import accounts
from pushsvc.subscriptions.models import TrainingEnrolment
from tests.fixtures.delivery import KOCHI_KENCHO, Harness, harness
from tests.fixtures.devpush import devpush, devpush_server

__all__ = ["devpush", "devpush_server", "harness"]


def _operator(h: Harness) -> dict[str, str]:
    with session_scope(h.db.sessionmaker) as s:
        _, token = accounts.create_operator(s, name="県防災-訓練係", role="prefecture")
    return {"Authorization": f"Bearer {token}"}


def _redeem(h: Harness, resident: Any, code: str) -> Any:
    return h.client.post(
        f"/api/v1/subscriptions/{resident.id}/training-enrolment",
        json={"code": code},
        headers={"Authorization": f"Bearer {resident.token}"},
    )


def test_the_public_api_cannot_set_the_test_device_flag(harness: Harness) -> None:
    r = harness.subscribe(KOCHI_KENCHO)
    device = harness.push.subscribe()
    body = {
        "endpoint": harness.push.endpoint(device),
        "keys": {"p256dh": device.keys.p256dh, "auth": device.keys.auth},
        "places": [{"label": "自宅", "municipality_code": "39201"}],
        "test_device": True,
    }
    created = harness.client.post("/api/v1/subscriptions", json=body)
    assert created.status_code == 422 and created.json()["field"] == "test_device"
    patched = harness.client.patch(
        f"/api/v1/subscriptions/{r.id}", json={"test_device": True}, headers={"Authorization": f"Bearer {r.token}"}
    )
    assert patched.status_code == 422 and patched.json()["field"] == "test_device"


def test_an_operator_link_enrols_one_phone_once_and_training_messages_reach_it(harness: Harness) -> None:
    auth = _operator(harness)
    phone, other, resident = (harness.subscribe(KOCHI_KENCHO) for _ in range(3))
    issued = harness.client.post("/api/v1/training-devices/enrolments", json={"label": "訓練用1"}, headers=auth)
    assert issued.status_code == 201, issued.text
    link = issued.json()["url"]
    assert link.startswith(harness.settings.public_base_url + "/enrol#code=") and "<svg" in issued.json()["qr_svg"]
    code = link.split("#code=")[1]
    assert harness.client.post("/api/v1/training-devices/enrolments", json={}).status_code == 401  # operators only
    assert _redeem(harness, phone, code).json()["test_device"] is True
    again = _redeem(harness, other, code)
    assert again.status_code == 410 and again.json()["field"] == "code"  # one phone per link
    assert _redeem(harness, other, "x" * 43).status_code == 404
    listed = harness.client.get("/api/v1/training-devices", headers=auth).json()
    assert [(d["subscription_id"], d["label"], d["enrolled_by"]) for d in listed] == [
        (phone.id, "訓練用1", "県防災-訓練係")
    ]
    nid = harness.notify(target={"municipality_codes": ["39201"]}, test=True)
    harness.run_worker(nid)
    assert len(harness.push.received(phone.device)) == 1
    assert harness.push.received(other.device) == [] and harness.push.received(resident.device) == []
    # Removed from the console: training messages stop, the phone stays subscribed.
    assert harness.client.delete(f"/api/v1/training-devices/{phone.id}", headers=auth).status_code == 204
    assert harness.client.get("/api/v1/training-devices", headers=auth).json() == []
    with harness.db.sessionmaker() as s:
        actions = [e.action for e in accounts.list_audit(s)]
    assert "training.enrolment_issued" in actions and "training.device_removed" in actions


def test_an_expired_link_is_refused(harness: Harness) -> None:
    auth = _operator(harness)
    phone = harness.subscribe(KOCHI_KENCHO)
    code = harness.client.post("/api/v1/training-devices/enrolments", json={}, headers=auth).json()["url"].split("=")[1]
    with session_scope(harness.db.sessionmaker) as s:
        s.execute(update(TrainingEnrolment).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = _redeem(harness, phone, code)
    assert r.status_code == 410 and "expired" in r.json()["detail"]


def test_re_subscribing_keeps_an_enrolled_phone_a_training_device(harness: Harness) -> None:
    phone = harness.subscribe(KOCHI_KENCHO, test_device=True)
    body = {
        "endpoint": harness.push.endpoint(phone.device),
        "keys": {"p256dh": phone.device.keys.p256dh, "auth": phone.device.keys.auth},
        "places": [{"label": "自宅", "municipality_code": "39201"}],
    }
    again = harness.client.post("/api/v1/subscriptions", json=body)
    assert again.status_code == 201 and again.json()["test_device"] is True
