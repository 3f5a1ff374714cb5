"""A delivery harness whose JMA telegrams arrive over HTTP at the push-in endpoint, as a licensed relay sends them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pushsvc.db import session_scope
from pushsvc.dev.devpush import DevPush
from pushsvc.dev.devpush.state import Received
from pushsvc.feeds import pushin
from pushsvc.main import create_app
from tests.conftest import TestDatabase
from tests.feeds.jma.kochi import CODES
from tests.fixtures.delivery import Harness, Resident, delivery_settings

PUSH_PATH = "/api/v1/feeds/jma/telegrams"
# 事前避難対象地域 as a prefecture would configure them (test names, not the real designation).
NANKAI_TOML = """
[evacuation_areas]
"39202" = ["室戸岬地区", "佐喜浜地区"]
"39428" = ["佐賀地区"]
"""


@dataclass
class Seismic:
    h: Harness
    token: str

    def push(self, data: bytes, token: str | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/xml", "Authorization": f"Bearer {token or self.token}"}
        return self.h.client.post(PUSH_PATH, content=data, headers=headers)

    def accept(self, data: bytes) -> dict[str, Any]:
        r = self.push(data)
        assert r.status_code == 202, r.text
        return dict(r.json())

    def resident(
        self,
        *codes: str,
        min_intensity: str | None = None,
        current: tuple[float, float] | None = None,
        lang: str = "ja",
    ) -> Resident:
        device = self.h.push.subscribe(vapid_key=self.h.app.state.vapid.public_key_b64url)
        body: dict[str, Any] = {
            "endpoint": self.h.push.endpoint(device),
            "keys": {"p256dh": device.keys.p256dh, "auth": device.keys.auth},
            "places": [{"label": f"p{i}", "municipality_code": c} for i, c in enumerate(codes)],
            "lang": lang,
        }
        if min_intensity is not None:
            body["min_intensity"] = min_intensity
        if current is not None:
            body.update(follow_current_location=True, current_location={"lat": current[0], "lon": current[1]})
        r = self.h.client.post("/api/v1/subscriptions", json=body)
        assert r.status_code == 201, r.text
        return Resident(r.json()["id"], r.json()["token"], device)

    def got(self, r: Resident) -> list[Received]:
        return self.h.push.received(r.device)

    def deliver(self) -> None:
        self.h.run_worker()


@pytest.fixture
def seismic(db: TestDatabase, tmp_path: Path, devpush: DevPush) -> Iterator[Seismic]:
    nankai = tmp_path / "nankai.toml"
    nankai.write_text(NANKAI_TOML, encoding="utf-8")
    settings = delivery_settings(db, tmp_path, jma_codes_dir=CODES, nankai_config_file=nankai)
    app = create_app(settings)
    with TestClient(app) as client:
        with session_scope(db.sessionmaker) as s:
            _, token = pushin.create_source(s, "relay-1", now=datetime.now(UTC))
        yield Seismic(Harness(db, settings, app, client, devpush), token)
