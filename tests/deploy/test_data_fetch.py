"""`pushsvc data fetch` on a machine without ../shared: files come over HTTP, each checked against its sum."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from pushsvc.cli import main
from pushsvc.config import Settings
from pushsvc.datasets import BOUNDARIES, MANIFEST, DataFetchError, fetch, sha256_of
from tests.conftest import SHARED
from tests.deploy.conftest import proxy, serve_directory

__all__ = ["proxy"]


def test_fetch_from_a_mirror_places_every_file_with_its_pinned_sum(
    shared_mirror: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requested = shared_mirror
    placed = fetch(Settings(), dest=tmp_path / "data", base_url=base, echo=lambda _: None)
    assert [p.relative_to(tmp_path / "data").as_posix() for p in placed] == [e.path for e in MANIFEST]
    assert all(sha256_of(p) == e.sha256 for p, e in zip(placed, MANIFEST, strict=True))
    assert sorted(requested) == sorted(f"/{e.path}" for e in MANIFEST)
    # A second run finds every file in place and downloads nothing.
    requested.clear()
    fetch(Settings(), dest=tmp_path / "data", base_url=base, echo=lambda _: None)
    assert requested == []


def test_a_truncated_download_is_refused_and_the_good_file_stays(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    for e in MANIFEST:
        (mirror / e.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / e.path, mirror / e.path)
    dest = tmp_path / "data"
    (dest / BOUNDARIES).parent.mkdir(parents=True)
    (dest / BOUNDARIES).write_bytes(b"{}")  # an older, wrong copy: must not be replaced by a bad download
    full = (mirror / BOUNDARIES).read_bytes()
    (mirror / BOUNDARIES).write_bytes(full[: len(full) // 2])
    with serve_directory(mirror) as (base, _), pytest.raises(DataFetchError) as err:
        fetch(Settings(), dest=dest, base_url=base, echo=lambda _: None)
    assert BOUNDARIES in str(err.value) and "refused" in str(err.value) and "cut short" in str(err.value)
    assert (dest / BOUNDARIES).read_bytes() == b"{}"
    assert not list((dest / BOUNDARIES).parent.glob(".fetch-*"))  # no half file left behind


def test_cli_refuses_a_changed_file_with_one_line_and_exit_1(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / BOUNDARIES).parent.mkdir(parents=True)
    (mirror / BOUNDARIES).write_text('{"type": "FeatureCollection", "features": []}')
    with serve_directory(mirror) as (base, _):
        result = CliRunner().invoke(
            main, ["data", "fetch", "--dest", str(tmp_path / "d"), "--base-url", base, "--from", str(tmp_path / "none")]
        )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(f"error: {BOUNDARIES}: refused: SHA-256")
    assert "Traceback" not in result.output


def test_a_local_directory_like_shared_is_used_instead_of_the_network(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "data",
            "fetch",
            "--dest",
            str(tmp_path / "d"),
            "--from",
            str(SHARED),
            "--base-url",
            "http://127.0.0.1:9/unreachable",
        ],
    )
    assert result.exit_code == 0, result.output
    assert all(sha256_of(tmp_path / "d" / e.path) == e.sha256 for e in MANIFEST)


def test_files_go_where_the_settings_point(shared_mirror: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = shared_mirror
    settings = Settings(boundaries=tmp_path / "b" / "kochi.json", jma_codes_dir=tmp_path / "codes")
    fetch(settings, dest=tmp_path / "d", base_url=base, include_demo=False, echo=lambda _: None)
    assert sha256_of(tmp_path / "b" / "kochi.json") == MANIFEST[0].sha256
    assert sorted(p.name for p in (tmp_path / "codes").iterdir()) == ["kochi_area_codes.csv", "kochi_other_codes.csv"]
    assert not (tmp_path / "d" / BOUNDARIES).exists()


def test_a_derived_file_without_upstream_says_to_use_a_mirror(tmp_path: Path) -> None:
    with pytest.raises(DataFetchError, match="PUSHSVC_DATA_BASE_URL"):
        fetch(
            Settings(),
            dest=tmp_path,
            client=httpx.Client(
                transport=httpx.MockTransport(lambda r: httpx.Response(200, content=(SHARED / BOUNDARIES).read_bytes()))
            ),
            echo=lambda _: None,
        )
    assert sha256_of(tmp_path / BOUNDARIES) == MANIFEST[0].sha256  # the one with an upstream was placed


def test_downloads_go_through_the_proxy_of_the_environment(
    shared_mirror: tuple[str, list[str]], tmp_path: Path, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = shared_mirror
    proxy_url, relayed = proxy
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    fetch(Settings(), dest=tmp_path, base_url=base, include_demo=False, echo=lambda _: None)
    assert relayed == [f"{base}/{e.path}" for e in MANIFEST if not e.demo_only]
