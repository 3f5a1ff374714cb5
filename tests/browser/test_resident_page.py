"""The resident page in real headless Chromium: subscribe at 高知県庁 with the current location, then unsubscribe.

Only ``pushManager.subscribe`` is replaced (the vendor's push service is not reachable here): it returns a
subscription built from real test keys, so the server validates it exactly as it would a browser's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from pushsvc.kpi import service as kpi
from pushsvc.main import create_app
from pushsvc.subscriptions.models import Subscription, SubscriptionPlace
from pushsvc.webpush.vapid import b64url_decode
from tests.conftest import TestDatabase, serve_app
from tests.fixtures.subscriptions import KOCHI_PREF_OFFICE, browser_keys, new_endpoint

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")]


@pytest.fixture
def server(db: TestDatabase, tmp_path: Path) -> Iterator[str]:
    with serve_app(create_app(db.settings(vapid_key_file=tmp_path / "vapid.pem"))) as url:
        yield url


FAKE_PUSH = """
(() => {
  const sub = %s;
  let active = null;
  PushManager.prototype.subscribe = async function (options) {
    window.__subscribeOptions = options;
    active = { endpoint: sub.endpoint, toJSON: () => sub, unsubscribe: async () => { active = null; return true; } };
    return active;
  };
  PushManager.prototype.getSubscription = async function () { return active; };
})();
"""


def _rows(db: TestDatabase) -> tuple[int, int]:
    with db.sessionmaker() as s:
        return (
            s.execute(select(func.count()).select_from(Subscription)).scalar_one(),
            s.execute(select(func.count()).select_from(SubscriptionPlace)).scalar_one(),
        )


def _page_views(db: TestDatabase) -> int:
    with db.sessionmaker() as s:
        today = kpi.jst_day(datetime.now(UTC))
        return sum(n for (_, kind, _, _), n in kpi.counts(s, today, today).items() if kind == "page_view_resident")


def test_subscribe_with_current_location_then_unsubscribe(server: str, db: TestDatabase) -> None:
    fake = {"endpoint": new_endpoint(), "expirationTime": None, "keys": browser_keys()}
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(
            locale="ja-JP",
            geolocation={"latitude": KOCHI_PREF_OFFICE[0], "longitude": KOCHI_PREF_OFFICE[1]},
            permissions=["geolocation", "notifications"],
        )
        context.add_init_script(FAKE_PUSH % json.dumps(fake))
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            with page.expect_response(lambda r: r.url.endswith("/api/v1/kpi/events")) as viewed:
                page.goto(server + "/")
                page.wait_for_selector("body[data-ready=true]", timeout=10_000)
            assert viewed.value.status == 204 and _page_views(db) == 1  # counted, with nothing identifying
            assert page.locator("html").get_attribute("lang") == "ja"
            assert page.get_by_role("heading", level=1).inner_text() == "高知県 防災プッシュ通知"

            # English chosen, and back: every visible label follows.
            page.get_by_label("表示言語").select_option("en")
            page.locator("html[lang=en]").wait_for(state="attached")
            assert page.get_by_label("Also alert me for the municipality I am in (use my location)").is_visible()
            page.get_by_label("Language").select_option("ja")
            page.locator("html[lang=ja]").wait_for(state="attached")

            page.get_by_label("今いる市町村の情報も受け取る（現在地を使う）").check()
            page.get_by_label("名前（例：自宅）").fill("自宅")
            page.get_by_label("市町村", exact=True).select_option("39202")
            with page.expect_response(lambda r: r.url.endswith("/api/v1/subscriptions")) as posted:
                page.get_by_role("button", name="通知を受け取る").click()
            response = posted.value
            assert response.status == 201, response.text()
            body = response.json()
            assert body["current_location"]["municipality_code"] == "39201"
            assert [p["municipality_code"] for p in body["places"]] == ["39202"]
            assert body["endpoint"] == fake["endpoint"]
            # The browser subscribed with the server's VAPID key.
            key_len = page.evaluate("window.__subscribeOptions.applicationServerKey.byteLength")
            assert key_len == 65

            settings_view = page.get_by_role("region", name="登録内容")
            settings_view.wait_for()
            assert page.locator("#current-municipality").inner_text() == "高知市"
            assert "室戸市" in page.locator("#registered-places").inner_text()
            assert page.evaluate("JSON.parse(localStorage.getItem('pushsvc.subscription')).id") == body["id"]
            assert _rows(db) == (1, 2)

            page.get_by_role("button", name="通知を解除してデータを削除").click()
            with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
                page.get_by_role("button", name="解除して削除する").click()
            assert deleted.value.status == 204
            page.get_by_role("status").filter(has_text="削除しました").wait_for()
            assert page.evaluate("localStorage.getItem('pushsvc.subscription')") is None
            assert _rows(db) == (0, 0)
            assert errors == []
        finally:
            browser.close()


def test_service_worker_and_manifest_are_served(server: str) -> None:
    sw = httpx.get(server + "/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    assert "showNotification" in sw.text and "requireInteraction" in sw.text
    assert '"notification_open"' in sw.text  # clicks are counted for the KPI
    assert '"pushsubscriptionchange"' in sw.text and 'importScripts("/static/pushsync.js")' in sw.text
    shared = httpx.get(server + "/static/pushsync.js")
    assert shared.status_code == 200 and "javascript" in shared.headers["content-type"]
    manifest = httpx.get(server + "/manifest.webmanifest").json()
    assert manifest["display"] == "standalone" and any(i["sizes"] == "192x192" for i in manifest["icons"])
    assert httpx.get(server + manifest["icons"][0]["src"]).headers["content-type"] == "image/png"


RENEW_IN_SERVICE_WORKER = """
async (renewed) => {
  // Headless Chromium cannot reach a vendor push service, and no browser lets a test fire a real
  // pushsubscriptionchange: stub the push manager here and call the function the handler calls.
  let options = null;
  PushManager.prototype.getSubscription = async () => null;  // the old one was dropped
  PushManager.prototype.subscribe = async function (o) {
    options = o;
    return { endpoint: renewed.endpoint, toJSON: () => renewed };
  };
  const stored = await loadRegistration();
  const out = await renewPushSubscription(null);
  return { stored, out, key: options && Array.from(new Uint8Array(options.applicationServerKey)) };
}
"""


def _stored(db: TestDatabase) -> list[tuple[int, str, str, str]]:
    with db.sessionmaker() as s:
        return [(r.id, r.endpoint, r.p256dh, r.auth) for r in s.execute(select(Subscription)).scalars()]


def test_service_worker_renews_the_push_subscription_for_the_same_resident(server: str, db: TestDatabase) -> None:
    """pushsubscriptionchange: the service worker re-subscribes with the server's VAPID key and moves the same
    subscription id to the new endpoint, with the token the page left it in IndexedDB.

    ``renewPushSubscription`` is the function sw.js's pushsubscriptionchange handler calls; the test calls it
    inside the real service worker (``worker.evaluate``) because Chromium never dispatches that event and a
    synthetic one cannot use ``waitUntil``.
    """
    first = {"endpoint": new_endpoint(), "expirationTime": None, "keys": browser_keys()}
    renewed = {"endpoint": new_endpoint(), "expirationTime": None, "keys": browser_keys()}
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(locale="ja-JP", permissions=["notifications"])
        context.add_init_script(FAKE_PUSH % json.dumps(first))
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(server + "/")
            page.wait_for_selector("body[data-ready=true]", timeout=10_000)
            page.get_by_label("名前（例：自宅）").fill("自宅")
            page.get_by_label("市町村", exact=True).select_option("39202")
            with page.expect_response(lambda r: r.url.endswith("/api/v1/subscriptions")) as posted:
                page.get_by_role("button", name="通知を受け取る").click()
            created = posted.value.json()
            page.get_by_role("region", name="登録内容").wait_for()
            worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
            assert worker.url == server + "/sw.js"

            got = worker.evaluate(RENEW_IN_SERVICE_WORKER, renewed)
            assert got["stored"] == {"id": created["id"], "token": created["token"]}
            vapid = httpx.get(server + "/api/v1/push/vapid-public-key").json()["public_key"]
            assert bytes(got["key"]) == b64url_decode(vapid)  # subscribed again with the server's key
            assert (got["out"]["id"], got["out"]["endpoint"]) == (created["id"], renewed["endpoint"])
            assert _stored(db) == [
                (created["id"], renewed["endpoint"], renewed["keys"]["p256dh"], renewed["keys"]["auth"])
            ]

            page.get_by_role("button", name="通知を解除してデータを削除").click()
            page.get_by_role("button", name="解除して削除する").click()
            page.get_by_role("status").filter(has_text="削除しました").wait_for()
            after = worker.evaluate(RENEW_IN_SERVICE_WORKER, renewed)
            assert after == {"stored": None, "out": None, "key": None}  # unsubscribed: nothing to renew
            assert _stored(db) == [] and errors == []
        finally:
            browser.close()


# A push manager whose subscription lives in localStorage, so it outlasts a reload, and the test can rotate
# it between visits the way a browser does on its own.
ROTATING_PUSH = """
(() => {
  const wrap = (sub) => sub && { endpoint: sub.endpoint, toJSON: () => sub,
    unsubscribe: async () => { localStorage.removeItem("fake.active"); return true; } };
  PushManager.prototype.subscribe = async function () {
    localStorage.setItem("fake.active", localStorage.getItem("fake.next"));
    return wrap(JSON.parse(localStorage.getItem("fake.active")));
  };
  PushManager.prototype.getSubscription = async function () {
    return wrap(JSON.parse(localStorage.getItem("fake.active") || "null"));
  };
})();
"""


def test_opening_the_page_catches_up_a_push_subscription_the_browser_renewed(server: str, db: TestDatabase) -> None:
    """Chromium renews push subscriptions without firing pushsubscriptionchange, so the page, when opened,
    moves the resident's subscription (same id and token, places kept) to the browser's new endpoint."""
    first = {"endpoint": new_endpoint(), "expirationTime": None, "keys": browser_keys()}
    renewed = {"endpoint": new_endpoint(), "expirationTime": None, "keys": browser_keys()}
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(locale="ja-JP", permissions=["notifications"])
        context.add_init_script(ROTATING_PUSH)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(server + "/")
            page.wait_for_selector("body[data-ready=true]", timeout=10_000)
            page.evaluate("(sub) => localStorage.setItem('fake.next', JSON.stringify(sub))", first)
            page.get_by_label("名前（例：自宅）").fill("自宅")
            page.get_by_label("市町村", exact=True).select_option("39202")
            with page.expect_response(lambda r: r.url.endswith("/api/v1/subscriptions")) as posted:
                page.get_by_role("button", name="通知を受け取る").click()
            created = posted.value.json()
            page.get_by_role("region", name="登録内容").wait_for()
            assert _stored(db) == [(created["id"], first["endpoint"], first["keys"]["p256dh"], first["keys"]["auth"])]

            # Between visits the browser replaced the push subscription and told nobody.
            page.evaluate("(sub) => localStorage.setItem('fake.active', JSON.stringify(sub))", renewed)
            with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
                page.reload()
            assert patched.value.status == 200, patched.value.text()
            page.wait_for_selector("body[data-ready=true]", timeout=10_000)
            assert _stored(db) == [
                (created["id"], renewed["endpoint"], renewed["keys"]["p256dh"], renewed["keys"]["auth"])
            ]
            assert "室戸市" in page.locator("#registered-places").inner_text()  # places kept

            # Opened again with nothing changed: no second PATCH.
            patches: list[str] = []
            page.on("request", lambda r: patches.append(r.url) if r.method == "PATCH" else None)
            page.reload()
            page.wait_for_selector("body[data-ready=true]", timeout=10_000)
            assert patches == [] and errors == []
        finally:
            browser.close()
