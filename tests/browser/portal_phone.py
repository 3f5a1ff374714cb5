"""The resident's phone in real headless Chromium at 390×844 for the portal page tests (tests/browser/).

Only ``pushManager.subscribe`` is replaced (no vendor push service is reachable here): it returns a subscription
of the local RFC 8030 push service, so the worker really encrypts, the push service really decrypts with the
subscriber's key, and the test hands the decrypted message to the page's own service worker to display.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pushsvc.alerts import service as alert_state
from pushsvc.db import session_scope
from pushsvc.delivery import service as delivery
from pushsvc.feeds import gauges
from pushsvc.feeds import service as feeds
from pushsvc.feeds.models import RiverStation
from pushsvc.feeds.river.alerts import rise_alert
from pushsvc.feeds.river.records import Station, Thresholds
from tests.browser.test_resident_page import ARGS, CHROMIUM
from tests.conftest import serve_app
from tests.fixtures.delivery import Harness
from tests.portal.conftest import KOCHI_CITY_SITES, MUROTO_SITES, load_sites

playwright_sync = pytest.importorskip("playwright.sync_api")

PHONE = {"width": 390, "height": 844}
# 鏡川 at 高知市 (a real kawabou gauge name; thresholds as configured for it)
KAGAMI = Station(
    code="3900000099",
    name="鏡川橋",
    river="鏡川",
    municipality="39201",
    source="kawabou",
    lat=33.5611,
    lon=133.5124,
    thresholds=Thresholds(caution=2.5, evacuation=3.2, danger=3.6, flooding=4.2),
)

FAKE_PUSH = """
(() => {
  window.PUSHSVC_POLL_MS = 400;
  const sub = %s;
  let active = null;
  PushManager.prototype.subscribe = async function (options) {
    window.__subscribeOptions = options;
    if (sub === "hang") return new Promise(() => {});
    active = { endpoint: sub.endpoint, toJSON: () => sub, unsubscribe: async () => { active = null; return true; } };
    return active;
  };
  PushManager.prototype.getSubscription = async function () { return active; };
  window.PUSHSVC_TIMEOUTS = { push: 1500, server: 3000 };
})();
"""

SHOW_IN_SERVICE_WORKER = """
async (msg) => {
  for (const n of await self.registration.getNotifications()) n.close();
  await showPush(msg);
  return (await self.registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, lang: n.lang,
    tag: n.tag, url: n.data && n.data.url }));
}
"""


def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("PUSHSVC_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


@dataclass
class Phone:
    """One browser on one phone, with the errors and other-origin requests it saw."""

    page: Any
    context: Any
    server: str
    device: Any = None  # the local push service's subscriber behind this browser's push subscription
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(self.server + "/")
        self.page.wait_for_selector("body[data-ready=true]", timeout=15_000)

    def subscribe(self, *codes: str, labels: tuple[str, ...] = ("自宅", "実家")) -> dict[str, Any]:
        for i, code in enumerate(codes):
            if i:
                self.page.locator("#add-place").click()
            row = self.page.locator(".place").nth(i)
            row.locator(".place-label").fill(labels[i])
            row.locator(".place-muni").select_option(code)
        with self.page.expect_response(lambda r: r.url.endswith("/api/v1/subscriptions")) as posted:
            self.page.locator("#subscribe").click()
        assert posted.value.status == 201, posted.value.text()
        self.page.locator("#portal .place-view").first.wait_for()
        return dict(posted.value.json())

    def service_worker(self) -> Any:
        return (
            self.context.service_workers[0]
            if self.context.service_workers
            else self.context.wait_for_event("serviceworker")
        )


@pytest.fixture
def site(harness: Harness) -> Iterator[str]:
    load_sites(harness.db, KOCHI_CITY_SITES, MUROTO_SITES)
    with session_scope(harness.db.sessionmaker) as s:
        feeds.sync_stations(s, "kawabou", {KAGAMI.code: KAGAMI}, now=datetime.now(UTC))
    set_level(harness, 3.7)
    with serve_app(harness.app) as url:
        yield url


def set_level(harness: Harness, level: float) -> None:
    with session_scope(harness.db.sessionmaker) as s:
        row = s.execute(select(RiverStation).where(RiverStation.code == KAGAMI.code)).scalar_one()
        row.level, row.observed_at = level, datetime.now(UTC)
        row.stage = KAGAMI.stage(level).name.lower()


def river_alert(harness: Harness, level: float = 3.7) -> int:
    """An automatic river alert exactly as the poller makes it (texts from the catalogue)."""
    now = datetime.now(UTC)
    alert = rise_alert(KAGAMI, KAGAMI.stage(level), level, 3.6, now)
    with session_scope(harness.db.sessionmaker) as s:
        transitions = alert_state.apply_statement(s, gauges._river_statement("kawabou", alert, KAGAMI), now=now)
        n = delivery.create_notification(s, gauges._river_draft(alert, ["39201"]), settings=harness.settings, now=now)
        alert_state.attach_notification(s, transitions, n.id)
        return n.id


def deliver(harness: Harness, nid: int) -> None:
    """Run the delivery worker to completion; in a thread, as Playwright's sync API owns this one's event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(harness.run_worker, nid).result()


@pytest.fixture
def phone(request: pytest.FixtureRequest, site: str, harness: Harness) -> Iterator[Phone]:
    marker = request.node.get_closest_marker("phone")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    push = options.pop("push", "devpush")
    if push == "devpush":
        device = harness.push.subscribe(vapid_key=harness.app.state.vapid.public_key_b64url)
        fake: Any = {
            "endpoint": harness.push.endpoint(device),
            "expirationTime": None,
            "keys": {"p256dh": device.keys.p256dh, "auth": device.keys.auth},
        }
        options.setdefault("device", device)
    else:
        fake = push
    device = options.pop("device", None)
    init = options.pop("init", "")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=1,
            **{"locale": "ja-JP", "timezone_id": "Asia/Tokyo", "permissions": ["notifications"], **options},
        )
        context.add_init_script(FAKE_PUSH % json.dumps(fake) + init)
        page = context.new_page()
        ph = Phone(page, context, site, device)
        page.on("pageerror", lambda e: ph.errors.append(str(e)))
        page.on("request", lambda r: ph.foreign.append(r.url) if not r.url.startswith((site, "data:")) else None)
        try:
            yield ph
        finally:
            browser.close()
