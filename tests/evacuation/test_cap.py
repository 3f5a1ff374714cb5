"""避難情報 as CAP 1.2 from the prefecture's system: the same result as the console, and refusals that
name the element and change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.evacuation.conftest import CAP_SENDER, IN_USHIOE, KOCHI_ELSEWHERE, USHIOE_HALL, USHIOE_SCHOOL, Evac
from tests.evacuation.test_orders import assert_three_standard_messages, received

CAP = "application/cap+xml"
USHIOE_CAP = "33.535,133.520 33.535,133.550 33.552,133.550 33.552,133.520 33.535,133.520"


def alert(
    identifier: str,
    *,
    msg_type: str = "Alert",
    level: str | None = "3",
    hazards: tuple[str, ...] = ("土砂災害",),
    shelters: tuple[str, ...] = (),
    area: str | None = None,
    references: str = "",
    sender: str = CAP_SENDER,
    reason: str = "土砂災害警戒情報の発表",
    extra_params: str = "",
) -> bytes:
    params = (
        "".join(
            f"<parameter><valueName>{n}</valueName><value>{v}</value></parameter>"
            for n, v in ([("EvacuationLevel", level)] if level is not None else [])
            + [("Hazard", h) for h in hazards]
            + [("Shelter", s) for s in shelters]
            + [("Reason", reason)]
        )
        + extra_params
    )
    if area is None:
        area = "<areaDesc>潮江地区</areaDesc><geocode><valueName>JIS X 0402</valueName><value>392014</value></geocode>"
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>{sender}</sender><sent>2026-12-01T20:00:00+09:00</sent>
  <status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}
  <info><language>ja-JP</language><category>Safety</category><event>避難情報</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Observed</certainty><headline>避難情報</headline>{params}
    <area>{area}</area></info>
</alert>""".encode()


def post(evac: Evac, xml: bytes, who: str = "saigai-system") -> Any:
    return evac.call("POST", "/api/v1/evacuation/cap", who, content=xml, headers={"Content-Type": CAP})


def ref(identifier: str) -> str:
    return f"{CAP_SENDER},{identifier},2026-12-01T20:00:00+09:00"


def test_cap_issue_update_cancel_reaches_residents_exactly_like_the_console(evac: Evac) -> None:
    inside = evac.h.subscribe(IN_USHIOE)
    elsewhere = evac.h.subscribe(KOCHI_ELSEWHERE)
    evac.open_sites(USHIOE_SCHOOL, USHIOE_HALL, who="saigai-system")
    r = post(evac, alert("kochi-0001"))
    assert r.status_code == 202, r.text
    o = r.json()
    assert (o["status"], o["level"], o["source"], o["districts"]) == ("in_force", 3, "cap", ["潮江地区"])
    evac.h.run_worker()
    r = post(
        evac,
        alert(
            "kochi-0002",
            msg_type="Update",
            level="4",
            shelters=(USHIOE_SCHOOL, USHIOE_HALL),
            references=ref("kochi-0001"),
        ),
    )
    assert r.status_code == 202, r.text
    assert r.json()["pending"]["level"] == 4  # an emergency from a system still waits for an operator
    r = evac.call("POST", f"/api/v1/messages/{r.json()['pending']['message_id']}/approve", "kochi-city")
    assert r.status_code == 200, r.text
    evac.h.run_worker()
    r = post(
        evac,
        alert(
            "kochi-0003",
            msg_type="Cancel",
            level=None,
            hazards=(),
            references=f"{ref('kochi-0001')} {ref('kochi-0002')}",
        ),
    )
    assert r.status_code == 202 and r.json()["status"] == "lifted", r.text
    evac.h.run_worker()
    assert_three_standard_messages(evac, inside, o["topic"])
    assert received(evac, elsewhere) == []
    assert evac.h.client.get("/api/v1/evacuation").json()["orders"] == []


def test_a_cap_polygon_inside_one_municipality_is_a_drawn_area(evac: Evac) -> None:
    inside, elsewhere = evac.h.subscribe(IN_USHIOE), evac.h.subscribe(KOCHI_ELSEWHERE)
    r = post(evac, alert("kochi-0010", area=f"<areaDesc>潮江</areaDesc><polygon>{USHIOE_CAP}</polygon>"))
    assert r.status_code == 202, r.text
    assert (r.json()["area_kind"], r.json()["municipality"]["code"]) == ("polygon", "39201")
    evac.h.run_worker()
    assert len(received(evac, inside)) == 1 and received(evac, elsewhere) == []


TOKYO = "<areaDesc>千代田区</areaDesc><geocode><valueName>JIS X 0402</valueName><value>131016</value></geocode>"
TOKYO_POLYGON = "<areaDesc>東京</areaDesc><polygon>35.68,139.75 35.68,139.77 35.70,139.77 35.68,139.75</polygon>"
ACROSS = "<areaDesc>境</areaDesc><polygon>33.55,133.58 33.55,133.66 33.58,133.66 33.58,133.58 33.55,133.58</polygon>"
NANKOKU = "<areaDesc>稲生地区</areaDesc><geocode><valueName>JIS X 0402</valueName><value>392049</value></geocode>"


@pytest.mark.parametrize(
    ("xml", "who", "status", "field"),
    [
        (b"<alert>not closed", "saigai-system", 422, "body"),
        (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'/>", "saigai-system", 422, "alert"),
        (alert("x1", level=None), "saigai-system", 422, "info[0].parameter.EvacuationLevel"),
        (alert("x2", level="6"), "saigai-system", 422, "info[0].parameter.EvacuationLevel"),
        (alert("x3", hazards=("隕石",)), "saigai-system", 422, "info[0].parameter.Hazard"),
        (alert("x4", area=TOKYO), "saigai-system", 422, "info[0].area[0].geocode[0]"),
        (alert("x5", area=TOKYO_POLYGON), "saigai-system", 422, "info[0].area[0].polygon"),
        (alert("x6", area=ACROSS), "saigai-system", 422, "info[0].area[0].polygon"),
        (
            alert(
                "x7",
                area="<areaDesc>存在しない地区</areaDesc><geocode><valueName>JIS X 0402</valueName>"
                "<value>392014</value></geocode>",
            ),
            "saigai-system",
            422,
            "info[0].area[0].areaDesc",
        ),
        (alert("x8", msg_type="Update", level="4", references=ref("never-sent")), "saigai-system", 409, "references"),
        (alert("x8b", msg_type="Update", level="4", references="never-sent"), "saigai-system", 422, "references"),
        (alert("x9", shelters=("E3920100204201",)), "saigai-system", 422, "shelters"),  # a tsunami-only site
        (alert("x10", area=NANKOKU), "saigai-system", 403, "municipality_code"),  # beyond the source's scope
        (alert("x11", sender="someone-else.example"), "saigai-system", 403, "sender"),
        (alert("x12"), "kochi-city", 403, "Authorization"),  # an operator account that is not a CAP source
    ],
)
def test_malformed_or_out_of_area_cap_is_refused_and_changes_nothing(
    evac: Evac, xml: bytes, who: str, status: int, field: str
) -> None:
    resident = evac.h.subscribe(IN_USHIOE)
    evac.open_sites("E3920100204201")
    r = post(evac, xml, who)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field and r.json()["detail"]
    assert evac.call("GET", "/api/v1/evacuation/orders?include_lifted=true", "pref-a").json() == []
    assert evac.call("GET", "/api/v1/messages", "pref-a").json() == []
    evac.h.run_worker()
    assert received(evac, resident) == []
