"""A resident's portal: their places' alerts, evacuation sites for those hazards, and caching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pushsvc.shelters import service as shelters
from tests.fixtures.delivery import KOCHI_KENCHO, MUROTO, SHIMANTO
from tests.portal.conftest import Harness, Ops, admin, bearer


def me(harness: Harness, rid: int, token: str, **headers: str) -> dict:  # type: ignore[type-arg]
    r = harness.client.get(f"/api/v1/portal/me?subscription={rid}", headers={**bearer(token), **headers})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_resident_of_kochi_and_muroto_sees_both_and_not_shimanto(harness: Harness, kochi_sites: None) -> None:
    resident = harness.subscribe(KOCHI_KENCHO, MUROTO, categories=["river", "quake_tsunami", "weather"])
    kochi = harness.notify(
        title={"ja": "鏡川 氾濫危険"}, category="river", severity="warning", target={"municipality_codes": ["39201"]}
    )
    muroto = harness.notify(
        title={"ja": "津波注意報"},
        category="quake_tsunami",
        severity="advisory",
        target={"municipality_codes": ["39202"]},
    )
    shimanto = harness.notify(
        title={"ja": "四万十川 氾濫注意"},
        category="river",
        severity="warning",
        target={"municipality_codes": ["39210"]},
    )
    harness.notify(title={"ja": "試験"}, category="river", test=True, target={"municipality_codes": ["39201"]})

    page = me(harness, resident.id, resident.token)
    first, second = page["places"]
    assert first["municipality"] == {"code": "39201", "name": "高知市"}
    assert second["municipality"] == {"code": "39202", "name": "室戸市"}
    assert [a["id"] for a in first["alerts"]] == [kochi]
    assert [a["id"] for a in second["alerts"]] == [muroto]
    seen = {a["id"] for p in page["places"] for a in p["alerts"]}
    assert shimanto not in seen
    assert first["alerts"][0]["url"].endswith(f"/alerts/{kochi}")

    # The river alert asks for flood sites near the 県庁 point; they are the real nearest ones.
    [flood] = first["shelters"]
    assert flood["hazard"] == "flood" and flood["label"] == "洪水"
    with harness.db.sessionmaker() as s:
        expected = [x.id for x in shelters.nearest(s, KOCHI_KENCHO[0], KOCHI_KENCHO[1], hazard="flood", limit=3)]
    assert [x["id"] for x in flood["sites"]] == expected and len(expected) == 3
    assert all("flood" in x["hazards"] for x in flood["sites"])
    assert {g["hazard"] for g in second["shelters"]} == {"tsunami", "earthquake"}
    assert "国土地理院 指定緊急避難場所データ" in page["attribution"]


def test_alerts_are_most_severe_then_newest_and_cancelled_ones_leave(harness: Harness) -> None:
    resident = harness.subscribe("39201")
    old_info = harness.notify(title={"ja": "古い情報"}, target={"municipality_codes": ["39201"]})
    warning = harness.notify(title={"ja": "警戒"}, severity="warning", target={"municipality_codes": ["39201"]})
    new_info = harness.notify(title={"ja": "新しい情報"}, target={"municipality_codes": ["39201"]})
    gone = harness.notify(title={"ja": "取消"}, target={"municipality_codes": ["39201"]})
    assert harness.client.post(f"/api/v1/notifications/{gone}/cancel", headers=admin()).status_code == 200

    [place] = me(harness, resident.id, resident.token)["places"]
    assert [a["id"] for a in place["alerts"]] == [warning, new_info, old_info]
    assert place["lat"] is None and place["shelters"] == []


def test_area_alert_reaches_the_point_inside_it_only(harness: Harness) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[133.52, 33.55], [133.54, 33.55], [133.54, 33.57], [133.52, 33.57], [133.52, 33.55]]],
    }
    inside = harness.subscribe(KOCHI_KENCHO)
    outside = harness.subscribe((33.50, 133.58))
    nid = harness.notify(title={"ja": "区域"}, target={"area": square})
    assert [a["id"] for a in me(harness, inside.id, inside.token)["places"][0]["alerts"]] == [nid]
    assert me(harness, outside.id, outside.token)["places"][0]["alerts"] == []


def test_text_in_residents_language_with_japanese_fallback(harness: Harness) -> None:
    resident = harness.subscribe(SHIMANTO, lang="en")
    both = harness.notify(title={"ja": "避難指示", "en": "Evacuate"}, target={"municipality_codes": ["39210"]})
    ja_only = harness.notify(title={"ja": "お知らせ"}, target={"municipality_codes": ["39210"]})
    alerts = {a["id"]: a for a in me(harness, resident.id, resident.token)["places"][0]["alerts"]}
    assert (alerts[both]["title"], alerts[both]["lang"]) == ("Evacuate", "en")
    assert (alerts[ja_only]["title"], alerts[ja_only]["lang"]) == ("お知らせ", "ja")


def test_etag_gives_304_until_something_changes(harness: Harness) -> None:
    resident = harness.subscribe("39201")
    url = f"/api/v1/portal/me?subscription={resident.id}"
    r = harness.client.get(url, headers=bearer(resident.token))
    etag = r.headers["etag"]
    assert "private" in r.headers["cache-control"]
    again = harness.client.get(url, headers={**bearer(resident.token), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    harness.notify(title={"ja": "新着"}, target={"municipality_codes": ["39201"]})
    changed = harness.client.get(url, headers={**bearer(resident.token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_portal_needs_the_subscriptions_own_token(harness: Harness) -> None:
    a = harness.subscribe("39201")
    b = harness.subscribe("39202")
    assert harness.client.get(f"/api/v1/portal/me?subscription={a.id}").status_code == 401
    r = harness.client.get(f"/api/v1/portal/me?subscription={a.id}", headers=bearer(b.token))
    assert r.status_code == 404 and r.json()["field"] == "id"
    r = harness.client.get("/api/v1/portal/me?subscription=abc", headers=bearer(a.token))
    assert r.status_code == 422 and r.json()["field"] == "subscription"
    assert harness.client.get("/api/v1/portal/me?subscription=999999", headers=bearer(a.token)).status_code == 404


def test_the_per_process_snapshots_never_hide_a_new_or_cancelled_alert_or_notice(harness: Harness, ops: Ops) -> None:
    resident = harness.subscribe("39201")

    def seen() -> tuple[list[int], list[int]]:
        page = me(harness, resident.id, resident.token)
        return [a["id"] for a in page["places"][0]["alerts"]], [n["id"] for n in page["notices"]]

    assert seen() == ([], [])  # fills this process's snapshots
    first = harness.notify(target={"municipality_codes": ["39201"]})
    assert seen() == ([first], [])  # well within the snapshot's second
    harness.cancel(first)
    assert seen() == ([], [])
    r = ops.call(
        "POST",
        "/api/v1/notices",
        "kochi-city",
        json={
            "title": {"ja": "お知らせ"},
            "municipality_codes": ["39201"],
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    assert seen() == ([], [r.json()["id"]])
    assert ops.call("POST", f"/api/v1/notices/{r.json()['id']}/withdraw", "kochi-city").status_code == 200
    assert seen() == ([], [])


def test_an_open_site_comes_before_nearer_closed_ones_with_how_full_it_is(harness: Harness, kochi_sites: None) -> None:
    resident = harness.subscribe(KOCHI_KENCHO, categories=["river"])
    harness.notify(
        title={"ja": "鏡川 氾濫危険"}, category="river", severity="warning", target={"municipality_codes": ["39201"]}
    )
    with harness.db.sessionmaker() as s:
        near = shelters.nearest(s, KOCHI_KENCHO[0], KOCHI_KENCHO[1], hazard="flood", limit=6)
    farther = near[5]  # not among the three nearest: before, the resident never saw it
    with harness.db.sessionmaker.begin() as s:
        shelters.set_states(s, [(farther.id, True, "混雑")], by="高知市")
        shelters.set_states(s, [(near[1].id, False, "available")], by="高知市")  # closed again: not open

    [flood] = me(harness, resident.id, resident.token)["places"][0]["shelters"]
    sites = flood["sites"]
    assert [x["id"] for x in sites] == [farther.id, near[0].id, near[1].id, near[2].id]
    assert (sites[0]["open"], sites[0]["capacity"]) == (True, "crowded")
    assert sites[0]["distance_m"] > sites[1]["distance_m"]  # listed first although farther
    assert [x["open"] for x in sites[1:]] == [False, False, False]
    assert all(x["capacity"] is None for x in sites[1:])
