"""Subscription test helpers: real P-256 browser keys and a key file in the test's own directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushsvc.config import Settings
from tests.conftest import TestDatabase
from tests.fixtures.subscriptions import (
    ASHIZURI_CAPE,
    KOCHI_PREF_OFFICE,
    MUROTO_CAPE,
    browser_keys,
    new_endpoint,
    subscription_body,
)

__all__ = ["ASHIZURI_CAPE", "KOCHI_PREF_OFFICE", "MUROTO_CAPE", "browser_keys", "new_endpoint", "subscription_body"]


@pytest.fixture
def settings(db: TestDatabase, tmp_path: Path) -> Settings:
    return db.settings(vapid_key_file=tmp_path / "vapid.pem")


SCHEMATHESIS_RUNS: list[str] = []  # one line per backend, printed at the end of the run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The schemathesis run's request and server-error counts, so CI output shows them."""
    for line in SCHEMATHESIS_RUNS:
        terminalreporter.write_line(line)
