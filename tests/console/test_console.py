"""The operator console in real headless Chromium against the real app, worker and local push service."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pushsvc.db import session_scope
from pushsvc.feeds import service as feeds
from pushsvc.feeds.models import RiverStation
from pushsvc.feeds.sources import load_sources
from tests.console.conftest import KOCHI, MUROTO, NANKOKU, SCREENSHOTS, ConsoleEnv

# The console is the same JavaScript on either database; the APIs it calls are tested on both elsewhere.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]


def open_console(
    browser: Any, env: ConsoleEnv, who: str, *, width: int = 1366, height: int = 900, touch: bool = False
) -> Any:
    context = browser.new_context(
        locale="ja-JP",
        viewport={"width": width, "height": height},
        accept_downloads=True,
        has_touch=touch,
        is_mobile=touch,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(env.url + "/console/")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("運用者トークン").fill(env.tokens[who])
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_selector("body[data-screen=compose] svg.map path.muni")
    return page


def inner_point(page: Any, code: str) -> dict[str, float]:
    """Screen coordinates of a point inside the municipality's outline, not covered by anything else."""
    point: dict[str, float] = page.evaluate(
        """code => { const p = document.querySelector(`#compose path[data-code="${code}"]`);
                     const svg = p.ownerSVGElement; const b = p.getBBox();
                     for (let i = 1; i < 20; i++) for (let j = 1; j < 20; j++) {
                       const pt = new DOMPoint(b.x + b.width * i / 20, b.y + b.height * j / 20);
                       if (!p.isPointInFill(pt)) continue;
                       const s = pt.matrixTransform(svg.getScreenCTM());
                       if (document.elementFromPoint(s.x, s.y) === p) return {x: s.x, y: s.y};
                     } return null; }""",
        code,
    )
    assert point, f"no clickable point inside {code}"
    return point


def click_on_map(page: Any, code: str, *, tap: bool = False) -> None:
    """A real pointer click (or tap) inside the municipality's outline, not a synthetic event."""
    point = inner_point(page, code)
    if tap:
        page.touchscreen.tap(point["x"], point["y"])
    else:
        page.mouse.click(point["x"], point["y"])


def shot(page: Any, name: str, *, full: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full)


def wait_for(predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_select_on_map_preview_send_test_message_watch_delivery_and_cancel(console: ConsoleEnv, browser: Any) -> None:
    page = open_console(browser, console, "pref")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("body").get_attribute("data-mode") == "test"  # a fresh tab starts as a drill
    assert "訓練モード" in page.locator("#mode-banner").inner_text()
    credit = page.locator("#compose .credit").inner_text()
    assert "国土数値情報" in credit and "国土交通省" in credit

    page.get_by_role("button", name="避難所開設").click()
    page.get_by_label("本文").fill(
        "高知市・南国市の各小学校に避難所を開設しました。食料・飲料水・常備薬を持って避難してください。"
    )
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages/preview") and r.status == 200):
        click_on_map(page, KOCHI)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages/preview") and r.status == 200) as last:
        click_on_map(page, NANKOKU)
    assert page.locator(f'path[data-code="{KOCHI}"]').get_attribute("aria-checked") == "true"
    assert page.locator(f'path[data-code="{NANKOKU}"]').get_attribute("aria-checked") == "true"
    assert last.value.request.post_data_json["target"]["municipality_codes"] == [KOCHI, NANKOKU]

    # The count on screen is the API's count for the same message.
    api = console.api(
        "POST",
        "/api/v1/messages/preview",
        json={
            "title": "x",
            "category": "evacuation",
            "severity": "warning",
            "test": True,
            "target": {"municipality_codes": [KOCHI, NANKOKU]},
        },
    ).json()
    assert api["recipients"] == 4  # four test devices; the one with two places counts once
    page.wait_for_selector(f'#recipients[data-count="{api["recipients"]}"]')
    shown = page.locator("#preview")
    assert "高知市" in shown.inner_text() and "南国市" in shown.inner_text()
    assert "英語" in shown.inner_text()  # by language
    assert page.locator(".phone .n-title").inner_text().startswith("【訓練】")
    shot(page, "compose")

    send = page.locator("#send")
    assert send.inner_text() == "訓練として送信（訓練用端末のみ）"
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages") and r.request.method == "POST") as posted:
        send.click()
    assert posted.value.status == 202
    message_id = posted.value.json()["id"]
    page.wait_for_selector("body[data-screen=message]")
    assert page.url.endswith(f"#/messages/{message_id}")

    # It reaches the local push service, decrypted, only on the test devices of the two cities.
    for name in ("kochi-test", "kochi-test-en", "both-test", "nankoku-test"):
        got = wait_for(lambda n=name: console.received(n))
        assert len(got) == 1, name
    assert "【訓練】" in str(console.received("kochi-test")[0])
    assert "避難所を開設しました" in str(console.received("kochi-test")[0])
    assert console.received("muroto-test") == [] and console.received("kochi-live") == []
    page.wait_for_selector("#delivery-status.done")
    assert page.locator('[data-counter="sent"]').inner_text() == "4"
    assert page.locator("#t100").inner_text() != "—"
    assert page.locator(".tag.test").first.is_visible()
    shot(page, "message-progress")

    # One click cancels: everyone who received it is told, and the message shows as cancelled.
    with page.expect_response(lambda r: r.url.endswith(f"/messages/{message_id}/cancel")) as cancelled:
        page.locator("#cancel").click()
    assert cancelled.value.status == 200
    page.wait_for_selector("#message-status.cancelled")
    got = wait_for(lambda: len(console.received("kochi-test")) == 2 and console.received("kochi-test"))
    assert "【取消】" in str(got[1])
    assert console.api("GET", f"/api/v1/messages/{message_id}").json()["status"] == "cancelled"
    assert page.errors == []


def test_municipal_operator_cannot_select_another_municipality_on_a_tablet(console: ConsoleEnv, browser: Any) -> None:
    page = open_console(browser, console, "muni", width=820, height=1180, touch=True)  # iPad Air, portrait
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    assert "高知市" in page.locator("#compose").inner_text()
    nankoku = page.locator(f'#compose path[data-code="{NANKOKU}"]')
    assert nankoku.get_attribute("aria-disabled") == "true"
    click_on_map(page, NANKOKU, tap=True)
    page.get_by_role("status").filter(has_text="担当外").wait_for()
    assert nankoku.get_attribute("aria-checked") == "false"
    assert page.get_by_role("button", name="県内全域").count() == 0
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages/preview")) as previewed:
        click_on_map(page, KOCHI, tap=True)
    assert previewed.value.status == 200
    assert page.locator(f'#compose path[data-code="{KOCHI}"]').get_attribute("aria-checked") == "true"
    # Keyboard: focus the disabled municipality and press Space; still not selected.
    nankoku.focus()
    page.keyboard.press("Space")
    assert nankoku.get_attribute("aria-checked") == "false"
    page.wait_for_selector("#recipients")
    shot(page, "compose-tablet")
    # The server refuses too, whatever a client sends.
    r = console.api(
        "POST",
        "/api/v1/messages/preview",
        as_="muni",
        json={"title": "x", "category": "evacuation", "target": {"municipality_codes": [KOCHI, MUROTO]}},
    )
    assert r.status_code == 403
    assert page.errors == []


def test_live_send_needs_confirmation_and_emergency_waits_for_a_second_operator(
    console: ConsoleEnv, browser: Any
) -> None:
    page = open_console(browser, console, "pref")
    page.get_by_label("訓練モード").uncheck()
    assert page.locator("body").get_attribute("data-mode") == "live"
    page.get_by_role("button", name="避難指示").click()
    page.get_by_label("本文").fill("潮江地区に避難指示を発令しました。危険な場所から全員避難してください。")
    page.locator("summary", has_text="翻訳").click()
    page.get_by_label("翻訳する言語を追加").select_option("en")
    page.locator('fieldset[data-lang="en"]').get_by_label("タイトル").fill("Evacuation order")
    page.locator('fieldset[data-lang="en"]').get_by_label("本文").fill("Evacuate now from Ushioe.")
    page.get_by_label("プレビューの言語").select_option("en")
    assert page.locator(".phone .n-title").inner_text() == "Evacuation order"  # live: no [TEST] mark
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages/preview") and r.status == 200):
        click_on_map(page, KOCHI)
    live = console.api(
        "POST",
        "/api/v1/messages/preview",
        json={
            "title": "x",
            "category": "evacuation",
            "severity": "emergency",
            "target": {"municipality_codes": [KOCHI]},
        },
    ).json()
    assert live["recipients"] == 4 and live["needs_approval"]  # live reaches every 高知市 resident
    page.wait_for_selector('#recipients[data-count="4"]')
    page.locator("#send").click()
    dialog = page.locator("dialog#confirm")
    assert dialog.locator("#confirm-count").inner_text() == "4 人"
    assert dialog.locator("#confirm-area").inner_text() == "高知市"
    assert "承認" in dialog.inner_text()
    dialog.get_by_role("button", name="やめる").click()  # the default: nothing is sent
    assert console.api("GET", "/api/v1/messages").json() == []
    page.locator("#send").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages") and r.request.method == "POST") as posted:
        dialog.locator("#confirm-ok").click()
    message_id = posted.value.json()["id"]
    page.wait_for_selector("#message-status.awaiting_approval")
    assert "自分が作成したメッセージは承認できません" in page.locator("#message").inner_text()
    assert console.received("kochi-live") == []

    second = open_console(browser, console, "pref2")
    second.goto(f"{console.url}/console/#/messages/{message_id}")
    second.wait_for_selector("#message-status.awaiting_approval")
    second.get_by_role("button", name="承認する").click()
    second.locator("dialog#confirm #confirm-ok").click()
    second.wait_for_selector("#delivery-status.done")
    got = wait_for(lambda: console.received("kochi-live"))
    assert "避難指示" in str(got[0]) and "【訓練】" not in str(got[0])
    assert "Evacuation order" in str(wait_for(lambda: console.received("kochi-test-en")))
    assert page.errors == [] and second.errors == []


def seed_feeds(env: ConsoleEnv) -> None:
    """One healthy and one failing source; three real Kochi gauges (thresholds from the shared sample)."""
    now = datetime.now(UTC)
    kriver, jma = load_sources(env.settings.feeds_file)
    with session_scope(env.db.sessionmaker) as s:
        feeds.record_success(s, feeds.get_source(s, kriver, now=now), kriver, now=now, changed=True)
        # (a source that never succeeded is unhealthy since issue 12; this one succeeded once, then failed)
        feeds.record_success(s, feeds.get_source(s, jma, now=now), jma, now=now, changed=True)
        for _ in range(3):
            feeds.record_failure(s, jma, "HTTP 503 Service Unavailable", now=now, max_backoff_s=3600)
        for code, name, river, muni, level, th in (
            ("3900000001", "下の内橋下流", "室津川", MUROTO, 7.6, (4.64, None, None, None, 7.44, None)),
            ("3900000004", "丹波屋敷橋", "野根川", "39301", 5.02, (3.86, None, None, None, 6.25, None)),
            ("3900000003", "小池中橋", "野根川", "39301", None, (0.78, None, None, None, 2.39, None)),
        ):
            stage = "danger" if level and level >= th[4] else "start" if level else "normal"
            s.add(
                RiverStation(
                    code=code,
                    source="k-river-kochi",
                    name=name,
                    river=river,
                    municipality=muni,
                    downstream=[muni],
                    lat=None,
                    lon=None,
                    start_level=th[0],
                    standby_level=th[1],
                    caution_level=th[2],
                    evacuation_level=th[3],
                    danger_level=th[4],
                    flooding_level=th[5],
                    level=level,
                    observed_at=now if level else None,
                    stage=stage,
                    updated_at=now,
                )
            )


def test_kpi_dashboard_and_feeds_panel(console: ConsoleEnv, browser: Any) -> None:
    console.api(
        "POST",
        "/api/v1/messages",
        json={
            "title": "断水のお知らせ",
            "body": "本町で断水しています。",
            "category": "area_info",
            "test": True,
            "target": {"municipality_codes": [KOCHI]},
        },
    )
    for _ in range(3):
        httpx.post(console.url + "/api/v1/kpi/events", json={"kind": "page_view_portal", "municipality": KOCHI})
    page = open_console(browser, console, "pref")
    page.get_by_role("link", name="KPI").click()
    page.wait_for_selector("#kpi .tiles")
    assert page.locator("#kpi .tile").first.locator("strong").inner_text() == "7"
    assert page.locator('#kpi path.muni[data-code="39201"]').get_attribute("data-step") == "5"
    with page.expect_download() as dl:
        page.get_by_role("button", name="CSV を出力").click()
    assert dl.value.suggested_filename.endswith(".csv")
    shot(page, "kpi", full=True)
    seed_feeds(console)
    page.get_by_role("link", name="情報源・河川").click()
    page.wait_for_selector("#feeds table.rivers")
    assert page.locator('tr[data-feed="jma-extra"]').get_attribute("class") == "warn"
    assert "失敗中" in page.locator('tr[data-feed="jma-extra"]').inner_text()
    assert "正常" in page.locator('tr[data-feed="k-river-kochi"]').inner_text()
    first = page.locator("table.rivers tbody tr").first
    assert first.get_attribute("data-station") == "3900000001"  # the one above its danger level comes first
    assert "氾濫危険" in first.inner_text() and "7.60 m" in first.inner_text()
    assert "川の防災情報" in page.locator("#feeds .credit").inner_text()
    shot(page, "feeds")
    assert page.errors == []


def test_draw_a_polygon_and_pick_a_saved_area(console: ConsoleEnv, browser: Any) -> None:
    square = [[133.52, 33.55], [133.545, 33.55], [133.545, 33.57], [133.52, 33.57], [133.52, 33.55]]
    r = console.api(
        "PUT",
        "/api/v1/area-presets/県庁周辺",
        json={
            "name": "県庁周辺",
            "description": "高知県庁の周り",
            "area": {"type": "Polygon", "coordinates": [square]},
        },
    )
    assert r.status_code == 200, r.text
    page = open_console(browser, console, "pref")
    page.get_by_label("タイトル").fill("給水のお知らせ")

    # Draw a triangle inside 南国市 with the pointer, close it with Enter.
    centre = inner_point(page, NANKOKU)
    page.get_by_role("button", name="範囲を描く").click()
    for dx, dy in ((-3, -3), (3, -3), (0, 3)):
        page.mouse.click(centre["x"] + dx, centre["y"] + dy)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages/preview")) as previewed:
        page.keyboard.press("Enter")
    body = previewed.value.request.post_data_json
    assert body["target"]["area"]["type"] == "Polygon" and len(body["target"]["area"]["coordinates"][0]) == 4
    assert previewed.value.status == 200 and NANKOKU in previewed.value.json()["municipalities"]
    assert page.locator("#compose .overlay path.area").count() == 1
    assert page.locator(f'#compose path[data-code="{NANKOKU}"]').get_attribute("class") == "muni touched"

    page.get_by_role("button", name="描いた範囲を消す").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages/preview")) as previewed:
        page.locator("#f-preset").select_option("県庁周辺")
    assert previewed.value.request.post_data_json["target"] == {"municipality_codes": [], "preset": "県庁周辺"}
    assert previewed.value.json()["municipalities"] == [KOCHI]
    page.wait_for_selector("#recipients")
    assert "登録範囲：県庁周辺" in page.locator("#compose .chips").inner_text()
    assert page.errors == []
