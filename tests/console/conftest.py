"""Console fixtures: the real app under uvicorn, a worker thread, the local push service, real Chromium.

Everything is real over loopback HTTP: operators are made by the same service the CLI uses, residents
subscribe through ``POST /api/v1/subscriptions`` with keys held by the local push service, and the
worker encrypts and sends to it, so a test reads the text a phone would decrypt.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushsvc.config import Settings
from pushsvc.db import session_scope
from pushsvc.delivery.worker import Worker
from pushsvc.dev.devpush import DevPush
from pushsvc.dev.devpush.state import Subscriber
from pushsvc.main import create_app
from pushsvc.operators import accounts
from pushsvc.webpush.sender import PushSender
from tests.conftest import TestDatabase, serve_app
from tests.fixtures.delivery import delivery_settings, enrolment_code
from tests.fixtures.devpush import devpush, devpush_server

__all__ = ["devpush", "devpush_server"]

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
# Screenshots go to a temporary directory; to refresh the ones under docs/, run the console tests with
# PUSHSVC_SCREENSHOTS_DIR=docs/screenshots (a test run never rewrites tracked files by itself).
SCREENSHOTS = Path(os.environ.get("PUSHSVC_SCREENSHOTS_DIR") or tempfile.mkdtemp(prefix="pushsvc-screenshots-"))
KOCHI, NANKOKU, MUROTO = "39201", "39204", "39202"


FEEDS = """
[[source]]
name = "k-river-kochi"
kind = "kriver_area"
url = "http://127.0.0.1:9/kriver/39.json"
interval_s = 300

[[source]]
name = "jma-extra"
kind = "jma_atom"
url = "http://127.0.0.1:9/jma/extra_l.xml"
interval_s = 60
"""


@dataclass
class Resident:
    name: str
    id: int
    device: Subscriber


@dataclass
class ConsoleEnv:
    url: str
    push: DevPush
    tokens: dict[str, str]
    db: TestDatabase
    settings: Settings
    residents: dict[str, Resident] = field(default_factory=dict)

    def api(self, method: str, path: str, *, as_: str = "pref", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def subscribe(self, name: str, codes: list[str], *, lang: str = "ja", test_device: bool, vapid_key: str) -> None:
        device = self.push.subscribe(vapid_key=vapid_key)
        r = httpx.post(
            self.url + "/api/v1/subscriptions",
            timeout=10,
            json={
                "endpoint": self.push.endpoint(device),
                "keys": {"p256dh": device.keys.p256dh, "auth": device.keys.auth},
                "places": [{"label": f"p{i}", "municipality_code": c} for i, c in enumerate(codes)],
                "lang": lang,
            },
        )
        assert r.status_code == 201, r.text
        if test_device:
            e = httpx.post(
                f"{self.url}/api/v1/subscriptions/{r.json()['id']}/training-enrolment",
                timeout=10,
                json={"code": enrolment_code(self.db.sessionmaker)},
                headers={"Authorization": f"Bearer {r.json()['token']}"},
            )
            assert e.status_code == 200, e.text
        self.residents[name] = Resident(name, r.json()["id"], device)

    def received(self, name: str) -> list[dict[str, Any]]:
        return [r.json() for r in self.push.received(self.residents[name].device)]


def _run_worker(app: Any, settings: Any, db: TestDatabase, stop: threading.Event) -> None:
    async def go() -> None:
        halt = asyncio.Event()
        async with PushSender.from_settings(settings, app.state.vapid) as sender:
            task = asyncio.create_task(Worker(settings, db.sessionmaker, sender).run(halt))
            while not stop.is_set():
                await asyncio.sleep(0.05)
            halt.set()
            await task

    asyncio.run(go())


@pytest.fixture
def console(db: TestDatabase, tmp_path: Path, devpush: DevPush) -> Iterator[ConsoleEnv]:
    tokens: dict[str, str] = {}
    with session_scope(db.sessionmaker) as s:
        for name, role, codes in (
            ("県防災-田中", "prefecture", []),
            ("県防災-山本", "prefecture", []),
            ("高知市-佐藤", "municipality", [KOCHI]),
        ):
            _, tokens[name] = accounts.create_operator(s, name=name, role=role, municipalities=codes)
    tokens = {"pref": tokens["県防災-田中"], "pref2": tokens["県防災-山本"], "muni": tokens["高知市-佐藤"]}
    # KPI routes still take the bootstrap admin token (issue 7); the console sends the operator's token.
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(FEEDS)
    settings = delivery_settings(
        db, tmp_path, admin_token=tokens["pref"], operator_rate_limit_per_minute=10_000, feeds_file=feeds_file
    )
    app = create_app(settings)
    with serve_app(app) as url:
        stop = threading.Event()
        worker = threading.Thread(target=_run_worker, args=(app, settings, db, stop), daemon=True)
        worker.start()
        env = ConsoleEnv(url, devpush, tokens, db=db, settings=settings)
        key = app.state.vapid.public_key_b64url
        env.subscribe("kochi-test", [KOCHI], test_device=True, vapid_key=key)
        env.subscribe("kochi-test-en", [KOCHI], lang="en", test_device=True, vapid_key=key)
        env.subscribe("both-test", [KOCHI, NANKOKU], test_device=True, vapid_key=key)  # counted once
        env.subscribe("nankoku-test", [NANKOKU], test_device=True, vapid_key=key)
        env.subscribe("muroto-test", [MUROTO], test_device=True, vapid_key=key)
        env.subscribe("kochi-live", [KOCHI], test_device=False, vapid_key=key)
        env.subscribe("nankoku-live", [NANKOKU], lang="zh-Hans", test_device=False, vapid_key=key)
        try:
            yield env
        finally:
            stop.set()
            worker.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()
