"""Input that used to break the operator API (issue 14): refused up front, never a 500; what is stored stays usable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from pushsvc.db import session_scope
from pushsvc.operators.models import AuditEntry, OperatorMessage
from tests.fixtures.delivery import ADMIN, Harness
from tests.operators.conftest import KATSURAHAMA_SQUARE, KOCHI_KENCHO, Ops, message

SURROGATE = "Shelter open \ud83c"


def _raw(ops: Ops, method: str, path: str, who: str, body: dict[str, Any]) -> Any:
    """Send ``body`` as JSON text the way a client would, lone surrogates written as ``\\ud83c`` escapes."""
    return ops.call(
        method, path, who, content=json.dumps(body).encode("ascii"), headers={"Content-Type": "application/json"}
    )


def _messages(ops: Ops) -> int:
    with ops.h.db.sessionmaker() as s:
        return int(s.execute(select(func.count()).select_from(OperatorMessage)).scalar_one())


def test_a_lone_surrogate_in_a_translation_is_refused_up_front(ops: Ops) -> None:
    english = ops.h.subscribe(KOCHI_KENCHO, lang="en")
    body = message(lang={"en": {"title": SURROGATE, "body": "Kochi City Hall is open."}})
    for path in ("/api/v1/messages", "/api/v1/messages/preview"):
        r = _raw(ops, "POST", path, "pref-a", body)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "lang.en.title", r.text
    assert _messages(ops) == 0
    # Fixed, it goes, and the English resident gets it.
    sent = ops.send("pref-a", lang={"en": {"title": "Shelter open", "body": "Kochi City Hall is open."}})
    ops.h.run_worker(ops.notification_of("pref-a", sent["id"]))
    assert [m.json()["title"] for m in ops.h.push.received(english.device)] == ["Shelter open"]
    assert ops.h.client.get("/api/v1/alerts", params={"lang": "en"}).status_code == 200


@pytest.mark.parametrize(
    ("field", "patch"),
    [
        ("title", {"title": "避難\x00所"}),
        ("body", {"body": "本文\x00"}),
        ("title", {"title": "二行\nの題"}),  # a title is one line
        ("lang.en.body", {"lang": {"en": {"title": "ok", "body": "bad \x07 bell"}}}),
        ("lang.en.title", {"lang": {"en": {"title": "\x1b[31mred"}}}),
        ("target.preset", {"target": {"preset": "桂浜\x00"}}),
    ],
)
def test_control_characters_in_message_text_are_422_naming_the_field(
    ops: Ops, field: str, patch: dict[str, Any]
) -> None:
    r = _raw(ops, "POST", "/api/v1/messages", "pref-a", message(**patch))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert _messages(ops) == 0


def test_text_is_stored_nfc_and_newlines_and_tabs_stay_in_bodies(ops: Ops) -> None:
    sent = ops.send("pref-a", title="カ\u3099イド", body="一行目\n\t二行目")  # カ + combining dakuten
    got = ops.get("pref-a", sent["id"])
    assert got["title"]["ja"] == "ガイド"
    assert got["body"]["ja"] == "一行目\n\t二行目"


def test_follow_ups_presets_and_queries_refuse_nul(ops: Ops) -> None:
    sent = ops.send("pref-a")
    cases = [
        ("POST", f"/api/v1/messages/{sent['id']}/correct", {"title": "訂正\x00"}, "title"),
        ("POST", f"/api/v1/messages/{sent['id']}/cancel", {"reason": "誤\x00報"}, "reason"),
        (
            "PUT",
            "/api/v1/area-presets/x",
            {"name": "x", "description": "浸水\x00", "area": KATSURAHAMA_SQUARE},
            "description",
        ),
    ]
    for method, path, body, field in cases:
        r = _raw(ops, method, path, "pref-a", body)
        assert r.status_code == 422 and r.json()["field"] == field, (path, r.text)
    for params, field in (({"action": "message.send\x00"}, "action"), ({"status": "sent\x00"}, "status")):
        path = "/api/v1/audit" if "action" in params else "/api/v1/messages"
        r = ops.call("GET", path, "pref-a", params=params)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    r = ops.call("PUT", "/api/v1/area-presets/a%00b", "pref-a", json={"name": "a\x00b", "area": KATSURAHAMA_SQUARE})
    assert r.status_code == 422, r.text
    assert ops.get("pref-a", sent["id"])["status"] == "sent"


@pytest.mark.parametrize("big", [2**31, 2**63, 10**30])
def test_ids_beyond_the_column_are_422_not_500(ops: Ops, big: int) -> None:
    paths = [
        ("GET", f"/api/v1/messages/{big}"),
        ("GET", f"/api/v1/messages/{big}.cap"),
        ("POST", f"/api/v1/messages/{big}/approve"),
        ("POST", f"/api/v1/messages/{big}/cancel"),
        ("GET", f"/api/v1/audit?message_id={big}"),
        ("GET", f"/api/v1/audit?operator_id={big}"),
    ]
    for method, path in paths:
        r = ops.call(method, path, "pref-a")
        assert r.status_code == 422, (path, r.text)
    r = ops.call("POST", f"/api/v1/messages/{big}/correct", "pref-a", json={"title": "訂正"})
    assert r.status_code == 422, r.text
    assert ops.call("GET", f"/api/v1/messages/{2**31 - 1}", "pref-a").status_code == 404


@pytest.mark.parametrize("big", [2**31, 2**63])
def test_notification_ids_beyond_the_column_are_422_not_500(harness: Harness, big: int) -> None:
    for method, path in (("GET", f"/api/v1/notifications/{big}"), ("POST", f"/api/v1/notifications/{big}/cancel")):
        r = harness.client.request(method, path, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 422 and r.json()["field"] == "notification_id", (path, r.text)


def test_a_message_stored_with_bad_text_can_still_be_listed_read_and_cancelled(ops: Ops) -> None:
    """Rows written before text was checked: a lone surrogate (SQLite keeps it) or NUL (PostgreSQL's json keeps it)."""
    h = ops.h
    english = h.subscribe(KOCHI_KENCHO, lang="en")
    sent = ops.send("pref-a", scheduled_at=None)
    h.run_worker(ops.notification_of("pref-a", sent["id"]))
    bad = SURROGATE if h.db.backend == "sqlite" else "Shelter open \x00"
    with session_scope(h.db.sessionmaker) as s:
        m = s.get(OperatorMessage, sent["id"])
        assert m is not None
        m.title = {**m.title, "en": bad}
        m.body = {**m.body, "en": bad}
    listed = ops.call("GET", "/api/v1/messages", "pref-a")
    assert listed.status_code == 200, listed.text
    assert listed.json()[0]["title"]["en"].startswith("Shelter open")
    assert ops.call("GET", f"/api/v1/messages/{sent['id']}", "pref-a").status_code == 200
    r = ops.call("POST", f"/api/v1/messages/{sent['id']}/cancel", "pref-a", json={"reason": "誤報"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["follow_ups"]
    h.run_worker()
    titles = [m.json()["title"] for m in h.push.received(english.device)]
    assert len(titles) == 2 and titles[1].startswith("[Cancelled] Shelter open")


def test_failed_logins_are_limited_per_address_and_audited_once_per_burst(ops: Ops) -> None:
    limit = 10  # PUSHSVC_OPERATOR_LOGIN_FAILURES_PER_MINUTE by default
    codes = [
        ops.h.client.get("/api/v1/operators/me", headers={"Authorization": f"Bearer pso_guess{i}"}).status_code
        for i in range(limit + 5)
    ]
    assert codes == [401] * limit + [429] * 5
    blocked = ops.call("GET", "/api/v1/operators/me", "pref-a")  # guesses cannot go on, even a right one
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert blocked.headers["content-type"].startswith("application/problem+json")
    with ops.h.db.sessionmaker() as s:
        rows = list(s.execute(select(AuditEntry).where(AuditEntry.action == "auth.failure")).scalars())
    assert len(rows) == 1 and rows[0].detail["address"] == "testclient"


def test_history_days_whose_bounds_do_not_exist_are_422(ops: Ops) -> None:
    for day in ("0001-01-01", "9999-12-31"):  # found by schemathesis: the JST day in UTC overflowed
        r = ops.call("GET", "/api/v1/messages", "pref-a", params={"date": day})
        assert r.status_code == 422 and r.json()["field"] == "date", r.text
