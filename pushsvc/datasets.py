"""``pushsvc data fetch``: the data files the service reads, fetched and checked against pinned SHA-256 sums.

A fresh machine has no ``../shared``: the boundaries, JMA code tables and evacuation sites come from
configurable URLs (an upstream where the file is published as is, or ``PUSHSVC_DATA_BASE_URL``: a mirror
laid out like the manifest's paths, e.g. an intranet server on a closed network). A local directory laid
out the same way (``../shared``, or ``--from``) is used instead when present. Every file is checked
against its pinned sum before it is put in place, so a changed or truncated download never replaces
good data. Downloads honour ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from pushsvc import __version__
from pushsvc.config import Settings


@dataclass(frozen=True)
class DataFile:
    """One file: where it lives in the data directory (``../shared``'s layout), its sum, and its upstream."""

    path: str
    sha256: str
    what: str
    upstream: str | None = None  # None: derived here, only from a mirror (PUSHSVC_DATA_BASE_URL) or a directory
    demo_only: bool = False


BOUNDARIES = "municipal_boundaries/N03-21_39_210101.json"
JMA_CODES = "samples/jma/codes"

MANIFEST: tuple[DataFile, ...] = (
    DataFile(
        BOUNDARIES,
        "9080df783ff778b9bd5952ca569392136936880c10fd5fdffb765384a4a061c4",
        "MLIT N03 行政区域, Kochi (simplified GeoJSON)",
        "https://raw.githubusercontent.com/smartnews-smri/japan-topography/main/"
        "data/municipality/geojson/s0010/N03-21_39_210101.json",
    ),
    DataFile(
        f"{JMA_CODES}/kochi_area_codes.csv",
        "a1835127ae95ab36b070af2b196844f78ae6831d671c3e1411f0fc860a8e664c",
        "JMA area codes of Kochi (extract of JMA's code tables)",
    ),
    DataFile(
        f"{JMA_CODES}/kochi_other_codes.csv",
        "e7439abd36d86db2845845718c3d9ee42838d64a0e94979fb0313c2be9e00b0f",
        "JMA tsunami/forecast-area codes of Kochi (extract of JMA's code tables)",
    ),
    DataFile(
        "samples/shelters/kochi_gsi_emergency_sites_merged.csv",
        "1b88a34897b64297864c881a77c38b3f3cf9fa456240b4369284d2f7ea31b08c",
        "GSI 指定緊急避難場所, Kochi (merged CSV)",
    ),
    DataFile(
        "samples/river/series/kochi_event_2026-06-02_k_river_crisis_gauges.csv",
        "1b9da92c245c937837521ec0aaa247d7f1b871184af01b3efe288b0a7840b521",
        "river levels of the 2026-06-02 rain event (the demo's replay)",
        demo_only=True,
    ),
    DataFile(
        "samples/river/stations/kochi_crisis_gauges_k_river_area_info.csv",
        "8bc87cfbc9d444406106f8bb7f1de135fbcf9ab73205579bc4eb1b27e33aaad3",
        "Kochi crisis-management gauges and their levels (the river poller's stations_file)",
    ),
)


class DataFetchError(Exception):
    """A file could not be fetched or did not match its pinned sum; the message says which and why."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def destination(entry: DataFile, settings: Settings, dest: Path) -> Path:
    """Where a file goes: where the settings point when they were given explicitly, else ``dest``/path."""
    given = settings.model_fields_set
    if entry.path == BOUNDARIES and "boundaries" in given and settings.boundaries is not None:
        return settings.boundaries
    if entry.path.startswith(JMA_CODES + "/") and "jma_codes_dir" in given:
        return settings.jma_codes_dir / Path(entry.path).name
    return dest / entry.path


def _url(entry: DataFile, base_url: str | None) -> str:
    if base_url:
        return base_url.rstrip("/") + "/" + entry.path
    if entry.upstream is None:
        raise DataFetchError(
            f"{entry.path}: no public upstream publishes this file as is; set PUSHSVC_DATA_BASE_URL to a mirror "
            f"or pass --from DIR (a directory laid out like ../shared)"
        )
    return entry.upstream


def _install(tmp: Path, entry: DataFile, target: Path, origin: str) -> None:
    got = sha256_of(tmp)
    if got != entry.sha256:
        size = tmp.stat().st_size
        tmp.unlink(missing_ok=True)
        raise DataFetchError(
            f"{entry.path}: refused: SHA-256 {got[:16]}… of {size} bytes from {origin} is not the pinned "
            f"{entry.sha256[:16]}… (the file changed upstream or the download was cut short); nothing replaced"
        )
    os.replace(tmp, target)


def _download(client: httpx.Client, url: str, into: Path) -> None:
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise DataFetchError(f"{url}: HTTP {response.status_code}")
            with into.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise DataFetchError(f"{url}: {type(exc).__name__}: {exc or 'no answer'}") from exc


def fetch(
    settings: Settings,
    *,
    dest: Path,
    source_dir: Path | None = None,
    base_url: str | None = None,
    include_demo: bool = True,
    echo: Callable[[str], None] = print,
    client: httpx.Client | None = None,
) -> list[Path]:
    """Put every manifest file in place; a file already there with the right sum is left alone.

    Raises ``DataFetchError`` at the first file that cannot be had; files already placed stay (they are good).
    """
    entries: Iterable[DataFile] = [e for e in MANIFEST if include_demo or not e.demo_only]
    placed: list[Path] = []
    own = client is None
    http = client or httpx.Client(
        timeout=httpx.Timeout(30.0),
        follow_redirects=True,
        trust_env=True,
        headers={"User-Agent": f"pushsvc/{__version__} data fetch"},
    )
    try:
        for entry in entries:
            target = destination(entry, settings, dest)
            if target.is_file() and sha256_of(target) == entry.sha256:
                echo(f"ok       {target}")
                placed.append(target)
                continue
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
            except OSError as exc:
                raise DataFetchError(f"{target.parent}: cannot write here: {exc.strerror or exc}") from exc
            os.close(fd)
            tmp = Path(name)
            try:
                local = source_dir / entry.path if source_dir is not None else None
                if local is not None and local.is_file():
                    shutil.copyfile(local, tmp)
                    _install(tmp, entry, target, str(local))
                    echo(f"copied   {target} (from {local})")
                else:
                    url = _url(entry, base_url)
                    _download(http, url, tmp)
                    _install(tmp, entry, target, url)
                    echo(f"fetched  {target} (from {url})")
            finally:
                tmp.unlink(missing_ok=True)
            placed.append(target)
    finally:
        if own:
            http.close()
    return placed
