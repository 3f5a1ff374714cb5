"""Delivery fixtures: the real app, a real local push service, and workers run to completion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pushsvc.config import Settings
from pushsvc.db import session_scope
from pushsvc.delivery import service
from pushsvc.delivery.api import draft_of
from pushsvc.delivery.schemas import NotificationIn, NotificationOut
from pushsvc.delivery.worker import Worker
from pushsvc.devpush import DevPush
from pushsvc.devpush.state import Subscriber
from pushsvc.main import create_app
from pushsvc.operators import accounts
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


def enrolment_code(factory: Any) -> str:
    """A one-time training-device code, as an operator's console issues it."""
    from pushsvc.subscriptions import training

    with session_scope(factory) as s:
        return training.issue(s, issued_by="test-operator", label="", now=datetime.now(UTC)).code


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
            "quiet_hours": quiet_hours,
        }
        if categories is not None:
            body["categories"] = categories
        r = self.client.post("/api/v1/subscriptions", json=body)
        assert r.status_code == 201, r.text
        if test_device:  # the only way: an operator's one-time enrolment code, redeemed with the phone's token
            code = enrolment_code(self.db.sessionmaker)
            e = self.client.post(f"/api/v1/subscriptions/{r.json()['id']}/training-enrolment", json={"code": code},
                                 headers={"Authorization": f"Bearer {r.json()['token']}"})
            assert e.status_code == 200 and e.json()["test_device"] is True, e.text
        return Resident(r.json()["id"], r.json()["token"], device)

    def notify(self, **fields: Any) -> int:
        body: dict[str, Any] = {"title": {"ja": "テスト", "en": "Test"}, "body": {"ja": "本文", "en": "Body"},
                                "category": "area_info", "severity": "info"}
        body.update(fields)
        if self._operators_exist():  # the bootstrap API is closed: create it as a feed would
            with session_scope(self.db.sessionmaker) as s:
                draft = draft_of(NotificationIn.model_validate(body))
                return service.create_notification(s, draft, settings=self.settings).id
        r = self.client.post("/api/v1/notifications", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 202, r.text
        return int(r.json()["id"])

    def cancel(self, notification_id: int) -> None:
        """Withdraw a notification (through the bootstrap API while it is open, else as a feed would)."""
        if self._operators_exist():
            with session_scope(self.db.sessionmaker) as s:
                service.cancel_notification(s, notification_id)
            return
        r = self.client.post(f"/api/v1/notifications/{notification_id}/cancel",
                             headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, r.text

    def _operators_exist(self) -> bool:
        with self.db.sessionmaker() as s:
            return accounts.any_operator(s)

    def status(self, notification_id: int) -> dict[str, Any]:
        if self._operators_exist():
            with self.db.sessionmaker() as s:
                return NotificationOut.model_validate(service.get_notification(s, notification_id)).model_dump(
                    mode="json")
        r = self.client.get(f"/api/v1/notifications/{notification_id}", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def run_worker(self, notification_id: int | None = None, timeout: float = 20.0, **overrides: Any) -> None:
        """Run one in-process worker until the notification is final (or nothing is due)."""
        settings = self.settings.model_copy(update=overrides)

        async def go() -> None:
            stop = asyncio.Event()
            async with PushSender.from_settings(settings, self.app.state.vapid) as sender:
                worker = Worker(settings, self.db.sessionmaker, sender)
                task = asyncio.create_task(worker.run(stop, until_idle=notification_id is None))
                if notification_id is None:  # run until nothing is due; stopping first would send nothing
                    await asyncio.wait_for(asyncio.shield(task), timeout)
                deadline = time.monotonic() + timeout
                while notification_id is not None and not task.done():
                    with self.db.sessionmaker() as s:
                        if service.get_notification(s, notification_id).status in service.FINAL_STATUSES:
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
