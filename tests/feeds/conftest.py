"""Feed-poller fixtures: the delivery harness (app + local push service + worker) and a loopback publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from pushsvc.config import Settings
from pushsvc.dev.localfeed import AREA_INFO_PATH, KriverReplay, LocalFeedServer
from pushsvc.feeds.poller import Poller, PollResult, SourcePoller
from pushsvc.feeds.sources import SourceConfig
from tests.fixtures.delivery import Harness, harness
from tests.fixtures.devpush import devpush, devpush_server
from tests.fixtures.river import EVENT_CSV, GAUGES_CSV, river_file

__all__ = ["devpush", "devpush_server", "harness"]

T = TypeVar("T")


def kriver_source(url: str, **options: Any) -> SourceConfig:
    return SourceConfig(
        name="kochi-kriver",
        kind="kriver_area",
        url=url,
        interval_s=0.05,
        timeout_s=1.0,
        options={"stations_file": str(GAUGES_CSV), **options},
    )


class PollDriver:
    """Runs ``SourcePoller.poll_once`` from sync tests; ``restart()`` = a new process (fresh client + adapter)."""

    def __init__(self, harness: Harness, cfg: SourceConfig, settings: Settings | None = None) -> None:
        self.harness, self.cfg = harness, cfg
        self.settings = settings or harness.settings
        self._open()

    def _open(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = self.loop.run_until_complete(self._client())
        self.poller = SourcePoller(self.cfg, self.settings, self.harness.db.sessionmaker, self.client)

    async def _client(self) -> httpx.AsyncClient:
        return Poller.client()

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)

    def poll(self) -> PollResult:
        return self.run(self.poller.poll_once())

    def restart(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="session")
def event_replay_files() -> tuple[Any, Any]:
    return river_file("series", EVENT_CSV.name), river_file("stations", GAUGES_CSV.name)


@pytest.fixture
def event_feed(event_replay_files: tuple[Any, Any]) -> Iterator[tuple[KriverReplay, LocalFeedServer]]:
    replay = KriverReplay(*event_replay_files)
    server = LocalFeedServer({AREA_INFO_PATH: replay.document})
    with server.running():
        yield replay, server


@pytest.fixture
def driver_factory(harness: Harness) -> Iterator[Callable[..., PollDriver]]:
    made: list[PollDriver] = []

    def make(cfg: SourceConfig, settings: Settings | None = None) -> PollDriver:
        made.append(PollDriver(harness, cfg, settings))
        return made[-1]

    yield make
    for d in made:
        if not d.loop.is_closed():
            d.close()
