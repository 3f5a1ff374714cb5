"""No way around approval or scope (issue 14): each walk-around found by hand, closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from pushsvc.db import session_scope
from pushsvc.delivery.models import Notification
from pushsvc.geo import service as geo_service
from pushsvc.operators import accounts, service
from pushsvc.operators.models import AuditEntry, Operator
from tests.fixtures.delivery import ADMIN, Harness
from tests.operators.conftest import KOCHI, KOCHI_KENCHO, MUROTO_CODE, Ops, message

OFF_MUROTO = (33.24, 134.16)  # sea, 1.4 km off 室戸市: resolves to 室戸市 as "coastal"
OFF_AKI = (33.49, 133.88)  # sea, 1.2 km off 安芸市


def _square(lat: float, lon: float, half: float = 0.002) -> list[list[list[float]]]:
    return [
        [
            [lon - half, lat - half],
            [lon + half, lat - half],
            [lon + half, lat + half],
            [lon - half, lat + half],
            [lon - half, lat - half],
        ]
    ]


def _notifications(h: Harness) -> int:
    with h.db.sessionmaker() as s:
        return int(s.execute(select(func.count()).select_from(Notification)).scalar_one())


def test_bootstrap_token_only_creates_the_first_operator_and_then_stops_working(harness: Harness) -> None:
    h = harness
    h.subscribe(KOCHI_KENCHO)
    wide = {
        "title": {"ja": "全県"},
        "category": "evacuation",
        "severity": "emergency",
        "target": {"municipality_codes": [KOCHI, MUROTO_CODE]},
    }
    before = h.client.post(
        "/api/v1/operators/bootstrap", json={"name": "first"}, headers={"Authorization": "Bearer wrong"}
    )
    assert before.status_code == 401
    r = h.client.post(
        "/api/v1/operators/bootstrap", json={"name": "first"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["role"] == "prefecture" and first["token"].startswith("pso_")
    me = h.client.get("/api/v1/operators/me", headers={"Authorization": f"Bearer {first['token']}"})
    assert me.status_code == 200 and me.json()["name"] == "first"

    sent = h.client.post("/api/v1/notifications", json=wide, headers={"Authorization": f"Bearer {ADMIN}"})
    assert sent.status_code == 403 and sent.json()["field"] == "Authorization", sent.text
    again = h.client.post(
        "/api/v1/operators/bootstrap", json={"name": "second"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert again.status_code == 403
    with session_scope(h.db.sessionmaker) as s:  # the operator removed: the bootstrap token stays dead
        accounts.revoke_operator(s, "first")
    for method, path, kw in (
        ("POST", "/api/v1/notifications", {"json": wide}),
        ("POST", "/api/v1/operators/bootstrap", {"json": {"name": "third"}}),
        ("GET", "/api/v1/notifications/1", {}),
    ):
        assert h.client.request(method, path, headers={"Authorization": f"Bearer {ADMIN}"}, **kw).status_code == 403  # type: ignore[arg-type]
    assert _notifications(h) == 0
    with h.db.sessionmaker() as s:
        assert [o.name for o in s.execute(select(Operator)).scalars()] == ["first"]
        assert s.execute(select(AuditEntry.action).where(AuditEntry.action == "operator.bootstrap")).scalar_one()


def test_offshore_squares_of_a_municipal_operator_reach_only_its_own_residents(ops: Ops) -> None:
    h = ops.h
    with h.db.sessionmaker() as s:  # the walk-around: points at sea resolve to the nearest town's coast
        assert geo_service.locate(s, *OFF_MUROTO, tolerance_m=2000).place.code == MUROTO_CODE
        assert geo_service.locate(s, *OFF_AKI, tolerance_m=2000).place.code == "39203"
    own = h.subscribe(KOCHI_KENCHO)
    muroto_coast, aki_coast = h.subscribe(OFF_MUROTO), h.subscribe(OFF_AKI)
    lat, lon = KOCHI_KENCHO
    area = {"type": "MultiPolygon", "coordinates": [_square(lat, lon), _square(*OFF_MUROTO), _square(*OFF_AKI)]}
    body = message(target={"area": area})
    p = ops.call("POST", "/api/v1/messages/preview", "kochi-city", json=body)
    assert p.status_code == 200, p.text
    preview = p.json()
    assert preview["municipalities"] == [KOCHI] and preview["reach_limited_to"] == [KOCHI]
    assert preview["recipients"] == 1 and preview["by_municipality"] == {KOCHI: 1}

    sent = ops.send("kochi-city", target={"area": area})
    assert sent["recipients"] == 1 and sent["status"] == "sent"
    h.run_worker(ops.notification_of("kochi-city", sent["id"]))
    assert len(h.push.received(own.device)) == 1
    assert h.push.received(muroto_coast.device) == [] and h.push.received(aki_coast.device) == []
    # The prefecture, whose scope is everything, still reaches the coast with the same drawing.
    wide = ops.send("pref-a", target={"area": area})
    assert wide["recipients"] == 3


def test_prefecture_notice_pushed_to_everyone_needs_a_second_operator(ops: Ops) -> None:
    h = ops.h
    h.subscribe(KOCHI_KENCHO)
    notice = {
        "title": {"ja": "避難指示"},
        "body": {"ja": "全員避難"},
        "category": "evacuation",
        "push": True,
        "expires_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    }
    r = ops.call("POST", "/api/v1/notices", "pref-a", json=notice)
    assert r.status_code == 403 and r.json()["field"] == "push", r.text
    assert "second operator" in r.json()["detail"]
    assert _notifications(h) == 0
    ok = ops.call("POST", "/api/v1/notices", "pref-a", json={**notice, "push": False})
    assert ok.status_code == 201, ok.text  # published on the portal, pushed to nobody
    assert _notifications(h) == 0


def test_a_prefecture_wide_message_split_in_two_still_needs_approval(ops: Ops) -> None:
    with ops.h.db.sessionmaker() as s:
        codes = sorted(p.code for p in geo_service.list_places(s))
    assert len(codes) == 34
    first = ops.send("pref-a", target={"municipality_codes": codes[:17]}, severity="warning")
    assert first["status"] == "sent"
    second = ops.send("pref-a", target={"municipality_codes": codes[17:]}, severity="warning")
    assert second["status"] == "awaiting_approval", second
    detail = ops.get("pref-a", second["id"])
    assert "34 of 34 municipalities" in detail["note"]
    one_more = message(target={"municipality_codes": [codes[20]]})
    p = ops.call("POST", "/api/v1/messages/preview", "pref-a", json=one_more).json()
    assert p["needs_approval"] and p["window_municipalities"] == 18 and "18 of 34" in p["approval_reason"]
    again = message(target={"municipality_codes": [KOCHI]})  # already reached in the window: no more reach
    assert not ops.call("POST", "/api/v1/messages/preview", "pref-a", json=again).json()["needs_approval"]
    # Another operator's reach is their own; a second operator's approval lets the second half go.
    assert ops.send("pref-b", target={"municipality_codes": codes[17:]})["status"] == "sent"
    assert ops.call("POST", f"/api/v1/messages/{second['id']}/approve", "pref-b").json()["status"] == "sent"


def test_the_window_slides(ops: Ops) -> None:
    with ops.h.db.sessionmaker() as s:
        codes = sorted(p.code for p in geo_service.list_places(s))
    first = ops.send("pref-a", target={"municipality_codes": codes[:17]})
    assert first["status"] == "sent"
    with session_scope(ops.h.db.sessionmaker) as s:
        op = s.execute(select(Operator).where(Operator.name == "pref-a")).scalar_one()
        kwargs = {
            "municipality_codes": codes[17:],
            "area": None,
            "touched": codes[17:],
            "category": "evacuation",
            "severity": "warning",
            "test": False,
            "settings": ops.h.settings,
        }
        now = datetime.now(UTC)
        assert service.reach_needing_approval(s, op, now=now, **kwargs).needs_approval  # type: ignore[arg-type]
        later = service.reach_needing_approval(s, op, now=now + timedelta(minutes=11), **kwargs)  # type: ignore[arg-type]
        assert not later.needs_approval and later.municipalities == 17
