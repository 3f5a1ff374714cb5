"""The command line a prefecture engineer meets first: --version, operators list, and no noise."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from pushsvc.cli import main
from tests.conftest import BOUNDARIES, ROOT


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PUSHSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PUSHSVC_LOG_LEVEL": "INFO"}


def test_version_is_the_packages() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"pushsvc, version {version}"


def test_commands_print_no_migration_noise(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pushsvc.cli", "migrate"],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "database is at the latest migration"
    assert "alembic" not in run.stderr and "INFO" not in run.stderr, run.stderr


def test_operators_list_shows_names_roles_scopes_and_never_tokens(tmp_path: Path) -> None:
    env = _env(tmp_path)

    def cli(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "pushsvc.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert "no operators yet" in cli("operators", "list")
    cli("boundaries", "import", str(BOUNDARIES))
    token = (
        cli("operators", "create", "--name", "kochi-city-1", "--role", "municipality", "--municipalities", "39201")
        .strip()
        .splitlines()[-1]
    )
    cli("operators", "create", "--name", "pref-1", "--role", "prefecture")
    cli("operators", "revoke", "--name", "pref-1")
    rows = [line.split("\t") for line in cli("operators", "list").strip().splitlines()]
    assert [(r[0], r[1], r[2], r[4].split()[0]) for r in rows] == [
        ("kochi-city-1", "municipality", "39201", "active"),
        ("pref-1", "prefecture", "all", "revoked"),
    ]
    assert rows[0][3].startswith("created ") and rows[0][3].endswith("+00:00")
    assert token not in cli("operators", "list")
