"""JMA Atom feed + telegrams served over loopback HTTP: Kochi telegrams reach the right residents, a 取消
reaches exactly the original recipients, and a malformed or foreign telegram never stops the poller."""

from __future__ import annotations

from collections.abc import Callable
from xml.etree import ElementTree as ET

from sqlalchemy import select

from pushsvc.db import session_scope
from pushsvc.delivery import service as delivery
from pushsvc.delivery.models import Notification
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.sources import SourceConfig
from pushsvc.webpush.sender import Outcome, PushResult
from tests.feeds.conftest import PollDriver
from tests.feeds.jma.kochi import AKI, CODES, KOCHI, MUROTO, kochi_warning, rewrite, sample
from tests.feeds.jma.publisher import JmaPublisher
from tests.fixtures.delivery import Harness

LANDSLIDE = "landslide/17_04_01_250630_VXWW50.xml"
EVENT = "高知県土砂災害警戒情報"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_kochi_telegrams_route_and_a_cancel_reaches_exactly_the_original_recipients(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    jma = JmaPublisher()
    with jma.server.running():
        kochi = [harness.subscribe(KOCHI[:5]) for _ in range(2)]
        muroto = harness.subscribe(MUROTO[:5], lang="en")
        aki = harness.subscribe(AKI[:5])
        issue = rewrite(sample(LANDSLIDE), {"1420600": KOCHI, "1438300": MUROTO}, event_id=EVENT)
        jma.publish(issue, "VXWW50", title="土砂災害警戒情報")
        jma.publish(issue[: len(issue) // 2], "VXWW50")  # truncated in transit: logged and skipped
        jma.publish(issue, "VXWW50", office="400000")  # 福岡: another office, not ours
        jma.publish(kochi_warning({AKI: [("大雨警報", "03", "発表")]}), "VPWW54")
        cfg = SourceConfig(
            name="jma-extra",
            kind="jma_atom",
            url=jma.server.url + "/feed.xml",
            interval_s=0.05,
            timeout_s=2.0,
            options={"codes_dir": str(CODES)},
        )
        driver = driver_factory(cfg)
        first = driver.poll()
        assert first.ok, first.error
        assert sorted((a.kind, a.municipalities) for a in first.sent) == [
            ("issued", ("39201", "39202")),
            ("issued", ("39203",)),
        ]
        harness.run_worker()
        landslide = [harness.push.received(r.device) for r in (*kochi, muroto)]
        assert all(len(got) == 1 for got in landslide)
        assert landslide[0][0].json()["category"] == "landslide" and "土砂災害" in landslide[0][0].json()["title"]
        assert "出典：気象庁" in landslide[0][0].json()["body"]
        [warning] = harness.push.received(aki.device)
        assert warning.json()["category"] == "weather"
        assert warning.json()["title"] == "【警戒レベル3相当】大雨警報（発表）"

        latecomer = harness.subscribe(KOCHI[:5])  # subscribed after the alert: must not get its correction
        assert driver.poll().changed is False  # unchanged feed: 304
        driver.restart()
        jma.publish(rewrite(sample(LANDSLIDE), {"1420600": KOCHI}, event_id=EVENT, info_type="取消"), "VXWW50")
        second = driver.poll()
        assert [(a.kind, a.municipalities) for a in second.sent] == [("cancel", ("39201", "39202"))]
        harness.run_worker()

    for r in (*kochi, muroto):
        got = harness.push.received(r.device)
        assert len(got) == 2
        assert "取り消" in got[1].json()["body"] or "withdrawn by JMA" in got[1].json()["body"]
    assert harness.push.received(latecomer.device) == []
    assert len(harness.push.received(aki.device)) == 1
    with harness.db.sessionmaker() as s:
        correction = s.execute(select(Notification).order_by(Notification.id.desc())).scalars().first()
        assert correction is not None and correction.reference_id is not None
        original = s.get(Notification, correction.reference_id)
        assert original is not None and original.category == "landslide"
        assert (correction.targeted, correction.sent) == (3, 3)
        row = s.execute(select(FeedSource)).scalar_one()
        assert row.state["malformed"] == 1 and row.consecutive_failures == 0 and len(row.state["seen"]) == 4


def test_a_cancel_of_a_report_that_became_several_notifications_withdraws_and_references_them_all(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    """One landslide event, reported for 高知市 then extended to 室戸市 (two notifications), then 取消.

    The second notification is still in a worker's hands when the 取消 arrives: the residents it reaches
    afterwards must get the correction too, which only works if the correction references it as well.
    """
    jma = JmaPublisher()
    with jma.server.running():
        kochi = harness.subscribe(KOCHI[:5])
        muroto = harness.subscribe(MUROTO[:5])
        both = harness.subscribe(KOCHI[:5], MUROTO[:5])  # lives in one, works in the other
        aki = harness.subscribe(AKI[:5])
        jma.publish(rewrite(sample(LANDSLIDE), {"1420600": KOCHI}, event_id=EVENT), "VXWW50")
        cfg = SourceConfig(
            name="jma-extra",
            kind="jma_atom",
            url=jma.server.url + "/feed.xml",
            interval_s=0.05,
            timeout_s=2.0,
            options={"codes_dir": str(CODES)},
        )
        driver = driver_factory(cfg)
        [first] = driver.poll().sent
        harness.run_worker()
        jma.publish(rewrite(sample(LANDSLIDE), {"1420600": KOCHI, "1438300": MUROTO}, event_id=EVENT), "VXWW50")
        [second] = driver.poll().sent  # 高知市 restated: nothing; 室戸市 is new
        assert (first.municipalities, second.municipalities) == (("39201",), ("39202",))
        with session_scope(harness.db.sessionmaker) as s:  # a slow worker takes the second one's batch
            claimed = delivery.claim_batch(s, worker_id="slow-worker", lease_seconds=60)
        assert claimed is not None and claimed[0].notification_id == second.notification_id

        jma.publish(
            rewrite(sample(LANDSLIDE), {"1420600": KOCHI, "1438300": MUROTO}, event_id=EVENT, info_type="取消"),
            "VXWW50",
        )
        [cancel] = driver.poll().sent
        with session_scope(harness.db.sessionmaker) as s:  # ...and reports afterwards that it delivered it
            delivery.record_results(
                s, claimed[0], {sid: PushResult(Outcome.SENT, 201, "") for sid in claimed[0].pending_ids}
            )
        harness.run_worker()

    originals = [first.notification_id, second.notification_id]
    assert cancel.kind == "cancel" and cancel.detail["corrects"] == originals
    with harness.db.sessionmaker() as s:
        correction = s.get(Notification, cancel.notification_id)
        assert correction is not None and correction.reference_id == first.notification_id
        assert delivery.references_of(s, correction.id) == originals
        assert [delivery.get_notification(s, n).status for n in originals] == ["cancelled", "cancelled"]
        assert (correction.targeted, correction.sent) == (3, 3)  # each resident once, however many they got
    titles = {r.id: [m.json()["title"] for m in harness.push.received(r.device)] for r in (kochi, muroto, both)}
    issued = "【警戒レベル4相当】土砂災害警戒情報（発表）"
    assert titles == {
        kochi.id: [issued, "土砂災害警戒情報（取消）"],
        muroto.id: ["土砂災害警戒情報（取消）"],  # the slow worker's delivery was simulated
        both.id: [issued, "土砂災害警戒情報（取消）"],
    }
    assert harness.push.received(aki.device) == []
    cap = ET.fromstring(harness.client.get(f"/api/v1/alerts/{cancel.notification_id}.cap").content)
    assert cap.findtext(f"{CAP}msgType") == "Update"
    assert [ref.split(",")[1].rsplit(".", 1)[1] for ref in cap.findtext(f"{CAP}references", "").split()] == [
        str(n) for n in originals
    ]
