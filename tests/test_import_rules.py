"""The domain rules of CONTRIBUTING.md hold, and breaking one fails the check (import-linter, pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed (scripts/setup test)")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "pushsvc", tmp_path / "pushsvc", ignore=shutil.ignore_patterns("static", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_rules_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken", "named"),
    [
        (
            "kpi/service.py",
            "from pushsvc.subscriptions.models import Subscription",
            "kpi uses other domains only through their service, never their models",
            "pushsvc.kpi.service -> pushsvc.subscriptions.models",
        ),
        (
            "evacuation/service.py",
            "from pushsvc.operators.models import PREFECTURE",
            "evacuation uses other domains only through their service, never their models",
            "pushsvc.evacuation.service -> pushsvc.operators.models",
        ),
        (
            "webpush/hosts.py",
            "from pushsvc.subscriptions import service",
            "webpush, geo and the shared modules import no domain",
            "pushsvc.webpush.hosts -> pushsvc.subscriptions",
        ),
        (
            "delivery/worker.py",
            "from pushsvc.dev.devpush import DevPush",
            "no production module imports the dev tooling (pushsvc.dev)",
            "pushsvc.delivery.worker -> pushsvc.dev.devpush",
        ),
        (
            "subscriptions/api.py",
            "from pushsvc.kpi import service",
            "the packages of pushsvc depend on each other without cycles",
            "No cycles are allowed in pushsvc.",
        ),
    ],
)
def test_an_import_against_the_rules_breaks_the_check(
    tmp_path: Path, module: str, line: str, broken: str, named: str
) -> None:
    """A domain reading another's models, a library importing a domain, production code importing the dev
    tooling, or a cycle fails ``lint-imports``."""
    tree = _copy_tree(tmp_path)
    path = tree / "pushsvc" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout
    assert named in result.stdout
