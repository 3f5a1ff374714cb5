"""避難情報 in the console, in real Chromium: a 高知市 operator issues 高齢者等避難 for 潮江地区, raises it to
避難指示 with two shelters (a second operator approves it in their console), then lifts it; residents of
the district get three messages with the standard wording on one Topic, the rest of 高知市 none."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.console.conftest import KOCHI, NANKOKU, ConsoleEnv, Resident
from tests.console.test_console import open_console, shot, wait_for
from tests.evacuation.conftest import (
    IN_USHIOE,
    KOCHI_ELSEWHERE,
    NANKOKU_DISTRICT,
    SITES,
    USHIOE,
    load_sites,
)

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]


def subscribe_at(env: ConsoleEnv, name: str, lat: float, lon: float, vapid_key: str) -> None:
    device = env.push.subscribe(vapid_key=vapid_key)
    r = httpx.post(
        env.url + "/api/v1/subscriptions",
        timeout=10,
        json={
            "endpoint": env.push.endpoint(device),
            "keys": {"p256dh": device.keys.p256dh, "auth": device.keys.auth},
            "places": [{"label": "自宅", "lat": lat, "lon": lon}],
            "lang": "ja",
        },
    )
    assert r.status_code == 201, r.text
    env.residents[name] = Resident(name, r.json()["id"], device)


def confirm(page: Any, ok_text: str) -> None:
    dialog = page.locator("dialog#confirm")
    dialog.wait_for(state="visible")
    page.locator("#confirm-ok").filter(has_text=ok_text).click()
    dialog.wait_for(state="hidden")


def test_issue_raise_with_two_shelters_approve_and_lift_in_the_console(console: ConsoleEnv, browser: Any) -> None:
    load_sites(console.db, SITES)
    for code, name, area in ((KOCHI, "潮江地区", USHIOE), (NANKOKU, "稲生地区", NANKOKU_DISTRICT)):
        r = console.api("PUT", f"/api/v1/evacuation/districts/{code}/{name}", json={"name": name, "area": area})
        assert r.status_code == 200, r.text
    vapid = _vapid_key(console)
    subscribe_at(console, "ushioe", *IN_USHIOE, vapid_key=vapid)
    subscribe_at(console, "kencho", *KOCHI_ELSEWHERE, vapid_key=vapid)

    page = open_console(browser, console, "muni")
    page.get_by_label("訓練モード").uncheck()
    page.get_by_role("link", name="避難情報").click()
    page.wait_for_selector("body[data-screen=evacuation] #e-issue")
    assert page.locator("#e-muni option").all_inner_texts() == ["高知市"]  # 南国市 is not offered at all
    page.get_by_label("警戒レベル3　高齢者等避難").check()
    page.get_by_label("土砂災害").check()
    page.get_by_label("潮江地区").check()
    page.get_by_label("理由").fill("土砂災害警戒情報の発表")
    page.get_by_role("button", name="発令…").click()
    confirm(page, "高知市に高齢者等避難を発令")
    card = page.locator("article.order[data-level='3']")
    card.wait_for()
    assert "【警戒レベル3　高齢者等避難】 高知市 潮江地区" in card.inner_text()

    card.get_by_label("変更後のレベル").select_option("4")
    card.get_by_text("開設する避難場所を変える").click()
    card.get_by_label("潮江小学校").check()
    card.get_by_label("潮江市民会館").check()
    card.get_by_role("button", name="変更を発令").click()
    confirm(page, "避難指示（レベル4）に引き上げ")
    pending = page.locator("article.order .pending")
    pending.wait_for()
    message_id = pending.get_by_role("link").inner_text().removeprefix("メッセージ #")

    second = open_console(browser, console, "pref2")
    second.goto(f"{console.url}/console/#/messages/{message_id}")
    second.get_by_role("button", name="承認する").click()
    confirm(second, "承認して")
    raised = page.locator("article.order[data-level='4']")
    raised.wait_for(timeout=15_000)
    assert "潮江小学校（空き）、潮江市民会館（空き）" in raised.inner_text()
    shot(page, "evacuation")

    raised.get_by_role("button", name="解除").click()
    confirm(page, "避難指示を解除")
    page.wait_for_selector("#no-orders")

    got = wait_for(lambda: (m := console.received("ushioe")) and len(m) >= 3 and m)
    assert [m["title"] for m in got] == [
        "【警戒レベル3】高齢者等避難（高知市）",
        "【警戒レベル4】避難指示（高知市）",
        "【解除】避難指示（高知市）",
    ]
    assert got[1]["body"].startswith("高知市 潮江地区に避難指示を発令しました。危険な場所から全員避難してください。")
    assert "開設中の避難場所：潮江小学校、潮江市民会館" in got[1]["body"]
    topics = {r.topic for r in console.push.received(console.residents["ushioe"].device)}
    assert len(topics) == 1 and {m["tag"] for m in got} == topics
    assert console.received("kencho") == []

    refused = page.evaluate("""async () => {
        const r = await fetch('/api/v1/evacuation/orders', {method: 'POST', headers: {
            'Content-Type': 'application/json',
            Authorization: 'Bearer ' + sessionStorage.getItem('pushsvc.console.token')},
          body: JSON.stringify({municipality_code: '39204', level: 4, hazards: ['flood'],
                                area: {kind: 'districts', districts: ['稲生地区']}})});
        return [r.status, r.headers.get('content-type'), (await r.json()).field]; }""")
    assert refused == [403, "application/problem+json", "municipality_code"]
    assert page.errors == [] and second.errors == []


def _vapid_key(env: ConsoleEnv) -> str:
    r = httpx.get(env.url + "/api/v1/push/vapid-public-key", timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["public_key"])


def test_an_area_drawn_inside_the_municipality_is_issued_for_that_area(console: ConsoleEnv, browser: Any) -> None:
    page = open_console(browser, console, "muni")
    page.get_by_label("訓練モード").uncheck()
    page.get_by_role("link", name="避難情報").click()
    page.wait_for_selector("body[data-screen=evacuation] #e-issue")
    page.get_by_label("洪水").check()
    page.get_by_label("地図で範囲を描く").check()
    page.get_by_role("button", name="範囲を描く／完了").click()
    corners: list[dict[str, float]] = page.evaluate(
        """() => { const p = document.querySelector('#evacuation path[data-code="39201"]');
                   const svg = p.ownerSVGElement; const b = p.getBBox(); const d = 4;
                   for (let i = 2; i < 18; i++) for (let j = 2; j < 18; j++) {
                     const x = b.x + b.width * i / 20, y = b.y + b.height * j / 20;
                     const pts = [[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d]]
                       .map(([u, v]) => new DOMPoint(u, v));
                     if (!pts.every((q) => p.isPointInFill(q))) continue;
                     const ctm = svg.getScreenCTM();
                     return pts.map((q) => { const s = q.matrixTransform(ctm); return {x: s.x, y: s.y}; });
                   } return []; }"""
    )
    assert len(corners) == 4, "no room inside 高知市 to draw"
    for c in corners:
        page.mouse.click(c["x"], c["y"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#evacuation svg.map path.area")
    page.get_by_role("button", name="発令…").click()
    confirm(page, "高知市に高齢者等避難を発令")
    card = page.locator("article.order[data-level='3']")
    card.wait_for()
    assert "高知市の一部地域" in card.inner_text()
    [order] = console.api("GET", "/api/v1/evacuation/orders", as_="muni").json()
    assert (order["area_kind"], order["municipality"]["code"]) == ("polygon", KOCHI)
    public = httpx.get(console.url + "/api/v1/evacuation", timeout=10).json()["orders"]
    assert public[0]["area"]["type"] == "Polygon" and public[0]["area_label"] == "高知市の一部地域"
    assert page.errors == []
