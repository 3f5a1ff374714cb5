"""避難情報 through the operators' API: the standard wording, one Topic per order, the district only,
scope, approval per level and municipality, shelters suitable for the hazard, the portal and feeds."""

from __future__ import annotations

import json
from typing import Any

from pushsvc.alerts import service as alert_state
from pushsvc.evacuation.approval import parse_rules, single_issuer_reason
from tests.evacuation.conftest import (
    IN_USHIOE,
    KOCHI_ELSEWHERE,
    NANKOKU,
    OTOYO_TOWN,
    TAKESHIMA_PARK,
    TSUNAMI_ONLY,
    USHIOE_HALL,
    USHIOE_SCHOOL,
    Evac,
)

LV3_JA = "高知市 潮江地区に高齢者等避難を発令しました。危険な場所から高齢者等は避難してください。"
LV4_JA = "高知市 潮江地区に避難指示を発令しました。危険な場所から全員避難してください。"
LIFT_JA = "高知市 潮江地区の避難指示を解除しました。"


def received(evac: Evac, resident: Any) -> list[Any]:
    return list(evac.h.push.received(resident.device))


def assert_three_standard_messages(evac: Evac, resident: Any, topic: str) -> None:
    """Lv3, Lv4 with both shelters, 解除: the standard wording, one Topic (and notification tag)."""
    got = received(evac, resident)
    docs = [r.json() for r in got]
    assert [d["title"] for d in docs] == [
        "【警戒レベル3】高齢者等避難（高知市）",
        "【警戒レベル4】避難指示（高知市）",
        "【解除】避難指示（高知市）",
    ]
    assert docs[0]["body"].startswith(LV3_JA) and "対象の災害：土砂災害" in docs[0]["body"]
    assert docs[1]["body"].startswith(LV4_JA)
    assert "開設中の避難場所：潮江小学校、潮江市民会館" in docs[1]["body"]
    assert docs[2]["body"].startswith(LIFT_JA)
    assert [d["severity"] for d in docs] == ["warning", "emergency", "warning"]
    assert {r.topic for r in got} == {topic} and {d["tag"] for d in docs} == {topic}


def issue_raise_lift(evac: Evac) -> dict[str, Any]:
    """The console's sequence through the API: Lv3, then Lv4 with two shelters (approved by a second
    operator, the default for an emergency), then 解除."""
    evac.open_sites(USHIOE_SCHOOL, USHIOE_HALL)
    o = evac.issue(level=3)
    assert (o["status"], o["level"], o["pending"]) == ("in_force", 3, None)
    evac.h.run_worker()
    raised = evac.change(o["id"], level=4, shelters=[USHIOE_SCHOOL, USHIOE_HALL])
    assert (raised["level"], raised["pending"]["level"]) == (3, 4)  # waits; Lv3 stays in force meanwhile
    r = evac.call("POST", f"/api/v1/messages/{raised['pending']['message_id']}/approve", "kochi-city-2")
    assert r.status_code == 200, r.text
    now = evac.call("GET", f"/api/v1/evacuation/orders/{o['id']}", "kochi-city").json()
    assert (now["status"], now["level"], now["pending"]) == ("in_force", 4, None)
    assert [s["name"] for s in now["shelters"]] == ["潮江小学校", "潮江市民会館"]
    evac.h.run_worker()
    lifted = evac.lift(o["id"], note="土砂災害警戒情報が解除されました。")
    assert (lifted["status"], lifted["level"]) == ("lifted", 0)
    evac.h.run_worker()
    return lifted


def test_lv3_raised_to_lv4_with_two_shelters_then_lifted_reaches_the_district_only(evac: Evac) -> None:
    inside = evac.h.subscribe(IN_USHIOE)
    inside_en = evac.h.subscribe(IN_USHIOE, lang="en")
    elsewhere = evac.h.subscribe(KOCHI_ELSEWHERE)
    order = issue_raise_lift(evac)
    assert_three_standard_messages(evac, inside, order["topic"])
    en = [r.json() for r in received(evac, inside_en)]
    assert [d["title"] for d in en] == [
        "[Alert Level 3] Evacuation of Elderly People, etc. (高知市)",
        "[Alert Level 4] Evacuation Instruction (高知市)",
        "[Lifted] Evacuation Instruction (高知市)",
    ]
    assert "Everyone must evacuate from dangerous places." in en[1]["body"] and "Ushioe (高知市)" in en[1]["body"]
    assert received(evac, elsewhere) == []
    assert [h["action"] for h in order["history"]] == ["issue", "raise", "lift"]


def test_a_district_of_another_municipality_is_refused_and_nothing_is_stored(evac: Evac) -> None:
    r = evac.call(
        "POST",
        "/api/v1/evacuation/orders",
        "kochi-city",
        json={
            "municipality_code": NANKOKU,
            "level": 4,
            "hazards": ["flood"],
            "area": {"kind": "districts", "districts": ["稲生地区"]},
        },
    )
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "municipality_code"
    r = evac.call(
        "POST",
        "/api/v1/evacuation/orders",
        "kochi-city",
        json={
            "municipality_code": "39201",
            "level": 3,
            "hazards": ["flood"],
            "area": {"kind": "districts", "districts": ["稲生地区"]},
        },
    )
    assert r.status_code == 422 and "39204" in r.json()["detail"] and r.json()["field"] == "area.districts"
    r = evac.call(
        "PUT",
        "/api/v1/evacuation/districts/39204/新地区",
        "kochi-city",
        json={
            "name": "新地区",
            "area": {
                "type": "Polygon",
                "coordinates": [[[133.63, 33.57], [133.64, 33.57], [133.64, 33.58], [133.63, 33.57]]],
            },
        },
    )
    assert r.status_code == 403
    assert evac.call("GET", "/api/v1/evacuation/orders?include_lifted=true", "pref-a").json() == []


def test_a_drawn_area_reaching_a_neighbour_is_refused(evac: Evac) -> None:
    across = {
        "type": "Polygon",
        "coordinates": [[[133.58, 33.55], [133.66, 33.55], [133.66, 33.58], [133.58, 33.58], [133.58, 33.55]]],
    }
    r = evac.call(
        "POST",
        "/api/v1/evacuation/orders",
        "pref-a",
        json={
            "municipality_code": "39201",
            "level": 4,
            "hazards": ["flood"],
            "area": {"kind": "polygon", "polygon": across},
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "area.polygon" and "南国市" in r.json()["detail"]


def test_a_site_not_designated_for_the_hazard_is_never_opened_for_it(evac: Evac) -> None:
    evac.open_sites(TSUNAMI_ONLY)
    r = evac.call(
        "POST",
        "/api/v1/evacuation/orders",
        "kochi-city",
        json={
            "municipality_code": "39201",
            "level": 3,
            "hazards": ["landslide"],
            "area": {"kind": "districts", "districts": ["潮江地区"]},
            "shelters": [TSUNAMI_ONLY],
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "shelters" and "アステールＫ" in r.json()["detail"]
    assert evac.call("GET", "/api/v1/evacuation/orders?include_lifted=true", "kochi-city").json() == []


def test_a_municipality_rule_lets_one_operator_issue_lv4_and_the_others_see_it(evac: Evac) -> None:
    evac.configure(evacuation_single_issuer="39201=4")
    resident = evac.h.subscribe(IN_USHIOE)
    o = evac.issue(level=4)
    assert (o["status"], o["level"], o["single_issuer"]) == ("in_force", 4, True)
    seen = evac.call("GET", "/api/v1/evacuation/single-issuer", "kochi-city-2").json()
    assert [(e["operator_name"], e["detail"]["order_id"], e["detail"]["level"]) for e in seen] == [
        ("kochi-city", o["id"], 4)
    ]
    assert evac.call("GET", "/api/v1/evacuation/single-issuer", "nankoku-city").json() == []
    audit = evac.call("GET", "/api/v1/audit?action=message.send", "pref-a").json()
    assert "one operator" in audit[0]["detail"]["approval_waived"]
    evac.h.run_worker()
    assert received(evac, resident)[0].json()["title"] == "【警戒レベル4】避難指示（高知市）"
    five = evac.change(o["id"], level=5)  # the rule stops at 4: Lv5 still needs a second operator
    assert (five["level"], five["pending"]["level"]) == (4, 5)


def test_single_issuer_rules_by_level_and_night_hours() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    jst = ZoneInfo("Asia/Tokyo")
    night, day = datetime(2026, 12, 1, 23, 30, tzinfo=jst), datetime(2026, 12, 1, 14, 0, tzinfo=jst)
    rules = "39201=4@22:00-06:00;39204=5"
    assert single_issuer_reason(rules, "39201", 4, night) and not single_issuer_reason(rules, "39201", 4, day)
    assert not single_issuer_reason(rules, "39201", 5, night)
    assert single_issuer_reason(rules, "39204", 5, day) and not single_issuer_reason(rules, "39202", 3, day)
    assert len(parse_rules("")) == 0
    try:
        parse_rules("39201=6")
    except ValueError as exc:
        assert "39201=6" in str(exc)
    else:
        raise AssertionError("a level 6 rule was accepted")


def test_the_portal_shows_the_order_and_suitable_open_sites_for_the_district_place_only(evac: Evac) -> None:
    resident = evac.h.subscribe(IN_USHIOE, OTOYO_TOWN)
    evac.open_sites(USHIOE_SCHOOL, USHIOE_HALL, TAKESHIMA_PARK, TSUNAMI_ONLY)
    o = evac.issue(level=3, shelters=[USHIOE_SCHOOL, USHIOE_HALL])
    district, otoyo = evac.portal(resident)["places"]
    assert otoyo["municipality"]["code"] == "39344"
    orders = district["evacuation"]["orders"]
    assert [(x["id"], x["level"], x["name"], x["area_label"]) for x in orders] == [
        (o["id"], 3, "高齢者等避難", "高知市 潮江地区")
    ]
    sites = district["evacuation"]["shelters"]
    assert {s["id"] for s in sites} == {USHIOE_SCHOOL, USHIOE_HALL, TAKESHIMA_PARK}  # the tsunami-only site is not
    assert [s["distance_m"] for s in sites] == sorted(s["distance_m"] for s in sites)
    assert all("landslide" in s["hazards"] and s["map_url"].startswith("https://maps.gsi.go.jp/") for s in sites)
    assert all(g["hazard"] != "tsunami" for g in district["shelters"])
    assert all("landslide" in s["hazards"] for g in district["shelters"] for s in g["sites"])
    assert otoyo["evacuation"] == {"orders": [], "shelters": []}
    assert [a["title"] for a in otoyo["alerts"]] == []
    evac.lift(o["id"])
    district, otoyo = evac.portal(resident)["places"]
    assert district["evacuation"] == {"orders": [], "shelters": []} and district["alerts"] == []


def test_public_feeds_show_the_current_level_and_lifted_orders_leave(evac: Evac) -> None:
    evac.configure(evacuation_single_issuer="39201=5")
    o = evac.issue(level=3)
    evac.change(o["id"], level=4)
    public = evac.h.client.get("/api/v1/evacuation").json()
    lv4 = "【警戒レベル4】避難指示（高知市）"
    assert [(x["id"], x["level"], x["title"]) for x in public["orders"]] == [(o["id"], 4, lv4)]
    alerts = evac.h.client.get("/api/v1/alerts?category=evacuation").json()["alerts"]
    assert [(a["title"], a["parameters"]["EvacuationLevel"]) for a in alerts] == [(lv4, "4")]
    assert public["orders"][0]["alert_id"] == alerts[0]["id"]
    cap = evac.h.client.get(f"/api/v1/alerts/{alerts[0]['id']}.cap").text
    assert "<valueName>EvacuationLevel</valueName><value>4</value>" in cap
    atom = evac.h.client.get("/api/v1/alerts.atom?category=evacuation").text
    assert atom.count("<entry>") == 1 and "【警戒レベル4】避難指示" in atom
    assert evac.h.client.get("/api/v1/evacuation?municipality=39204").json()["orders"] == []
    with evac.h.db.sessionmaker() as s:
        state = alert_state.in_force(s, sources=["evacuation"])
        assert [(a.phenomenon, a.area, a.level, a.severity) for a in state] == [
            (f"evacuation:{o['id']}", "39201", 4, "emergency")
        ]
    evac.lift(o["id"])
    with evac.h.db.sessionmaker() as s:
        assert alert_state.in_force(s, sources=["evacuation"]) == []
        assert [t.change for t in reversed(alert_state.history(s, source="evacuation"))] == [
            "issued",
            "raised",
            "lifted",
        ]
    assert evac.h.client.get("/api/v1/evacuation").json()["orders"] == []
    assert evac.h.client.get("/api/v1/alerts?category=evacuation").json()["alerts"] == []
    assert "<entry>" not in evac.h.client.get("/api/v1/alerts.atom?category=evacuation").text


def test_an_lv4_nobody_approves_expires_unsent_and_the_order_is_withdrawn(evac: Evac) -> None:
    from datetime import UTC, datetime, timedelta

    from pushsvc.evacuation import service

    resident = evac.h.subscribe(IN_USHIOE)
    o = evac.issue(level=4)
    assert (o["status"], o["pending"]["level"]) == ("pending", 4)
    assert evac.h.client.get("/api/v1/evacuation").json()["orders"] == []  # not in force before approval
    later = datetime.now(UTC) + timedelta(seconds=evac.h.settings.operator_approval_timeout_s + 60)
    with evac.h.db.sessionmaker() as s:
        service.refresh(s, now=later)
        s.commit()
    after = evac.call("GET", f"/api/v1/evacuation/orders/{o['id']}", "kochi-city").json()
    assert (after["status"], after["pending"]) == ("withdrawn", None)
    evac.h.run_worker()
    assert received(evac, resident) == []


def test_lowering_uses_the_switch_wording_on_the_same_topic(evac: Evac) -> None:
    evac.configure(evacuation_single_issuer="39201=5")
    resident = evac.h.subscribe(IN_USHIOE)
    o = evac.issue(level=5, hazards=["landslide", "flood"])
    evac.h.run_worker()
    evac.change(o["id"], level=4)
    evac.h.run_worker()
    got = received(evac, resident)
    assert [r.json()["title"] for r in got] == [
        "【警戒レベル5】緊急安全確保（高知市）",
        "【警戒レベル4】避難指示（高知市）",
    ]
    assert "ただちに命を守る行動をとってください。" in got[0].json()["body"]
    assert got[1].json()["body"].startswith("高知市 潮江地区の避難情報を避難指示（警戒レベル4）に切り替えました。")
    assert "対象の災害：土砂災害・洪水" in got[1].json()["body"]
    assert len({r.topic for r in got}) == 1
    conflict = evac.call("POST", f"/api/v1/evacuation/orders/{o['id']}/change", "nankoku-city", json={"level": 3})
    assert conflict.status_code == 403


def test_control_characters_and_lone_surrogates_in_an_order_are_refused_naming_the_field(evac: Evac) -> None:
    """The one text type of issue 14 covers 避難情報 too: NUL (a 500 on PostgreSQL before) and a lone surrogate."""
    for field, value in (("note", "高台へ\x00"), ("reason", "土砂災害\ud83c")):
        body = {
            "municipality_code": "39201",
            "level": 3,
            "hazards": ["landslide"],
            "area": {"kind": "municipality"},
            field: value,
        }  # sent as escaped JSON, as a client would: a lone surrogate cannot be UTF-8 encoded
        r = evac.call(
            "POST",
            "/api/v1/evacuation/orders",
            "kochi-city",
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json()["field"] == field
    assert evac.call("GET", "/api/v1/evacuation/orders?include_lifted=true", "pref-a").json() == []
