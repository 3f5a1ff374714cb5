"""Subscription test helpers: real P-256 browser keys and a key file in the test's own directory."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushsvc.config import Settings
from pushsvc.webpush.vapid import b64url
from tests.conftest import TestDatabase

KOCHI_PREF_OFFICE = (33.5597, 133.5311)  # 高知県庁, 高知市 39201
MUROTO_CAPE = (33.2453, 134.1770)  # 室戸岬, 室戸市 39202
ASHIZURI_CAPE = (32.7253, 133.0203)  # 足摺岬, 土佐清水市 39209


def browser_keys() -> dict[str, str]:
    """What a browser's PushSubscription.toJSON() carries: a P-256 point and a 16-byte secret."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def new_endpoint() -> str:
    return f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}"


def subscription_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "endpoint": new_endpoint(),
        "keys": browser_keys(),
        "places": [{"label": "自宅", "lat": KOCHI_PREF_OFFICE[0], "lon": KOCHI_PREF_OFFICE[1]}],
        "lang": "ja",
    }
    body.update(overrides)
    return body


@pytest.fixture
def settings(db: TestDatabase, tmp_path: Path) -> Settings:
    return db.settings(vapid_key_file=tmp_path / "vapid.pem")


SCHEMATHESIS_RUNS: list[str] = []  # one line per backend, printed at the end of the run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The schemathesis run's request and server-error counts, so CI output shows them."""
    for line in SCHEMATHESIS_RUNS:
        terminalreporter.write_line(line)
