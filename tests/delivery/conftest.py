"""Delivery fixtures: the real app, a real local push service, and workers run to completion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pushsvc.config import Settings
from pushsvc.delivery import service
from pushsvc.delivery.worker import Worker
from pushsvc.devpush import DevPush
from pushsvc.devpush.state import Subscriber
from pushsvc.main import create_app
from pushsvc.webpush.sender import PushSender
from tests.conftest import TestDatabase
from tests.webpush.conftest import devpush, devpush_server

__all__ = ["devpush", "devpush_server"]

SUBJECT = "mailto:bousai@pref.kochi.lg.jp"
ADMIN = "test-admin-token-0123456789abcdef0123456789"
KOCHI_KENCHO = (33.5597, 133.5311)
MUROTO = (33.2903, 134.1522)  # 室戸市役所
SHIMANTO = (32.9917, 132.9336)  # 四万十市役所


def delivery_settings(db: TestDatabase, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "vapid_key_file": tmp_path / "vapid.pem",
        "vapid_subject": SUBJECT,
        "push_allowed_hosts": "127.0.0.1",
        "push_timeout_s": 1.0,
        "delivery_backoff_base_s": 0.05,
        "worker_poll_s": 0.02,
        "worker_lease_s": 5.0,
        "admin_token": ADMIN,
    }
    values.update(overrides)
    return db.settings(**values)


@dataclass
class Resident:
    """A simulated phone: its subscription at pushsvc and its keys at the local push service."""

    id: int
    token: str
    device: Subscriber


@dataclass
class Harness:
    db: TestDatabase
    settings: Settings
    app: FastAPI
    client: TestClient
    push: DevPush

    def subscribe(self, *places: tuple[float, float] | str, lang: str = "ja", test_device: bool = False,
                  categories: list[str] | None = None, quiet_hours: dict[str, str] | None = None) -> Resident:
        device = self.push.subscribe(vapid_key=self.app.state.vapid.public_key_b64url)
        body: dict[str, Any] = {
            "endpoint": self.push.endpoint(device),
            "keys": {"p256dh": device.keys.p256dh, "auth": device.keys.auth},
            "places": [
                {"label": f"p{i}", "municipality_code": p} if isinstance(p, str)
                else {"label": f"p{i}", "lat": p[0], "lon": p[1]}
                for i, p in enumerate(places)
            ],
            "lang": lang,
            "test_device": test_device,
            "quiet_hours": quiet_hours,
        }
        if categories is not None:
            body["categories"] = categories
        r = self.client.post("/api/v1/subscriptions", json=body)
        assert r.status_code == 201, r.text
        return Resident(r.json()["id"], r.json()["token"], device)

    def notify(self, **fields: Any) -> int:
        body: dict[str, Any] = {"title": {"ja": "テスト", "en": "Test"}, "body": {"ja": "本文", "en": "Body"},
                                "category": "area_info", "severity": "info"}
        body.update(fields)
        r = self.client.post("/api/v1/notifications", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 202, r.text
        return int(r.json()["id"])

    def status(self, notification_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/notifications/{notification_id}", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def run_worker(self, notification_id: int | list[int] | None = None, timeout: float = 20.0,
                   **overrides: Any) -> None:
        """Run one in-process worker until the notification (every one listed) is final, or nothing is due."""
        settings = self.settings.model_copy(update=overrides)
        waiting = [notification_id] if isinstance(notification_id, int) else list(notification_id or [])

        async def go() -> None:
            stop = asyncio.Event()
            async with PushSender.from_settings(settings, self.app.state.vapid) as sender:
                worker = Worker(settings, self.db.sessionmaker, sender)
                task = asyncio.create_task(worker.run(stop, until_idle=notification_id is None))
                if notification_id is None:  # run until nothing is due; stopping first would send nothing
                    await asyncio.wait_for(asyncio.shield(task), timeout)
                deadline = time.monotonic() + timeout
                while waiting and not task.done():
                    with self.db.sessionmaker() as s:
                        if all(service.get_notification(s, i).status in service.FINAL_STATUSES for i in waiting):
                            break
                    if time.monotonic() > deadline:
                        raise AssertionError(f"notification {notification_id} did not finish in {timeout} s")
                    await asyncio.sleep(0.05)
                stop.set()
                await task

        asyncio.run(go())


@pytest.fixture
def harness(db: TestDatabase, tmp_path: Path, devpush: DevPush) -> Iterator[Harness]:
    settings = delivery_settings(db, tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:
        yield Harness(db, settings, app, client, devpush)
