"""A fresh deployment's console tells the truth: no feed source is a warning, a year without a target says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pushsvc.cli import main
from pushsvc.config import get_settings
from pushsvc.db import session_scope
from pushsvc.main import create_app
from pushsvc.operators import accounts
from tests.conftest import TestDatabase, serve_app
from tests.console.conftest import ConsoleEnv
from tests.console.test_console import open_console
from tests.fixtures.delivery import delivery_settings


@pytest.mark.browser
def test_no_feed_source_and_no_target_for_this_year_are_shown_as_such(
    db: TestDatabase, tmp_path: Path, browser: Any
) -> None:
    with session_scope(db.sessionmaker) as s:
        _, token = accounts.create_operator(s, name="県防災-新人", role="prefecture")
    settings = delivery_settings(db, tmp_path, feeds_file=None)  # default targets stop at R5
    with serve_app(create_app(settings)) as url:
        env = ConsoleEnv(url, None, {"pref": token}, db=db, settings=settings)  # type: ignore[arg-type]
        page = open_console(browser, env, "pref")
        page.get_by_role("link", name="情報源・河川").click()
        page.wait_for_selector("#feeds-status")
        status = page.locator("#feeds-status")
        assert status.inner_text() == "情報源が未設定" and "warn" in (status.get_attribute("class") or "")
        assert "すべて正常" not in page.locator("#feeds").inner_text()
        page.get_by_role("link", name="KPI").click()
        page.wait_for_selector("#kpi .tiles")
        assert "目標未設定" in page.locator("#kpi .tile").first.inner_text()
        assert page.errors == []


def test_targets_past_r5_are_reported_and_a_missing_one_is_named(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", db.url)
    monkeypatch.setenv("PUSHSVC_KPI_FY_TARGETS", "R5=14000,R7=18000")
    get_settings.cache_clear()
    try:
        r7 = CliRunner().invoke(main, ["kpi", "report", "--fy", "R7"])
        r6 = CliRunner().invoke(main, ["kpi", "report", "--fy", "R6"])
    finally:
        get_settings.cache_clear()
    assert r7.exit_code == 0, r7.output
    assert next(x for x in r7.output.splitlines() if x.startswith("R7")).split()[4] == "18,000"
    assert next(x for x in r6.output.splitlines() if x.startswith("R6")).split()[4] == "目標未設定"
