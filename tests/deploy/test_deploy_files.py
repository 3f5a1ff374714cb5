"""The container files, checked by what can run here (no Docker engine on CI): compose parses and has what
a production deployment needs, the image owns its volumes, the example feeds file loads, TLS is in front."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pushsvc.cli import main
from pushsvc.feeds.sources import load_sources
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_every_long_running_service_restarts_and_the_api_is_only_behind_tls() -> None:
    assert set(SERVICES) == {"db", "api", "worker", "poller", "proxy"}
    assert all(s.get("restart") == "unless-stopped" for s in SERVICES.values())
    for name in ("db", "api", "worker", "proxy"):
        assert "test" in SERVICES[name]["healthcheck"], name
    assert "ports" not in SERVICES["api"]  # residents reach it only through the proxy
    assert SERVICES["proxy"]["ports"] == ["80:80", "443:443"]
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy api:8000" in caddy and re.search(r"@internal path /metrics", caddy)


def test_public_base_url_is_https_on_every_service() -> None:
    env = COMPOSE["x-pushsvc-env"]
    assert env["PUSHSVC_PUBLIC_BASE_URL"].startswith("https://${PUSHSVC_DOMAIN")
    for name in ("api", "worker", "poller"):
        service_env = SERVICES[name]["environment"]
        assert service_env.get("PUSHSVC_PUBLIC_BASE_URL", env["PUSHSVC_PUBLIC_BASE_URL"]).startswith("https://")
    assert "PUSHSVC_METRICS_TOKEN" in env and "HTTPS_PROXY" in env


def test_the_poller_has_an_example_feeds_file_that_loads() -> None:
    poller = SERVICES["poller"]
    assert "./deploy:/feeds:ro" in poller["volumes"]
    assert poller["environment"]["PUSHSVC_FEEDS_FILE"] == "/feeds/${PUSHSVC_FEEDS_TOML:-feeds.example.toml}"
    sources = load_sources(ROOT / "deploy" / "feeds.example.toml")
    assert {s.kind for s in sources} == {"kriver_area", "jma_atom"}
    river = next(s for s in sources if s.kind == "kriver_area")
    assert river.options["stations_file"].startswith("/data/")  # where `pushsvc data fetch` puts it


def test_the_image_creates_its_volumes_owned_by_its_user_before_switching_to_it() -> None:
    chown = DOCKERFILE.index("chown pushsvc:pushsvc /var/lib/pushsvc /keys /data")
    assert DOCKERFILE.index("mkdir -p /var/lib/pushsvc /keys /data") < chown < DOCKERFILE.index("USER pushsvc")
    assert "PUSHSVC_VAPID_KEY_FILE=/keys/vapid.pem" in DOCKERFILE
    assert "pip install --no-cache-dir . " in DOCKERFILE  # non-editable, as the wheel smoke test checks
    assert "keys:/keys" in SERVICES["api"]["volumes"] and "data:/data:ro" in SERVICES["api"]["volumes"]


@pytest.mark.parametrize("command", [["serve"], ["worker", "--until-idle"]])
def test_an_unwritable_key_path_is_one_line_not_a_traceback(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keys").write_text("a file where the key directory should be")  # root cannot write there either
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("PUSHSVC_VAPID_KEY_FILE", str(tmp_path / "keys" / "vapid.pem"))
    from pushsvc.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot use the VAPID key file {tmp_path}/keys/vapid.pem")
    assert "Traceback" not in result.output


def test_the_readme_deploy_section_reaches_https_with_one_off_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    deploy = readme[readme.index("## Deploy") :]
    deploy = deploy[: deploy.find("\n## ", 4)]
    for step in (
        "cp deploy/env.example .env",
        "docker compose run --rm api pushsvc data fetch",
        "docker compose run --rm api pushsvc operators create",
        "docker compose up -d",
        "https://",
    ):
        assert step in deploy, step
    assert readme.count("\n    scripts/") == 2  # the two commands, unchanged in number


def test_serve_without_the_boundaries_file_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("PUSHSVC_BOUNDARIES", str(tmp_path / "data" / "N03.json"))
    from pushsvc.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: PUSHSVC_BOUNDARIES: {tmp_path}/data/N03.json: no such file (`pushsvc data fetch` gets the file)"
    )
