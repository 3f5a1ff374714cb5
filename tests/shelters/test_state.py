"""Shelters' open/closed state and how full they are: set by operators (their municipalities only) and
in bulk by the prefecture's shelter system, all-or-nothing; a re-import never closes an open site."""

from __future__ import annotations

from tests.evacuation.conftest import (
    TSUNAMI_ONLY,
    USHIOE_HALL,
    USHIOE_SCHOOL,
    Evac,
    devpush,
    devpush_server,
    evac,
    harness,
    load_sites,
    ops,
)

__all__ = ["devpush", "devpush_server", "evac", "harness", "ops"]
NANKOKU_SITE = "E3920400137201"


def test_operators_open_and_fill_sites_and_the_public_sees_them(evac: Evac) -> None:
    r = evac.call(
        "PUT", f"/api/v1/shelters/{USHIOE_SCHOOL}/state", "kochi-city", json={"open": True, "capacity": "混雑"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["open"], r.json()["capacity"], r.json()["capacity_label"]) == (True, "crowded", "混雑")
    evac.open_sites(USHIOE_HALL, capacity="満員")
    listed = evac.h.client.get("/api/v1/shelters/open?municipality=39201").json()
    assert [(s["name"], s["capacity_label"]) for s in listed] == [("潮江小学校", "混雑"), ("潮江市民会館", "満員")]
    en = evac.h.client.get("/api/v1/shelters/open?lang=en").json()
    assert {s["capacity_label"] for s in en} == {"Crowded", "Full"}
    r = evac.call("PUT", f"/api/v1/shelters/{USHIOE_SCHOOL}/state", "kochi-city", json={"open": False})
    assert [s["name"] for s in evac.h.client.get("/api/v1/shelters/open").json()] == ["潮江市民会館"]
    load_sites(evac.h, {USHIOE_SCHOOL, USHIOE_HALL, TSUNAMI_ONLY})  # the yearly re-import of the GSI data
    assert [s["name"] for s in evac.h.client.get("/api/v1/shelters/open").json()] == ["潮江市民会館"]
    audit = evac.call("GET", "/api/v1/audit?action=shelter.state", "pref-a").json()
    assert len(audit) == 3 and audit[-1]["operator_name"] == "kochi-city"


def test_a_bulk_update_with_one_bad_entry_changes_nothing(evac: Evac) -> None:
    r = evac.call(
        "POST",
        "/api/v1/shelters/states",
        "saigai-system",
        json=[
            {"id": USHIOE_SCHOOL, "open": True, "capacity": "空き"},
            {"id": USHIOE_HALL, "open": True, "capacity": "ぎゅうぎゅう"},
        ],
    )
    assert r.status_code == 422 and r.json()["field"] == "[1].capacity"
    r = evac.call(
        "POST",
        "/api/v1/shelters/states",
        "saigai-system",
        json=[{"id": USHIOE_SCHOOL, "open": True}, {"id": "E0000000000000", "open": True}],
    )
    assert r.status_code == 422 and r.json()["field"] == "id" and "E0000000000000" in r.json()["detail"]
    assert evac.h.client.get("/api/v1/shelters/open").json() == []


def test_a_municipal_operator_cannot_open_another_municipalitys_site(evac: Evac) -> None:
    load_sites(evac.h, {NANKOKU_SITE, USHIOE_SCHOOL})
    r = evac.call("PUT", f"/api/v1/shelters/{NANKOKU_SITE}/state", "kochi-city", json={"open": True})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    r = evac.call("PUT", f"/api/v1/shelters/{NANKOKU_SITE}/state", "nankoku-city", json={"open": True})
    assert r.status_code == 200
    assert evac.call("PUT", f"/api/v1/shelters/{NANKOKU_SITE}/state", "pref-a", json={"open": False}).status_code == 200


def test_a_site_id_that_is_not_text_is_a_422_naming_it_not_a_500(evac: Evac) -> None:
    """Found by schemathesis: a control character in the path's 共通ID crashed the route."""
    for bad in ("o%C2%A1%F2%AC%BE%91%14", "E" * 65):
        r = evac.call("PUT", f"/api/v1/shelters/{bad}/state", "kochi-city", json={"open": True})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "site_id" in r.text
    assert (
        evac.call("PUT", f"/api/v1/shelters/{USHIOE_SCHOOL}/state", "kochi-city", json={"open": True}).status_code
        == 200
    )
