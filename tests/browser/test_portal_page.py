"""The resident page as the resident's portal, in real headless Chromium at 390×844 (a phone).

Only ``pushManager.subscribe`` is replaced (no vendor push service is reachable here): it returns a subscription
of the local RFC 8030 push service, so the worker really encrypts, the push service really decrypts with the
subscriber's key, and the test hands the decrypted message to the page's own service worker to display.

Screenshots go to ``$PUSHSVC_SCREENSHOT_DIR`` when set (to be copied into docs/screenshots/ by hand), else to
the test's temporary directory: a test never rewrites a tracked file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pushsvc.db import session_scope
from pushsvc.feeds import service as feeds
from pushsvc.shelters import service as shelters
from pushsvc.subscriptions.models import Subscription
from tests.browser.portal_phone import (
    CHROMIUM,
    KAGAMI,
    PHONE,
    SHOW_IN_SERVICE_WORKER,
    Phone,
    deliver,
    phone,
    river_alert,
    set_level,
    shots,
    site,
)
from tests.fixtures.delivery import ADMIN, Harness, harness
from tests.webpush.conftest import devpush, devpush_server

__all__ = ["devpush", "devpush_server", "harness", "phone", "site"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")]


def test_subscribe_with_two_places_and_see_alerts_gauges_and_shelters_and_a_new_alert_without_reload(
    phone: Phone, harness: Harness, tmp_path: Path
) -> None:
    river = river_alert(harness)
    phone.open()
    phone.subscribe("39201", "39202")
    page = phone.page
    assert page.evaluate("document.activeElement.id") == "portal-h"  # focus moved to the new view
    kochi = page.locator(".place-view[data-municipality='39201']")
    muroto = page.locator(".place-view[data-municipality='39202']")
    assert "自宅：高知市" in kochi.locator("h3").inner_text() and "実家：室戸市" in muroto.locator("h3").inner_text()

    # In force at 高知市: the automatic river alert with its level, colour and action.
    alert = kochi.locator(f".alert[data-alert='{river}']")
    assert "level-4" in (alert.get_attribute("class") or "")
    assert alert.locator(".badge").inner_text() == "警戒レベル4相当"  # a gauge's level is 相当
    assert alert.locator(".action").inner_text() == "危険な場所から全員避難してください（避難指示の対象）。"
    assert alert.locator("a").get_attribute("href") == f"/alerts/{river}"
    assert muroto.locator(".alert").count() == 0 and "発表中の警報・避難情報はありません" in muroto.inner_text()
    # The gauge against its thresholds, with a chart; the nearest flood sites with distance and a map link.
    gauge = kochi.locator(f".river[data-station='{KAGAMI.code}']")
    assert "氾濫危険水位" in gauge.inner_text() and "3.70 m" in gauge.inner_text()
    assert gauge.locator("svg.chart line.th-danger").count() == 1 and gauge.locator("svg.chart circle").count() == 1
    assert "鏡川橋" in (gauge.locator("svg.chart").get_attribute("aria-label") or "")
    sites = kochi.locator(".shelters li")
    assert sites.count() >= 1 and "約" in sites.first.inner_text()
    assert (sites.first.locator("a").get_attribute("href") or "").startswith("https://maps.gsi.go.jp/#17/")
    page.screenshot(path=str(shots(tmp_path) / "portal-ja.png"), full_page=True)

    # Issued while the page is open: appears without a reload (ETag poll); the gauge chart grows.
    page.evaluate("window.__sameDocument = true")
    set_level(harness, 3.9)
    later = harness.notify(
        title={"ja": "室戸市 避難所開設"},
        body={"ja": "室戸市役所を開設しました。"},
        category="evacuation",
        severity="warning",
        target={"municipality_codes": ["39202"]},
    )
    muroto.locator(f".alert[data-alert='{later}']").wait_for(timeout=10_000)
    gauge.filter(has_text="3.90 m").wait_for(timeout=10_000)
    assert gauge.locator("svg.chart polyline").get_attribute("points").count(",") == 2  # two readings seen
    assert page.evaluate("window.__sameDocument") is True
    assert kochi.locator(f".alert[data-alert='{later}']").count() == 0  # only where it applies

    # Cancelled: it leaves "in force" and is listed among the place's recent alerts, opening its page.
    r = harness.client.post(f"/api/v1/notifications/{later}/cancel", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200
    muroto.locator(".recent a", has_text="室戸市 避難所開設").wait_for(timeout=10_000)
    assert muroto.locator(f".alert[data-alert='{later}']").count() == 0
    assert muroto.locator(".recent a").first.get_attribute("href") == f"/alerts/{later}"
    assert phone.errors == [] and phone.foreign == []


def test_important_notice_stays_until_acknowledged(phone: Phone, harness: Harness) -> None:
    phone.open()
    phone.subscribe("39201")
    from pushsvc.operators import accounts

    with session_scope(harness.db.sessionmaker) as s:
        _, token = accounts.create_operator(s, name="pref", role="prefecture", municipalities=())
    r = harness.client.post(
        "/api/v1/notices",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "title": {"ja": "断水のお知らせ"},
            "body": {"ja": "潮江地区で断水しています。"},
            "important": True,
            "municipality_codes": ["39201"],
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    notice = phone.page.locator(".notice.important", has_text="断水のお知らせ")
    notice.wait_for(timeout=10_000)
    notice.get_by_role("button", name="確認しました").click()
    notice.wait_for(state="detached", timeout=10_000)
    with phone.page.expect_response(lambda r: r.url.endswith("/api/v1/kpi/events")) as counted:
        phone.page.reload()
        phone.page.wait_for_selector("body[data-ready=true]")
    assert counted.value.request.post_data_json == {"kind": "page_view_portal", "municipality": "39201"}
    assert counted.value.status == 204  # opening the portal is counted as portal access
    phone.page.locator("#portal .place-view").first.wait_for()
    assert phone.page.locator(".notice").count() == 0 and phone.errors == []


@pytest.mark.phone(locale="en-US")
def test_an_english_browser_gets_an_english_page_and_english_notifications(
    phone: Phone, harness: Harness, tmp_path: Path
) -> None:
    phone.open()
    page = phone.page
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Kochi Prefecture disaster alerts"
    assert page.locator("#lang-select").input_value() == "en"
    page.get_by_label("Name (e.g. Home)").fill("Home")
    page.get_by_label("Municipality", exact=True).select_option("39201")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/subscriptions")) as posted:
        page.get_by_role("button", name="Get alerts").click()
    created = posted.value.json()
    assert created["lang"] == "en"  # stored: what the resident will receive
    page.locator("#portal .place-view").first.wait_for()
    nid = harness.notify(
        title={"ja": "避難所開設", "en": "Shelter open"},
        body={"ja": "高知市役所", "en": "Kochi City Hall"},
        category="evacuation",
        severity="warning",
        target={"municipality_codes": ["39201"]},
    )
    deliver(harness, nid)
    [got] = harness.push.received(phone.device)
    shown = phone.service_worker().evaluate(SHOW_IN_SERVICE_WORKER, got.json())
    assert shown == [
        {
            "title": "Shelter open",
            "body": "Kochi City Hall",
            "lang": "en",
            "tag": str(nid),
            "url": got.json()["notification"]["navigate"],
        }
    ]
    page.locator(f".alert[data-alert='{nid}']", has_text="Shelter open").wait_for(timeout=10_000)
    assert "In force now" in page.locator("#portal").inner_text()
    page.screenshot(path=str(shots(tmp_path) / "portal-en.png"), full_page=True)
    assert phone.errors == [] and phone.foreign == []


@pytest.mark.phone(locale="ko-KR")
def test_a_korean_browser_gets_korean_automatic_texts(phone: Phone, harness: Harness, tmp_path: Path) -> None:
    phone.open()
    assert phone.page.locator("html").get_attribute("lang") == "ko"
    assert phone.page.get_by_role("heading", level=1).inner_text() == "고치현 방재 푸시 알림"
    created = phone.subscribe("39201", labels=("집",))
    assert created["lang"] == "ko"
    nid = river_alert(harness)
    deliver(harness, nid)
    [got] = harness.push.received(phone.device)
    doc = got.json()
    assert doc["lang"] == "ko" and doc["title"] == "[경계 레벨 4 상당] [범람 위험 수위 초과] 鏡川橋 (鏡川)"
    assert "위험한 장소에서 전원 대피하십시오" in doc["body"] and "출처" in doc["body"]
    shown = phone.service_worker().evaluate(SHOW_IN_SERVICE_WORKER, doc)
    assert shown[0]["title"] == doc["title"] and shown[0]["lang"] == "ko"
    alert = phone.page.locator(f".alert[data-alert='{nid}']")
    alert.wait_for(timeout=10_000)
    assert alert.locator(".badge").inner_text() == "경계 레벨 4 상당"
    assert alert.locator(".action").inner_text() == "위험한 장소에서 전원 대피하십시오(대피 지시 대상)."
    phone.page.screenshot(path=str(shots(tmp_path) / "portal-ko.png"), full_page=True)
    assert phone.errors == [] and phone.foreign == []


def test_unsubscribe_asks_first_saying_what_is_deleted(phone: Phone, harness: Harness) -> None:
    phone.open()
    phone.subscribe("39201", "39202")
    page = phone.page
    page.get_by_role("button", name="通知を解除してデータを削除").click()
    dialog = page.get_by_role("dialog", name="通知を解除しますか？")
    assert dialog.is_visible() and "元には戻せません" in dialog.inner_text()
    assert "自宅（高知市）" in dialog.inner_text() and "実家（室戸市）" in dialog.inner_text()
    assert "現在地" in dialog.inner_text()
    dialog.get_by_role("button", name="やめる").click()
    with session_scope(harness.db.sessionmaker) as s:
        assert s.execute(select(Subscription)).first() is not None  # nothing deleted
    page.get_by_role("button", name="通知を解除してデータを削除").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        dialog.get_by_role("button", name="解除して削除する").click()
    assert deleted.value.status == 204
    page.get_by_role("status").filter(has_text="削除しました").wait_for()
    assert page.evaluate("document.activeElement.id") == "form-h"
    with session_scope(harness.db.sessionmaker) as s:
        assert s.execute(select(Subscription)).first() is None
    assert phone.errors == []


def test_offline_the_page_shows_the_last_state_marked_as_such(phone: Phone, harness: Harness, tmp_path: Path) -> None:
    river = river_alert(harness)
    phone.open()
    phone.subscribe("39201")
    page = phone.page
    page.locator(f".alert[data-alert='{river}']").wait_for()
    phone.context.set_offline(True)
    state = page.locator("#portal-state")
    state.filter(has_text="オフラインです").wait_for(timeout=10_000)
    assert page.locator(f".alert[data-alert='{river}']").is_visible()  # the last state, still shown
    # Opened again with no network: the service worker serves the page, which shows the last state, marked.
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    state.filter(has_text="オフラインです").wait_for(timeout=10_000)
    assert page.locator(f".alert[data-alert='{river}']").is_visible()
    assert page.get_by_role("heading", level=1).inner_text() == "高知県 防災プッシュ通知"
    page.screenshot(path=str(shots(tmp_path) / "portal-offline.png"), full_page=True)
    phone.context.set_offline(False)
    state.filter(has_text="更新").wait_for(timeout=10_000)
    assert "オフライン" not in state.inner_text()


def test_every_control_has_a_name_for_screen_readers(phone: Phone) -> None:
    phone.open()
    phone.page.locator("#add-place").click()
    unnamed = phone.page.evaluate("""() => [...document.querySelectorAll('input, select, button, a, img')]
        .filter((e) => e.offsetParent !== null)
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.alt
                       && !e.textContent.trim())
        .map((e) => e.outerHTML)""")
    assert unnamed == []
    # Text at 200 %: nothing overflows the phone's width.
    phone.page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1


def test_the_service_worker_shows_both_shapes_declarative_and_plain(phone: Phone, site: str) -> None:
    """Safari 18.4+ shows the declarative part itself; every other browser (and Safari with the worker
    running, ``mutable``) gets it through this worker, which also still reads the plain fields."""
    phone.open()
    phone.subscribe("39201")
    worker = phone.service_worker()
    declarative = {
        "web_push": 8030,
        "mutable": True,
        "notification": {
            "title": "大津波警報（発表）",
            "body": "ただちに高台へ",
            "navigate": site + "/alerts/7",
            "lang": "ja",
            "tag": "t7",
        },
    }
    assert worker.evaluate(SHOW_IN_SERVICE_WORKER, declarative) == [
        {"title": "大津波警報（発表）", "body": "ただちに高台へ", "lang": "ja", "tag": "t7", "url": site + "/alerts/7"}
    ]
    plain = {"id": "8", "title": "Shelter open", "body": "City Hall", "url": site + "/alerts/8", "lang": "en"}
    assert worker.evaluate(SHOW_IN_SERVICE_WORKER, plain) == [
        {"title": "Shelter open", "body": "City Hall", "lang": "en", "tag": "8", "url": site + "/alerts/8"}
    ]
    assert phone.errors == []


def test_the_chart_shows_readings_from_before_the_page_was_opened(
    phone: Phone, harness: Harness, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    earlier = [(now - timedelta(hours=h), v) for h, v in ((3, 2.8), (2, 3.1), (1, 3.4))]
    with session_scope(harness.db.sessionmaker) as s:  # what the feed kept before this phone ever opened the page
        feeds.record_readings(s, [(KAGAMI.code, at, v) for at, v in earlier])
    phone.open()
    phone.subscribe("39201")
    gauge = phone.page.locator(f".river[data-station='{KAGAMI.code}']")
    gauge.locator("svg.chart polyline").wait_for()
    assert gauge.locator("svg.chart polyline").get_attribute("points").count(",") == 4  # 3 kept + the latest
    assert "2.80, 3.10, 3.40, 3.70 m" in (gauge.locator("svg.chart").get_attribute("aria-label") or "")
    phone.page.screenshot(path=str(shots(tmp_path) / "portal-gauge-history.png"), full_page=True)
    # Opened again with no network: the chart still has every reading, from the last answer kept.
    page = phone.page
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)
    phone.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    page.locator("#portal-state").filter(has_text="オフラインです").wait_for(timeout=10_000)
    assert gauge.locator("svg.chart polyline").get_attribute("points").count(",") == 4
    phone.context.set_offline(False)
    assert phone.errors == [] and phone.foreign == []


def test_an_open_site_is_listed_before_a_nearer_closed_one_with_its_status(
    phone: Phone, harness: Harness, tmp_path: Path
) -> None:
    river_alert(harness)  # flood: the page lists flood sites
    phone.open()
    phone.subscribe("39201")
    sites = phone.page.locator(".place-view[data-municipality='39201'] .shelters li")
    sites.first.wait_for()
    ids = [sites.nth(i).get_attribute("data-site") for i in range(sites.count())]
    assert len(ids) == 3 and "開設中" not in sites.first.inner_text() and "未開設" in sites.first.inner_text()
    with session_scope(harness.db.sessionmaker) as s:  # 高知市 opens the third nearest; it is getting full
        shelters.set_states(s, [(str(ids[2]), True, "混雑")], by="高知市")
    first = sites.first
    first.filter(has_text="開設中").wait_for(timeout=10_000)  # without a reload (ETag poll)
    assert [sites.nth(i).get_attribute("data-site") for i in range(sites.count())] == [ids[2], ids[0], ids[1]]
    assert first.locator(".badge.open").inner_text() == "開設中"
    assert first.locator(".capacity").inner_text() == "混雑"
    second = sites.nth(1)
    assert "未開設" in second.inner_text() and second.locator(".badge.open").count() == 0
    phone.page.screenshot(path=str(shots(tmp_path) / "portal-open-shelter.png"), full_page=True)
    assert phone.errors == [] and phone.foreign == []
