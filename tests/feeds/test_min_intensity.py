"""The resident's minimum 震度 for earthquake reports: default 震度3, 1–5強 in the API, enforced on delivery."""

from __future__ import annotations

from tests.feeds.jma import kochi_seismic as tg
from tests.feeds.seismic_harness import Seismic, seismic

__all__ = ["seismic"]


def test_the_minimum_defaults_to_3_can_be_changed_and_is_refused_outside_1_to_5_strong(seismic: Seismic) -> None:
    s = seismic
    r = s.resident("39201")
    auth = {"Authorization": f"Bearer {r.token}"}
    assert s.h.client.get(f"/api/v1/subscriptions/{r.id}", headers=auth).json()["min_intensity"] == "3"
    bad = s.h.client.patch(f"/api/v1/subscriptions/{r.id}", json={"min_intensity": "6弱"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "min_intensity"
    ok = s.h.client.patch(f"/api/v1/subscriptions/{r.id}", json={"min_intensity": "5強"}, headers=auth)
    assert ok.status_code == 200 and ok.json()["min_intensity"] == "5強"

    s.accept(tg.report({"3920100": "5-"}))  # 5弱 in 高知市: below this resident's 5強
    s.deliver()
    assert s.got(r) == []
    s.accept(tg.report({"3920100": "5+"}, event_id="20261201110000"))
    s.deliver()
    [msg] = s.got(r)
    assert msg.json()["title"] == "震源・震度情報 高知市で震度5強" and msg.json()["severity"] == "warning"
