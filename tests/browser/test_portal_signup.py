"""The resident page's sign-up on a phone when things are not as they should be: iOS outside the Home Screen, a
push service that hangs, blocked notifications, an unreachable server, a place outside Kochi (real headless
Chromium, see ``portal_phone``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from pushsvc.db import session_scope
from pushsvc.subscriptions.models import Subscription
from tests.browser.portal_phone import (
    CHROMIUM,
    Phone,
    phone,
    shots,
    site,
)
from tests.fixtures.delivery import Harness, harness
from tests.webpush.conftest import devpush, devpush_server

__all__ = ["devpush", "devpush_server", "harness", "phone", "site"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")]


IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.4 Mobile/15E148 Safari/604.1"
)


@pytest.mark.phone(user_agent=IPHONE_SAFARI)
def test_ios_safari_outside_the_home_screen_sees_the_two_steps_instead_of_a_button(
    phone: Phone, tmp_path: Path
) -> None:
    phone.open()
    page = phone.page
    steps = page.get_by_role("region", name="iPhone・iPadで通知を受け取るには")
    assert steps.is_visible()
    assert steps.locator("ol li").count() == 2 and "共有ボタン" in steps.inner_text()
    assert "ホーム画面に追加" in steps.inner_text()
    picture = steps.get_by_role("img", name="共有ボタンと「ホーム画面に追加」の位置を示す図")
    assert picture.is_visible() and page.evaluate("document.getElementById('ios-picture').naturalWidth") > 0
    assert not page.locator("#subscribe").is_visible()  # no button that cannot work here
    page.screenshot(path=str(shots(tmp_path) / "ios-home-screen-steps.png"), full_page=True)
    assert phone.errors == [] and phone.foreign == []


@pytest.mark.phone(user_agent=IPHONE_SAFARI, init="Object.defineProperty(navigator, 'standalone', {value: true});")
def test_ios_home_screen_app_subscribes_normally(phone: Phone) -> None:
    phone.open()
    assert not phone.page.locator("#ios").is_visible()
    created = phone.subscribe("39201")
    assert created["places"][0]["municipality_code"] == "39201" and phone.errors == []


@pytest.mark.phone(push="hang")
def test_an_unreachable_push_service_times_out_with_a_message(phone: Phone, harness: Harness, tmp_path: Path) -> None:
    phone.open()
    page = phone.page
    page.locator(".place-muni").select_option("39201")
    page.locator("#subscribe").click()
    error = page.get_by_role("alert")
    error.filter(has_text="プッシュ通知サービスに接続できませんでした").wait_for(timeout=10_000)
    assert "登録しています" not in page.locator("#status").inner_text()
    assert page.locator("#subscribe").is_enabled()  # the resident can try again
    page.screenshot(path=str(shots(tmp_path) / "signup-timeout.png"), full_page=True)
    with session_scope(harness.db.sessionmaker) as s:
        assert s.execute(select(Subscription)).first() is None
    assert phone.errors == []


@pytest.mark.phone(permissions=[])
def test_blocked_notifications_say_how_to_allow_them(phone: Phone) -> None:
    phone.open()
    phone.page.evaluate("Notification.requestPermission = async () => 'denied'")
    phone.page.locator(".place-muni").select_option("39201")
    phone.page.locator("#subscribe").click()
    phone.page.get_by_role("alert").filter(has_text="通知がブロックされています").wait_for(timeout=10_000)
    assert "設定" in phone.page.get_by_role("alert").inner_text()


@pytest.mark.phone(
    geolocation={"latitude": 35.6812, "longitude": 139.7671},  # 東京駅
    permissions=["geolocation", "notifications"],
)
def test_an_unreachable_server_and_a_place_outside_kochi_have_their_own_messages(
    phone: Phone, harness: Harness
) -> None:
    harness.client.get("/api/v1/geo/locate?lat=33.5597&lon=133.5311")  # builds the point index (seconds, once)
    phone.open()
    page = phone.page
    page.locator(".place-here").click()
    page.get_by_role("alert").filter(has_text="高知県外の場所は登録できません").wait_for(timeout=10_000)
    page.route("**/api/v1/push/vapid-public-key", lambda route: route.abort())
    page.locator(".place-muni").select_option("39201")
    page.locator("#subscribe").click()
    page.get_by_role("alert").filter(has_text="サーバーに接続できませんでした").wait_for(timeout=10_000)
