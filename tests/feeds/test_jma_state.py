"""Kochi telegrams built from the real samples, served over loopback HTTP through the poller, the worker
and the local push service: one message per real change with its 警戒レベル and action, a 取消 that
reaches exactly the residents the cancelled telegram reached, and public feeds that show what is in force."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import select

from pushsvc.delivery import service as delivery
from pushsvc.delivery.models import Notification
from pushsvc.portal import alerts as portal_alerts
from tests.feeds.conftest import PollDriver
from tests.feeds.jma.kochi import AKI, KOCHI, MUROTO, kochi_warning
from tests.feeds.jma.publisher import JmaPublisher
from tests.fixtures.delivery import Harness, Resident

NANKOKU = "3920400"  # 南国市 → 39204
ATOM = "{http://www.w3.org/2005/Atom}"
DAY = datetime(2026, 6, 2, 6, 0, tzinfo=UTC)  # 15:00 JST


def _at(hours: float) -> str:
    return (DAY + timedelta(hours=hours)).astimezone().isoformat()


def _messages(harness: Harness, r: Resident) -> list[dict[str, Any]]:
    """In the order they were sent (workers deliver batches concurrently, so arrival order may differ)."""
    return sorted((m.json() for m in harness.push.received(r.device)), key=lambda m: int(m["id"]))


def _listed(harness: Harness, code: str) -> list[dict[str, Any]]:
    return harness.client.get("/api/v1/alerts", params={"municipality": code}).json()["alerts"]


def _poll(driver: PollDriver) -> list[str]:
    result = driver.poll()
    assert result.ok, result.error
    return [a.kind for a in result.sent]


def test_advisory_warning_emergency_switch_back_and_lift_for_kochi_city(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    jma = JmaPublisher()
    with jma.server.running():
        kochi, kochi_en, muroto = (
            harness.subscribe(KOCHI[:5]),
            harness.subscribe(KOCHI[:5], lang="en"),
            harness.subscribe(MUROTO[:5]),
        )
        driver = driver_factory(jma.source())
        waves = ("波浪注意報", "16", "発表")
        sequence = [
            {KOCHI: [("大雨注意報", "10", "発表")], MUROTO: [waves]},
            {KOCHI: [("大雨警報", "03", "注意報から警報"), ("洪水注意報", "18", "発表")], MUROTO: [waves]},
            {KOCHI: [("大雨特別警報", "33", "発表"), ("洪水注意報", "18", "継続")], MUROTO: [waves]},
            {KOCHI: [("大雨警報", "03", "特別警報から警報"), ("洪水注意報", "18", "継続")], MUROTO: [waves]},
            {KOCHI: [("大雨警報", "03", "解除"), ("洪水注意報", "18", "解除")], MUROTO: [waves]},
            {KOCHI: [], MUROTO: [waves]},  # restated once more: nothing new
        ]
        for i, areas in enumerate(sequence):
            jma.publish(kochi_warning(areas, report_datetime=_at(i)), "VPWW54", title="気象警報・注意報")
            _poll(driver)
        harness.run_worker()
        portal = harness.client.get(
            f"/api/v1/portal/me?subscription={kochi.id}", headers={"Authorization": f"Bearer {kochi.token}"}
        ).json()
        atom = ET.fromstring(harness.client.get("/api/v1/alerts.atom", params={"municipality": "39201"}).content)

    got = _messages(harness, kochi)
    assert [m["title"] for m in got] == [
        "【警戒レベル2相当】大雨注意報（発表）",
        "【警戒レベル3相当】大雨警報（大雨注意報から切替）ほか",
        "【警戒レベル5相当】大雨特別警報（大雨警報から切替）",
        "【警戒レベル3相当】大雨警報（大雨特別警報から切替）",
        "大雨警報、洪水注意報（解除）",  # two 解除 in one telegram: one message
    ]
    bodies = [m["body"] for m in got]
    assert "ハザードマップ" in bodies[0] and "警戒レベル2相当" in bodies[0]
    assert "高知市の大雨注意報は大雨警報に切り替わりました。" in bodies[1] and "洪水注意報が発表されました" in bodies[1]
    assert "高齢者等は危険な場所から避難" in bodies[1]
    assert "命を守る行動" in bodies[2] and "警戒レベル5相当" in bodies[2]
    assert "高知市の大雨特別警報は大雨警報に切り替わりました。" in bodies[3] and "高齢者等" in bodies[3]
    assert "高知市の大雨警報、洪水注意報は解除されました。" in bodies[4]
    assert [m["severity"] for m in got] == ["advisory", "warning", "emergency", "warning", "info"]
    english = [m["body"] for m in _messages(harness, kochi_en)]
    assert "Alert level 5 equivalent: Lives are in danger" in english[2] and "lifted" in english[4]
    assert [m["title"] for m in _messages(harness, muroto)] == ["波浪注意報（発表）"]  # restated 5 times: once

    assert _listed(harness, "39201") == [] and atom.findall(f"{ATOM}entry") == []
    assert [p["alerts"] for p in portal["places"]] == [[]]
    [waves_listed] = _listed(harness, "39202")
    assert waves_listed["title"] == "波浪注意報（発表）" and waves_listed["issued_at"].startswith("2026-06-02T06:00")
    assert waves_listed["confirmed_at"].startswith("2026-06-02T11:00")  # the last telegram that restated it


def test_a_warning_restated_for_20_hours_stays_listed_for_20_hours(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    jma = JmaPublisher()
    with jma.server.running():
        harness.subscribe(MUROTO[:5])
        driver = driver_factory(jma.source())
        for hour in range(21):
            status = "発表" if hour == 0 else "継続"
            jma.publish(kochi_warning({MUROTO: [("大雨警報", "03", status)]}, report_datetime=_at(hour)), "VPWW54")
            assert _poll(driver) == (["issued"] if hour == 0 else [])
        [listed] = _listed(harness, "39202")
        assert listed["confirmed_at"].startswith("2026-06-03T02:00") and listed["level"] == 3
        with harness.db.sessionmaker() as s:  # 20 hours on, as the clock sees it: still in force
            later = datetime.now(UTC) + timedelta(hours=20)
            [n] = portal_alerts.public_alerts(s, municipality="39202", category=None, now=later)
            assert (
                n.id == listed["id"] and delivery.get_notification(s, n.id).expires_at.replace(tzinfo=UTC) < later
            )  # its push TTL ran out long ago; what is in force did not


def test_a_cancel_reaches_exactly_the_residents_the_cancelled_telegram_notified(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    jma = JmaPublisher()
    with jma.server.running():
        towns = {"39201": 3, "39202": 2, "39204": 2, "39203": 1}
        people = {code: [harness.subscribe(code) for _ in range(n)] for code, n in towns.items()}
        driver = driver_factory(jma.source())
        waves, rain = ("波浪注意報", "16", "発表"), ("大雨注意報", "10", "発表")
        jma.publish(
            kochi_warning({MUROTO: [waves], NANKOKU: [rain], KOCHI: [], AKI: []}, report_datetime=_at(0)), "VPWW54"
        )
        assert _poll(driver) == ["issued", "issued"]
        harness.run_worker()
        warning = {
            KOCHI: [("大雨警報", "03", "発表")],
            MUROTO: [("波浪注意報", "16", "継続")],
            NANKOKU: [("大雨注意報", "10", "継続")],
            AKI: [],
        }
        jma.publish(kochi_warning(warning, report_datetime=_at(1)), "VPWW54")
        assert _poll(driver) == ["issued"]
        harness.run_worker()
        latecomer = harness.subscribe("39204")  # never received the warning
        before = {code: [len(harness.push.received(r.device)) for r in rs] for code, rs in people.items()}
        jma.publish(kochi_warning(warning, report_datetime=_at(1), info_type="取消"), "VPWW54")
        assert _poll(driver) == ["cancel"]
        harness.run_worker()

    after = {code: [len(harness.push.received(r.device)) for r in rs] for code, rs in people.items()}
    corrected = {code: sum(a - b for a, b in zip(after[code], before[code], strict=True)) for code in towns}
    assert corrected == {"39201": 3, "39202": 0, "39204": 0, "39203": 0}
    assert harness.push.received(latecomer.device) == []
    last = _messages(harness, people["39201"][0])[-1]
    assert last["title"] == "大雨警報（取消）" and "気象庁により取り消されました" in last["body"]
    # state: 高知市 back to nothing; 室戸市 and 南国市 keep what the older telegram said, and it is not withdrawn
    assert _listed(harness, "39201") == []
    assert [a["title"] for a in _listed(harness, "39202")] == ["波浪注意報（発表）"]
    assert [a["title"] for a in _listed(harness, "39204")] == ["【警戒レベル2相当】大雨注意報（発表）"]
    with harness.db.sessionmaker() as s:
        sent = list(
            s.execute(select(Notification).where(Notification.source == "jma").order_by(Notification.id)).scalars()
        )
    assert [(n.status, n.reference_id) for n in sent] == [
        ("done", None),
        ("done", None),  # the older telegram's: not withdrawn
        ("cancelled", None),  # the cancelled telegram's
        ("done", sent[2].id),
    ]  # the correction, referencing it


def test_a_correction_tells_only_the_municipalities_whose_situation_changed(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    jma = JmaPublisher()
    with jma.server.running():
        kochi, muroto = harness.subscribe(KOCHI[:5]), harness.subscribe(MUROTO[:5])
        driver = driver_factory(jma.source())
        warning = ("大雨警報", "03", "発表")
        jma.publish(kochi_warning({KOCHI: [warning], MUROTO: [warning]}, report_datetime=_at(0)), "VPWW54")
        assert _poll(driver) == ["issued"]
        fixed = {KOCHI: [warning], MUROTO: [("大雨注意報", "10", "発表")]}  # 室戸市 was only an advisory
        jma.publish(kochi_warning(fixed, report_datetime=_at(0), info_type="訂正"), "VPWW54")
        assert _poll(driver) == ["corrected"]
        harness.run_worker()
    assert [m["title"] for m in _messages(harness, kochi)] == ["【警戒レベル3相当】大雨警報（発表）"]
    [_, correction] = _messages(harness, muroto)
    assert correction["title"] == "【警戒レベル2相当】大雨注意報（訂正）"
    assert "室戸市の大雨警報は誤りで、正しくは大雨注意報です。" in correction["body"]
    assert [a["level"] for a in _listed(harness, "39202")] == [2]
    assert [a["level"] for a in _listed(harness, "39201")] == [3]
