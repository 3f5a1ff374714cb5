"""The suite on a newcomer's machine: PostGIS missing is a skip with a reason, and a run writes nothing
into the checkout (no key file, no rewritten screenshots)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

import tests.conftest as root_conftest
from pushsvc.cli import main
from tests.conftest import PG_URL, ROOT


def test_missing_postgis_is_a_skip_reason_and_no_database_is_created(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = uuid.UUID(int=0x1818_1818_1818_1818_1818_1818_1818_1818)
    monkeypatch.setattr(root_conftest.uuid, "uuid4", lambda: fixed)
    monkeypatch.setattr(root_conftest, "REQUIRE_PG", False)
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        pytest.skip(f"needs a reachable PostgreSQL at {PG_URL}")
    outcome = root_conftest._create_pg_database(extension="pushsvc_no_such_extension")
    assert isinstance(outcome, str) and "no pushsvc_no_such_extension extension installed" in outcome
    engine = create_engine(PG_URL)
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname = :n"), {"n": f"pushsvc_test_{fixed.hex[:10]}"}
        ).all()
    engine.dispose()
    assert left == []


def test_missing_postgis_fails_loudly_when_postgresql_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(root_conftest, "REQUIRE_PG", True)
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        pytest.skip(f"needs a reachable PostgreSQL at {PG_URL}")
    with pytest.raises(RuntimeError, match="no pushsvc_no_such_extension extension"):
        root_conftest._create_pg_database(extension="pushsvc_no_such_extension")


def test_a_cli_command_in_the_checkout_writes_no_key_file_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = ROOT / "pushsvc-vapid.pem"
    existed = key.exists()
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(main, ["vapid", "show"])
    assert result.exit_code == 0, result.output
    assert key.exists() == existed


def test_console_screenshots_go_to_a_temporary_directory_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("playwright.sync_api")
    from tests.console import conftest as console

    if "PUSHSVC_SCREENSHOTS_DIR" in __import__("os").environ:
        pytest.skip("screenshots were asked for explicitly")
    assert ROOT not in console.SCREENSHOTS.resolve().parents
