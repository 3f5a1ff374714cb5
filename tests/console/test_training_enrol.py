"""An operator enrols a training device from the console: one-time link + QR code, opened on the phone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushsvc.db import session_scope
from pushsvc.main import create_app
from pushsvc.operators import accounts
from pushsvc.subscriptions.models import Subscription
from tests.conftest import TestDatabase, serve_app
from tests.console.conftest import ConsoleEnv
from tests.console.test_console import open_console
from tests.fixtures.delivery import delivery_settings


@pytest.mark.browser
def test_console_link_makes_the_phone_a_training_device_once(db: TestDatabase, tmp_path: Path, browser: Any) -> None:
    with session_scope(db.sessionmaker) as s:
        _, token = accounts.create_operator(s, name="県防災-訓練係", role="prefecture")
    settings = delivery_settings(db, tmp_path)
    with serve_app(create_app(settings)) as url:
        settings_url = settings.model_copy(update={"public_base_url": url})
        env = ConsoleEnv(url, None, {"pref": token}, db=db, settings=settings_url)  # type: ignore[arg-type]
        created = httpx.post(
            url + "/api/v1/subscriptions",
            json={
                "endpoint": "http://127.0.0.1:9/push/phone-1",
                "keys": {
                    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                    "auth": "tBHItJI5svbpez7KI4CCXg",
                },
                "places": [{"label": "自宅", "municipality_code": "39201"}],
            },
        ).json()
        page = open_console(browser, env, "pref")
        page.get_by_role("link", name="訓練用端末").click()
        page.get_by_label("端末の名前").fill("県防災課 訓練用1")
        page.get_by_role("button", name="登録リンクを発行").click()
        link = page.locator("#enrol-url").inner_text()
        assert link.startswith(settings.public_base_url + "/enrol#code=")
        assert page.locator("#enrol-link img.qr").get_attribute("src").startswith("data:image/svg+xml")
        phone = browser.new_context(locale="ja-JP").new_page()
        phone.goto(url + "/")  # the resident page's origin holds the subscription, as after subscribing there
        phone.evaluate(
            "s => localStorage.setItem('pushsvc.subscription', s)",
            json.dumps({"id": created["id"], "token": created["token"]}),
        )
        phone.goto(url + "/enrol#code=" + link.split("#code=")[1])
        phone.get_by_role("button", name="この端末を訓練用端末にする").click()
        phone.wait_for_selector("body[data-enrol=done]")
        with db.sessionmaker() as s:
            assert s.get(Subscription, created["id"]).test_device is True  # type: ignore[union-attr]
        phone.goto("about:blank")
        phone.goto(url + "/enrol#code=" + link.split("#code=")[1])  # the same link a second time
        phone.get_by_role("button", name="この端末を訓練用端末にする").click()
        phone.wait_for_selector("body[data-enrol=failed]")
        assert "使用済みか期限切れ" in phone.locator("#enrol-status").inner_text()
        page.reload()
        page.wait_for_selector("#training-devices")
        assert "県防災課 訓練用1" in page.locator("#training-devices").inner_text()
        assert page.errors == []
