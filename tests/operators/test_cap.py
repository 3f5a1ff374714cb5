"""CAP 1.2: the shared samples are accepted or refused with a clear reason; our own output is schema-valid."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from tests.operators.conftest import KOCHI_KENCHO, Ops

SHARED = Path(os.environ.get("PUSHSVC_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
CAP_DIR = SHARED / "samples" / "cap"
SAMPLES = sorted(p.name for p in CAP_DIR.glob("*.xml"))
CAP = {"Content-Type": "application/cap+xml"}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(CAP_DIR / "cap12.xsd"))  # read from the shared path, never copied


def kochi_alert(
    identifier: str = "KOCHI-1",
    msg_type: str = "Alert",
    references: str = "",
    area: str = "<polygon>33.485,133.560 33.485,133.590 33.510,133.590 33.510,133.560 33.485,133.560</polygon>",
    severity: str = "Severe",
    status: str = "Actual",
) -> bytes:
    expires = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>bousai@pref.kochi.lg.jp</sender>
  <sent>2026-11-23T10:00:00+09:00</sent><status>{status}</status><msgType>{msg_type}</msgType>
  <scope>Public</scope>{refs}
  <info><language>ja-JP</language><category>Geo</category><event>津波</event><urgency>Immediate</urgency>
    <severity>{severity}</severity><certainty>Observed</certainty><expires>{expires}</expires>
    <headline>桂浜周辺 津波避難</headline><description>高台へ避難してください。</description>
    <area><areaDesc>桂浜</areaDesc>{area}</area></info>
  <info><language>en-US</language><category>Geo</category><event>Tsunami</event><urgency>Immediate</urgency>
    <severity>{severity}</severity><certainty>Observed</certainty>
    <headline>Tsunami: evacuate Katsurahama</headline><area><areaDesc>Katsurahama</areaDesc>{area}</area></info>
</alert>""".encode()


def post_sample(ops: Ops, name: str) -> Any:
    """Post a shared sample; IPAWS embeds base64 audio (> the body limit), which is cut out first."""
    xml = re.sub(rb"<resource>.*?</resource>", b"", (CAP_DIR / name).read_bytes(), flags=re.S)
    return ops.call("POST", "/api/v1/cap", "pref-a", content=xml, headers=CAP)


@pytest.mark.parametrize("name", SAMPLES)
def test_shared_samples_are_refused_with_a_clear_reason_never_a_500(ops: Ops, name: str) -> None:
    r = post_sample(ops, name)
    # All are US alerts (or an Atom feed, too large to be one alert): nothing in Kochi to reach.
    assert r.status_code in (409, 413, 422), r.text
    problem = r.json()
    assert problem["field"] and problem["detail"] and r.headers["content-type"].startswith("application/problem")


def test_shared_samples_reasons_name_the_element_to_blame(ops: Ops) -> None:
    reasons = {n: post_sample(ops, n).json() for n in SAMPLES}
    assert {n: r["status"] for n, r in reasons.items() if r["status"] != 422} == {
        "ipaws-5e6dd9de023f1930ef6548d9.xml": 409,
        "nws_atom_feed_example.xml": 413,
    }
    assert reasons["ipaws-5e6dd9de023f1930ef6548d9.xml"]["field"] == "references"  # a Cancel of an unknown alert
    assert "geocode SAME" in reasons["ipaws-5ea321f39fc226a7b44b6874.xml"]["detail"]
    assert reasons["v1dot2_appendix_adot2.xml"]["field"] == "info[0].area[0].polygon[0]"
    assert reasons["google-PAAQ-4-mg5a94.xml"]["field"] == "info[0].area[0].circle[0]"  # Alaska
    assert all(r["field"] != "body" for r in reasons.values() if r["status"] == 422)


def test_kochi_alert_update_and_cancel_go_through_the_same_flow(ops: Ops, schema: xmlschema.XMLSchema) -> None:
    h = ops.h
    inside = h.subscribe((33.497, 133.575))
    elsewhere = h.subscribe(KOCHI_KENCHO)
    r = ops.call("POST", "/api/v1/cap", "kochi-city", content=kochi_alert(), headers=CAP)
    assert r.status_code == 202 and r.json()["recipients"] == 1 and r.json()["status"] == "sent", r.text
    mid = r.json()["id"]
    h.run_worker(ops.notification_of("kochi-city", mid))
    [got] = h.push.received(inside.device)
    assert got.json()["title"] == "桂浜周辺 津波避難" and h.push.received(elsewhere.device) == []

    ref = "bousai@pref.kochi.lg.jp,KOCHI-1,2026-11-23T10:00:00+09:00"
    upd = ops.call("POST", "/api/v1/cap", "kochi-city", content=kochi_alert("KOCHI-2", "Update", ref), headers=CAP)
    assert upd.status_code == 202 and upd.json()["status"] == "corrected", upd.text
    d = ops.get("kochi-city", mid)
    h.run_worker(ops.notification_of("kochi-city", d["follow_ups"][0]))
    assert h.push.received(inside.device)[1].json()["title"].startswith("【訂正】")

    for m in (mid, d["follow_ups"][0]):
        xml = ops.call("GET", f"/api/v1/messages/{m}.cap", "kochi-city")
        assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/cap+xml")
        schema.validate(xml.content)
    assert b"<references>" in ops.call("GET", f"/api/v1/messages/{d['follow_ups'][0]}.cap", "kochi-city").content

    again = ops.call("POST", "/api/v1/cap", "kochi-city", content=kochi_alert("KOCHI-3", "Cancel", ref), headers=CAP)
    assert again.status_code == 409  # already corrected: nothing left to cancel


def test_geocode_circle_and_emergency_via_cap(ops: Ops, schema: xmlschema.XMLSchema) -> None:
    geocode = "<geocode><valueName>JISX0402</valueName><value>392014</value></geocode>"
    r = ops.call(
        "POST", "/api/v1/cap", "pref-a", headers=CAP, content=kochi_alert("G-1", area=geocode, severity="Extreme")
    )
    assert r.status_code == 202 and r.json()["status"] == "awaiting_approval", r.text
    circle = "<circle>33.497,133.575 1.5</circle>"
    c = ops.call(
        "POST", "/api/v1/cap", "kochi-city", headers=CAP, content=kochi_alert("C-1", area=circle, status="Exercise")
    )
    assert c.status_code == 202, c.text
    assert ops.get("kochi-city", c.json()["id"])["title"]["ja"].startswith("【訓練】")
    for m in (r.json()["id"], c.json()["id"]):
        schema.validate(ops.call("GET", f"/api/v1/messages/{m}.cap", "pref-a").content)
    cancel = ops.call(
        "POST",
        "/api/v1/cap",
        "pref-a",
        headers=CAP,
        content=kochi_alert("G-2", "Cancel", "bousai@pref.kochi.lg.jp,G-1,2026-11-23T10:00:00+09:00"),
    )
    assert cancel.status_code == 202 and cancel.json()["status"] == "cancelled"


def test_own_messages_export_as_valid_cap(ops: Ops, schema: xmlschema.XMLSchema) -> None:
    ops.h.subscribe(KOCHI_KENCHO)
    sent = ops.send(
        "kochi-city",
        target={"municipality_codes": ["39201"], "circle": {"lat": 33.497, "lon": 133.575, "radius_m": 800}},
    )
    xml = ops.call("GET", f"/api/v1/messages/{sent['id']}.cap", "kochi-city").content
    schema.validate(xml)
    assert "高知市".encode() in xml and b"<polygon>" in xml


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (b"<alert", "body"),
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            b"&x;</alert>",
            "body",
        ),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>a</identifier></alert>', "sender"),
        (kochi_alert(status="Draft"), "status"),
        (
            kochi_alert(area="<polygon>33.5,139.7 33.6,139.7 33.6,139.8 33.5,139.7</polygon>"),
            "info[0].area[0].polygon[0]",
        ),
        (kochi_alert(area="<polygon>nonsense</polygon>"), "info[0].area[0].polygon[0]"),
        (
            kochi_alert(area="<geocode><valueName>SAME</valueName><value>006113</value></geocode>"),
            "info[0].area[0].geocode[0]",
        ),
        (kochi_alert(msg_type="Update"), "references"),
    ],
)
def test_bad_cap_is_a_problem_naming_the_element(ops: Ops, xml: bytes, field: str) -> None:
    r = ops.call("POST", "/api/v1/cap", "pref-a", content=xml, headers=CAP)
    assert r.status_code in (409, 422), r.text
    assert r.json()["field"] == field, r.json()


@pytest.mark.parametrize("msg_type", ["Alert", "Update", "Cancel"])
def test_a_reference_without_commas_is_a_422_naming_references(ops: Ops, msg_type: str) -> None:
    """CAP 1.2 references are whitespace-separated "sender,identifier,sent" triples: the evacuation reader's rule."""
    xml = kochi_alert(msg_type=msg_type, references="bousai@pref.kochi.lg.jp,KOCHI-0 KOCHI-1")
    r = ops.call("POST", "/api/v1/cap", "kochi-city", content=xml, headers=CAP)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "references"
    assert r.json()["detail"] == "references are 'sender,identifier,sent'"
