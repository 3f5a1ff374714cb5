"""避難情報 fixtures: the delivery harness with operators, 潮江地区 of 高知市 saved as a district, a 南国市
district, and real evacuation sites (a subset of the GSI data) around them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pushsvc.db import session_scope
from pushsvc.shelters import service as shelters
from pushsvc.shelters.loader import parse_path
from tests.conftest import SHARED, TestDatabase
from tests.fixtures.delivery import Harness
from tests.operators.conftest import KOCHI, Ops, devpush, devpush_server, harness, ops

__all__ = ["devpush", "devpush_server", "harness", "ops"]

NANKOKU, OTOYO = "39204", "39344"
CAP_SENDER = "bousai-system.pref.kochi.lg.jp"
# 潮江地区: south of the Kagami river, inside 高知市.
USHIOE = {
    "type": "Polygon",
    "coordinates": [[[133.520, 33.535], [133.550, 33.535], [133.550, 33.552], [133.520, 33.552], [133.520, 33.535]]],
}
NANKOKU_DISTRICT = {
    "type": "Polygon",
    "coordinates": [[[133.630, 33.570], [133.650, 33.570], [133.650, 33.585], [133.630, 33.585], [133.630, 33.570]]],
}
IN_USHIOE = (33.5450, 133.5350)
KOCHI_ELSEWHERE = (33.5597, 133.5311)  # 高知県庁, north of the river
OTOYO_TOWN = (33.7640, 133.6640)  # 大豊町役場
# Real sites of the GSI data (共通ID): designated for landslide and flood, and one for tsunami only.
USHIOE_SCHOOL = "E3920100484201"  # 潮江小学校: 洪水, 崖崩れ等, 津波
USHIOE_HALL = "E3920100445201"  # 潮江市民会館: 崖崩れ等
TAKESHIMA_PARK = "E3920100378201"  # 竹島公園: 崖崩れ等
TSUNAMI_ONLY = "E3920100204201"  # アステールＫ: 津波 only, closest to 潮江
SITES = {USHIOE_SCHOOL, USHIOE_HALL, TAKESHIMA_PARK, TSUNAMI_ONLY}


@dataclass
class Evac:
    ops: Ops
    h: Harness

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        return self.ops.call(method, path, who, **kwargs)

    def issue(self, who: str = "kochi-city", expect: int = 201, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "municipality_code": KOCHI,
            "level": 3,
            "hazards": ["landslide"],
            "area": {"kind": "districts", "districts": ["潮江地区"]},
            "reason": "土砂災害警戒情報の発表",
            "shelters": [],
        }
        body.update(fields)
        r = self.call("POST", "/api/v1/evacuation/orders", who, json=body)
        assert r.status_code == expect, r.text
        return dict(r.json())

    def change(self, order_id: int, who: str = "kochi-city", expect: int = 200, **fields: Any) -> dict[str, Any]:
        r = self.call("POST", f"/api/v1/evacuation/orders/{order_id}/change", who, json=fields)
        assert r.status_code == expect, r.text
        return dict(r.json())

    def lift(self, order_id: int, who: str = "kochi-city", expect: int = 200, **fields: Any) -> dict[str, Any]:
        r = self.call("POST", f"/api/v1/evacuation/orders/{order_id}/lift", who, json=fields)
        assert r.status_code == expect, r.text
        return dict(r.json())

    def open_sites(self, *site_ids: str, who: str = "kochi-city", capacity: str = "available") -> None:
        r = self.call(
            "POST",
            "/api/v1/shelters/states",
            who,
            json=[{"id": i, "open": True, "capacity": capacity} for i in site_ids],
        )
        assert r.status_code == 200, r.text

    def configure(self, **settings: Any) -> None:
        self.h.app.state.settings = self.h.app.state.settings.model_copy(update=settings)

    def portal(self, resident: Any) -> dict[str, Any]:
        r = self.h.client.get(
            f"/api/v1/portal/me?subscription={resident.id}", headers={"Authorization": f"Bearer {resident.token}"}
        )
        assert r.status_code == 200, r.text
        return dict(r.json())


def load_sites(h: Harness | TestDatabase, site_ids: set[str] | None = None) -> None:
    """Real GSI sites (a subset, so a test stays quick); importing again is what a yearly refresh does."""
    parsed = parse_path(SHARED / "samples" / "shelters" / "kochi_gsi_emergency_sites_merged.csv")
    wanted = [s for s in parsed.sites if site_ids is None or s.site_id in site_ids]
    db = h.db if isinstance(h, Harness) else h
    with session_scope(db.sessionmaker) as s:
        shelters.import_sites(s, wanted, source="test")


@pytest.fixture
def evac(ops: Ops) -> Evac:
    e = Evac(ops, ops.h)
    ops.add("nankoku-city", "municipality", (NANKOKU,))
    ops.add("kochi-city-2", "municipality", (KOCHI,))
    ops.add("saigai-system", "municipality", (KOCHI,))
    e.configure(evacuation_cap_sources=f"saigai-system={CAP_SENDER}")
    load_sites(ops.h, SITES)
    for who, code, name, area in (
        ("kochi-city", KOCHI, "潮江地区", USHIOE),
        ("nankoku-city", NANKOKU, "稲生地区", NANKOKU_DISTRICT),
    ):
        r = e.call(
            "PUT",
            f"/api/v1/evacuation/districts/{code}/{name}",
            who,
            json={"name": name, "name_en": "Ushioe" if code == KOCHI else "Inou", "area": area},
        )
        assert r.status_code == 200, r.text
    return e
