"""Shared benchmark plumbing: machine description, a throwaway PostgreSQL database, a uvicorn server on a
free port, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PUSHSVC_SHARED", ROOT.parent / "shared"))
BOUNDARIES = SHARED / "municipal_boundaries" / "N03-21_39_210101.json"
PG_ADMIN_URL = os.environ.get("PUSHSVC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}, {platform.system()}"


@dataclass(frozen=True)
class Throwaway:
    """A database made for one benchmark run: its URL, the server's version, and a scratch folder."""

    url: str
    server_version: str
    tmp: Path


@contextlib.contextmanager
def throwaway_database(admin_url: str = PG_ADMIN_URL) -> Iterator[Throwaway]:
    """Create a fresh database on the server at ``admin_url`` and drop it (forcibly) when the block ends,
    so a benchmark never measures or leaves behind anyone else's data."""
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"pushsvc_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
            version = str(c.execute(text("SHOW server_version")).scalar_one())
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        yield Throwaway(url, version, Path(tempfile.mkdtemp(prefix="pushsvc-bench-")))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publish(report: str, append: Path | None) -> None:
    """Print a benchmark's Markdown section, and add it to ``append`` (docs/BENCHMARKS.md) when given."""
    print(report)
    if append:
        with append.open("a", encoding="utf-8") as fh:
            fh.write(report)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@contextlib.contextmanager
def serve(env: dict[str, str], workers: int = 1) -> Iterator[str]:
    """Run `pushsvc serve` in a subprocess until the block ends; yields its base URL."""
    port = free_port()
    full_env = {**os.environ, "PUSHSVC_LOG_LEVEL": "WARNING", **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pushsvc.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
            time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class OpenLoopRun:
    """Latencies (s) and statuses of requests sent on schedule, and how many the client sent late."""

    latencies: list[float]
    statuses: dict[int, int]
    elapsed: float
    late: int


async def open_loop(
    rate: float, total: int, request: Callable[[aiohttp.ClientSession, int], Awaitable[int]], *, connections: int = 256
) -> OpenLoopRun:
    """Send ``total`` requests at ``rate`` per second, each on schedule whether or not earlier ones have
    finished (open loop: arrivals are independent, as residents are), so a slow server shows up as
    latency instead of as a politely slower client. ``request(http, i)`` sends the i-th and returns its
    status."""
    run = OpenLoopRun([], {}, 0.0, 0)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            status = await request(http, i)
            run.latencies.append(time.perf_counter() - t0)
            run.statuses[status] = run.statuses.get(status, 0) + 1

        tasks = []
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.01:
                run.late += 1
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        run.elapsed = time.perf_counter() - start
    return run
