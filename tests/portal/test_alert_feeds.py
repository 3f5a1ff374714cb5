"""Public alert feeds: JSON, Atom, CAP 1.2, the page data and the HTML page, without login."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.portal.conftest import Harness, Ops, admin

ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_alerts_filtered_by_municipality_and_category(harness: Harness) -> None:
    river = harness.notify(
        title={"ja": "鏡川 水位上昇"},
        category="river",
        severity="warning",
        target={"municipality_codes": ["39201", "39386"]},
    )
    harness.notify(title={"ja": "気象"}, category="weather", target={"municipality_codes": ["39201"]})
    harness.notify(title={"ja": "室戸"}, category="river", target={"municipality_codes": ["39202"]})
    harness.notify(title={"ja": "試験"}, category="river", test=True, target={"municipality_codes": ["39201"]})

    r = harness.client.get("/api/v1/alerts?municipality=39201&category=river")
    assert r.status_code == 200 and "public" in r.headers["cache-control"]
    [alert] = r.json()["alerts"]
    assert alert["id"] == river and alert["active"] and alert["title"] == "鏡川 水位上昇"
    assert [m["name"] for m in alert["municipalities"]] == ["高知市", "いの町"]
    assert len(harness.client.get("/api/v1/alerts").json()["alerts"]) == 3


def test_bad_filters_are_422_naming_the_field(harness: Harness) -> None:
    for query, field in [
        ("municipality=99999", "municipality"),
        ("municipality=3920", "municipality"),
        ("category=fire", "category"),
        ("lang=xx", "lang"),
    ]:
        r = harness.client.get(f"/api/v1/alerts?{query}")
        assert r.status_code == 422 and r.json()["field"] == field, (query, r.text)
    assert harness.client.get("/api/v1/alerts/0").status_code == 422
    assert harness.client.get("/api/v1/alerts/12345").status_code == 404


def test_atom_feed_lists_the_same_alerts(harness: Harness) -> None:
    nid = harness.notify(
        title={"ja": "避難所開設"}, body={"ja": "高知市役所"}, target={"municipality_codes": ["39201"]}
    )
    r = harness.client.get("/api/v1/alerts.atom?municipality=39201")
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "避難所開設"
    assert entry.findtext(f"{ATOM}summary") == "高知市役所"
    assert any(link.get("href", "").endswith(f"/alerts/{nid}") for link in entry.findall(f"{ATOM}link"))


def test_cap_has_every_language_and_a_cancel_references_the_alert(harness: Harness) -> None:
    harness.subscribe("39201")  # delivery cancels only what is still being sent
    nid = harness.notify(
        title={"ja": "避難指示", "en": "Evacuate"},
        body={"ja": "直ちに避難"},
        category="evacuation",
        severity="emergency",
        target={"municipality_codes": ["39201", "39202"]},
    )
    r = harness.client.get(f"/api/v1/alerts/{nid}.cap")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
    alert = ET.fromstring(r.content)
    assert alert.tag == f"{CAP}alert"
    assert [c.tag.removeprefix(CAP) for c in alert][:6] == [
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "scope",
    ]
    assert alert.findtext(f"{CAP}msgType") == "Alert" and alert.findtext(f"{CAP}sent", "").endswith("+09:00")
    infos = alert.findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in infos] == ["ja-JP", "en-US"]
    assert infos[0].findtext(f"{CAP}severity") == "Extreme" and infos[0].findtext(f"{CAP}urgency") == "Immediate"
    assert infos[1].findtext(f"{CAP}headline") == "Evacuate"
    assert infos[1].findtext(f"{CAP}description") == "直ちに避難"  # no English body: Japanese fallback
    assert [g.findtext(f"{CAP}value") for g in infos[0].iter(f"{CAP}geocode")] == ["39201", "39202"]

    assert harness.client.post(f"/api/v1/notifications/{nid}/cancel", headers=admin()).status_code == 200
    cancelled = ET.fromstring(harness.client.get(f"/api/v1/alerts/{nid}.cap").content)
    assert cancelled.findtext(f"{CAP}msgType") == "Cancel"
    assert f".alert.{nid}," in cancelled.findtext(f"{CAP}references", "")
    assert harness.client.get("/api/v1/alerts").json()["alerts"] == []


def test_alert_page_is_html_japanese_first_and_escaped(harness: Harness) -> None:
    nid = harness.notify(
        title={"ja": "<script>alert(1)</script>避難", "en": "Evacuate now"},
        body={"ja": "高台へ", "en": "Go to high ground"},
        severity="warning",
        target={"municipality_codes": ["39201"]},
    )
    r = harness.client.get(f"/alerts/{nid}", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "script-src" not in r.headers["content-security-policy"]
    assert html.index("高台へ") < html.index("Go to high ground")
    assert "高知市" in html and "発表中" in html
    assert "Go to high ground" not in harness.client.get(f"/alerts/{nid}").text
    assert "Go to high ground" in harness.client.get(f"/alerts/{nid}?lang=en").text

    data = harness.client.get(f"/api/v1/alerts/{nid}?lang=en").json()
    assert data["title"] == "Evacuate now" and set(data["translations"]) == {"ja", "en"}
    assert data["cap_url"].endswith(f"/api/v1/alerts/{nid}.cap")


def test_test_notifications_are_not_public(harness: Harness) -> None:
    nid = harness.notify(title={"ja": "試験"}, test=True, target={"municipality_codes": ["39201"]})
    assert harness.client.get(f"/api/v1/alerts/{nid}").status_code == 404
    assert harness.client.get(f"/alerts/{nid}").status_code == 404
    assert harness.client.get(f"/api/v1/alerts/{nid}.cap").status_code == 404


def test_an_operator_message_that_reached_nobody_can_be_cancelled_and_leaves_the_feeds(
    harness: Harness, ops: Ops
) -> None:
    sent = ops.send("kochi-city")  # nobody subscribes in 高知市: delivery finishes at once
    nid = ops.notification_of("kochi-city", sent["id"])
    assert harness.status(nid)["status"] == "done"
    assert [a["id"] for a in harness.client.get("/api/v1/alerts").json()["alerts"]] == [nid]
    c = ops.call("POST", f"/api/v1/messages/{sent['id']}/cancel", "kochi-city", json={"reason": "誤送信"})
    assert c.status_code == 200 and c.json()["status"] == "cancelled", c.text
    assert harness.status(nid)["status"] == "cancelled"
    assert harness.client.get("/api/v1/alerts").json()["alerts"] == []
    assert harness.client.get(f"/api/v1/alerts/{nid}").json()["active"] is False


def test_a_delivered_alert_that_is_cancelled_leaves_the_public_feeds(harness: Harness) -> None:
    resident = harness.subscribe("39201")
    nid = harness.notify(
        title={"ja": "避難指示"}, category="evacuation", severity="emergency", target={"municipality_codes": ["39201"]}
    )
    harness.run_worker(nid)
    assert len(harness.push.received(resident.device)) == 1 and harness.status(nid)["status"] == "done"
    assert [a["id"] for a in harness.client.get("/api/v1/alerts").json()["alerts"]] == [nid]
    assert harness.client.post(f"/api/v1/notifications/{nid}/cancel", headers=admin()).status_code == 200
    assert harness.client.get("/api/v1/alerts").json()["alerts"] == []
    status = harness.status(nid)
    assert (status["status"], status["sent"]) == ("cancelled", 1)  # withdrawn; what happened stays counted


def test_public_alert_and_its_cancel_are_valid_cap_12(harness: Harness) -> None:
    import xmlschema

    from tests.conftest import SHARED

    schema = xmlschema.XMLSchema(str(SHARED / "samples" / "cap" / "cap12.xsd"))  # read from ../shared
    harness.subscribe("39201")
    nid = harness.notify(
        title={"ja": "避難指示", "en": "Evacuate"},
        category="evacuation",
        severity="emergency",
        target={"municipality_codes": ["39201"]},
    )
    schema.validate(harness.client.get(f"/api/v1/alerts/{nid}.cap").content)
    assert harness.client.post(f"/api/v1/notifications/{nid}/cancel", headers=admin()).status_code == 200
    schema.validate(harness.client.get(f"/api/v1/alerts/{nid}.cap").content)
