"""The VAPID key: served to browsers, kept 0600, and never silently replaced."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pushsvc.config import Settings
from pushsvc.main import create_app
from pushsvc.webpush.identity import VapidKeyChanged, load_identity, start
from pushsvc.webpush.vapid import VapidIdentity, b64url_decode
from tests.conftest import TestDatabase


def test_public_key_is_an_uncompressed_p256_point_from_a_0600_file(client: TestClient, settings: Settings) -> None:
    key = client.get("/api/v1/push/vapid-public-key").json()["public_key"]
    raw = b64url_decode(key)
    assert len(raw) == 65 and raw[0] == 4
    assert stat.S_IMODE(settings.vapid_key_file.stat().st_mode) == 0o600
    assert key == load_identity(settings).public_key_b64url


def test_key_from_environment_wins_over_the_file(db: TestDatabase, tmp_path: Path) -> None:
    given = VapidIdentity.generate()
    settings = db.settings(vapid_key_file=tmp_path / "unused.pem", vapid_private_key=given.private_key_b64url)
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/v1/push/vapid-public-key").json()["public_key"] == given.public_key_b64url
    assert not (tmp_path / "unused.pem").exists()


def test_a_changed_key_refuses_to_start_unless_rotated(db: TestDatabase, tmp_path: Path) -> None:
    first = db.settings(vapid_key_file=tmp_path / "first.pem")
    with TestClient(create_app(first)):
        pass
    second = db.settings(vapid_key_file=tmp_path / "second.pem")
    with pytest.raises(VapidKeyChanged, match="rotate-vapid"), TestClient(create_app(second)):
        pass
    start(second, db.sessionmaker, rotate=True)
    with TestClient(create_app(second)) as c:
        assert c.get("/api/v1/push/vapid-public-key").json()["public_key"] == load_identity(second).public_key_b64url


def test_cli_vapid_show_prints_the_public_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pushsvc.cli import main
    from pushsvc.config import get_settings

    monkeypatch.setenv("PUSHSVC_VAPID_KEY_FILE", str(tmp_path / "cli.pem"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["vapid", "show"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    expected = VapidIdentity.from_text((tmp_path / "cli.pem").read_text()).public_key_b64url
    assert expected in result.output
