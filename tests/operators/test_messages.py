"""Messages through the real app, a real local push service and the worker: what phones actually get."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pushsvc.db import session_scope
from pushsvc.geo import service as geo_service
from pushsvc.operators import service
from tests.operators.conftest import (
    KATSURAHAMA_SQUARE,
    KOCHI,
    KOCHI_KENCHO,
    MUROTO,
    MUROTO_CODE,
    SHIMANTO,
    Ops,
    message,
    run_worker_until,
)


def test_preview_counts_unique_people_and_matches_what_is_delivered(ops: Ops) -> None:
    h = ops.h
    kochi = [h.subscribe(KOCHI_KENCHO), h.subscribe("39201", lang="en")]
    both = h.subscribe(KOCHI_KENCHO, MUROTO)  # two places in the target: one person
    muroto = h.subscribe(MUROTO, lang="vi")
    outside = h.subscribe(SHIMANTO)
    body = message(target={"municipality_codes": [KOCHI, MUROTO_CODE]})
    p = ops.call("POST", "/api/v1/messages/preview", "pref-a", json=body).json()
    assert p["recipients"] == 4
    assert p["by_municipality"] == {KOCHI: 3, MUROTO_CODE: 2}
    assert p["by_lang"] == {"en": 1, "ja": 2, "vi": 1} and p["known_dead"] == 0
    assert not p["needs_approval"] and not p["prefecture_wide"]

    sent = ops.send("pref-a", **{k: v for k, v in body.items()})
    assert sent["recipients"] == p["recipients"] and sent["status"] == "sent"
    h.run_worker(ops.notification_of("pref-a", sent["id"]))
    got = [r for r in [*kochi, both, muroto, outside] if h.push.received(r.device)]
    assert len(got) == p["recipients"] and outside not in got
    assert all(len(h.push.received(r.device)) == 1 for r in got)
    assert h.push.received(kochi[1].device)[0].json()["title"] == "Shelter open"


def test_preview_of_a_circle_and_a_preset_and_refused_areas(ops: Ops) -> None:
    h = ops.h
    inside = h.subscribe((33.497, 133.575))  # 桂浜
    h.subscribe(KOCHI_KENCHO)
    circle = {"circle": {"lat": 33.497, "lon": 133.575, "radius_m": 1500}}
    assert (
        ops.call("POST", "/api/v1/messages/preview", "kochi-city", json=message(target=circle)).json()["recipients"]
        == 1
    )
    put = ops.call(
        "PUT",
        "/api/v1/area-presets/桂浜",
        "pref-a",
        json={"name": "桂浜", "description": "津波浸水想定", "area": KATSURAHAMA_SQUARE},
    )
    assert put.status_code == 200 and put.json()["municipalities"] == [KOCHI]
    assert (
        ops.call(
            "PUT", "/api/v1/area-presets/x", "kochi-city", json={"name": "x", "area": KATSURAHAMA_SQUARE}
        ).status_code
        == 403
    )
    sent = ops.send("kochi-city", target={"preset": "桂浜"})
    assert sent["recipients"] == 1
    h.run_worker(ops.notification_of("kochi-city", sent["id"]))
    assert len(h.push.received(inside.device)) == 1

    tokyo = {"type": "Polygon", "coordinates": [[[139.7, 35.6], [139.8, 35.6], [139.8, 35.7], [139.7, 35.6]]]}
    unclosed = {"type": "Polygon", "coordinates": [[[133.56, 33.48], [133.59, 33.48], [133.59, 33.51]]]}
    for target, field in (
        ({"area": tokyo}, "target.area"),
        ({"area": unclosed}, "target.area"),
        ({"preset": "nope"}, "target.preset"),
        ({"municipality_codes": ["13101"]}, "target.municipality_codes"),
        ({}, "target"),
        ({"circle": {"lat": 33.5, "lon": 133.5, "radius_m": -1}}, "target.circle.radius_m"),
    ):
        r = ops.call("POST", "/api/v1/messages/preview", "pref-a", json=message(target=target))
        assert r.status_code == 422 and r.json()["field"] == field, (target, r.text)


def test_emergency_waits_for_a_second_operator_and_its_author_cannot_approve(ops: Ops) -> None:
    h = ops.h
    r1 = h.subscribe(KOCHI_KENCHO)
    sent = ops.send("kochi-city", severity="emergency")
    assert sent["status"] == "awaiting_approval" and sent["recipients"] == 1
    h.run_worker()  # nothing is due: nothing goes out before approval
    assert h.push.received(r1.device) == []
    own = ops.call("POST", f"/api/v1/messages/{sent['id']}/approve", "kochi-city")
    assert own.status_code == 403 and "own author" in own.json()["detail"]
    assert ops.call("POST", f"/api/v1/messages/{sent['id']}/approve", "muroto-city").status_code == 403
    ok = ops.call("POST", f"/api/v1/messages/{sent['id']}/approve", "pref-b")
    assert ok.status_code == 200 and ok.json()["status"] == "sent" and ok.json()["approver"] == "pref-b"
    h.run_worker(ops.notification_of("pref-b", sent["id"]))
    assert len(h.push.received(r1.device)) == 1
    assert ops.call("POST", f"/api/v1/messages/{sent['id']}/approve", "pref-a").status_code == 409


def test_prefecture_wide_target_needs_approval_and_unapproved_expires_unsent(ops: Ops) -> None:
    h = ops.h
    r1 = h.subscribe(SHIMANTO)
    with h.db.sessionmaker() as s:
        every = [p.code for p in geo_service.list_places(s)]
    preview = ops.call(
        "POST",
        "/api/v1/messages/preview",
        "pref-a",
        json=message(target={"municipality_codes": every}, severity="info"),
    ).json()
    assert preview["prefecture_wide"] and preview["needs_approval"]
    sent = ops.send("pref-a", target={"municipality_codes": every}, severity="info")
    assert sent["status"] == "awaiting_approval"
    later = datetime.now(UTC) + timedelta(seconds=h.settings.operator_approval_timeout_s + 1)
    with session_scope(h.db.sessionmaker) as s:
        service.refresh(s, now=later)
    m = ops.get("pref-a", sent["id"])
    assert m["status"] == "expired" and "nothing was sent" in m["note"] and m["delivery"] is None
    assert ops.call("POST", f"/api/v1/messages/{sent['id']}/approve", "pref-b").status_code == 409
    h.run_worker()
    assert h.push.received(r1.device) == []
    audit = ops.call("GET", "/api/v1/audit", "pref-a", params={"message_id": sent["id"]}).json()
    assert [a["action"] for a in audit] == ["message.expired", "message.send"]
    assert [
        a["action"] for a in ops.call("GET", "/api/v1/audit", "pref-a", params={"action": "message.preview"}).json()
    ] == ["message.preview"]


def test_test_messages_reach_only_test_devices_and_are_always_marked(ops: Ops) -> None:
    h = ops.h
    tester = h.subscribe(KOCHI_KENCHO, test_device=True)
    tester_en = h.subscribe(KOCHI_KENCHO, test_device=True, lang="en")
    resident = h.subscribe(KOCHI_KENCHO)
    sent = ops.send("kochi-city", test=True, severity="emergency")
    assert sent["status"] == "sent" and sent["recipients"] == 2  # drills need no approval: test devices only
    h.run_worker(ops.notification_of("kochi-city", sent["id"]))
    [ja] = h.push.received(tester.device)
    [en] = h.push.received(tester_en.device)
    assert ja.json()["title"].startswith("【訓練】") and ja.json()["body"].startswith("【訓練】")
    assert en.json()["title"].startswith("[TEST] ")
    assert h.push.received(resident.device) == []


def test_scheduled_message_can_be_cancelled_before_it_goes(ops: Ops) -> None:
    h = ops.h
    r1 = h.subscribe(KOCHI_KENCHO)
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sent = ops.send("kochi-city", scheduled_at=at)
    assert sent["status"] == "scheduled"
    h.run_worker()
    assert h.push.received(r1.device) == []
    c = ops.call("POST", f"/api/v1/messages/{sent['id']}/cancel", "kochi-city", json={"reason": "中止"})
    assert c.status_code == 200 and c.json()["status"] == "cancelled" and c.json()["follow_ups"] == []
    assert c.json()["delivery"]["status"] == "cancelled"
    past = ops.call("POST", "/api/v1/messages", "kochi-city", json=message(scheduled_at="2020-01-01T00:00:00+09:00"))
    assert past.status_code == 422 and past.json()["field"] == "scheduled_at"


def test_cancel_after_partial_delivery_reaches_exactly_those_who_got_it(ops: Ops) -> None:
    h = ops.h
    residents = [h.subscribe(KOCHI_KENCHO) for _ in range(6)]
    h.settings = h.settings.model_copy(update={"delivery_batch_size": 2})
    h.app.state.settings = h.settings
    sent = ops.send("kochi-city")
    run_worker_until(h, lambda w: w.batches_done >= 1)  # one batch of two went out, two batches wait
    got = [r for r in residents if h.push.received(r.device)]
    assert len(got) == 2
    original_topic = h.push.received(got[0].device)[0].topic

    c = ops.call("POST", f"/api/v1/messages/{sent['id']}/cancel", "pref-a")
    assert c.status_code == 200, c.text
    [follow_up] = c.json()["follow_ups"]
    h.run_worker(ops.notification_of("pref-a", follow_up))
    h.run_worker()  # and anything else that might still be due
    for r in residents:
        msgs = h.push.received(r.device)
        if r in got:
            assert len(msgs) == 2 and msgs[1].json()["title"].startswith("【取消】")
            assert msgs[1].topic == original_topic
        else:
            assert msgs == []
    detail = ops.get("kochi-city", sent["id"])
    assert detail["status"] == "cancelled" and detail["delivery"]["sent"] == 2
    assert ops.get("kochi-city", follow_up)["recipients"] == 2


def test_correct_sends_the_new_text_with_the_same_topic_and_history_shows_timing(ops: Ops) -> None:
    h = ops.h
    rs = [h.subscribe(KOCHI_KENCHO), h.subscribe(KOCHI_KENCHO, lang="en")]
    sent = ops.send("kochi-city")
    h.run_worker(ops.notification_of("kochi-city", sent["id"]))
    bad = ops.call("POST", f"/api/v1/messages/{sent['id']}/correct", "kochi-city", json={"body": "x"})
    assert bad.status_code == 422 and bad.json()["field"] == "title"
    r = ops.call(
        "POST",
        f"/api/v1/messages/{sent['id']}/correct",
        "kochi-city",
        json={
            "title": "避難所変更",
            "body": "高知市立高知商業高校へ",
            "reason": "場所の誤り",
            "lang": {"en": {"title": "Shelter changed", "body": "Go to Kochi Commercial HS"}},
        },
    )
    assert r.status_code == 200 and r.json()["status"] == "corrected"
    [fid] = r.json()["follow_ups"]
    h.run_worker(ops.notification_of("kochi-city", fid))
    ja, en = (h.push.received(x.device) for x in rs)
    assert ja[1].json()["title"] == "【訂正】避難所変更" and ja[1].topic == ja[0].topic
    assert en[1].json()["title"] == "[Correction] Shelter changed"
    assert ops.call("POST", f"/api/v1/messages/{sent['id']}/cancel", "kochi-city").status_code == 409

    d = ops.get("kochi-city", sent["id"])
    assert d["delivery"]["targeted"] == d["delivery"]["sent"] == 2
    t = d["timing"]
    assert t["accepted"] <= t["first_sent"] <= t["half_sent"] <= t["last_sent"]
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    listed = ops.call("GET", "/api/v1/messages", "pref-a", params={"status": "corrected", "municipality": KOCHI}).json()
    assert [m["id"] for m in listed] == [sent["id"]]
    assert ops.call("GET", "/api/v1/messages", "pref-a", params={"date": "2001-01-01"}).json() == []
    assert ops.call("GET", "/api/v1/messages", "pref-a", params={"status": "bogus"}).status_code == 422
    assert [m["id"] for m in ops.call("GET", "/api/v1/messages", "pref-a", params={"date": today}).json()] == [
        fid,
        sent["id"],
    ]
    actions = [a["action"] for a in ops.call("GET", "/api/v1/audit", "pref-a").json()]
    assert {"message.send", "message.correct"} <= set(actions)
