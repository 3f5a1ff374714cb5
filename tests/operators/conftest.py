"""Operator fixtures: the delivery harness (real app, local push service, worker) plus operator tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pushsvc.delivery.worker import Worker
from pushsvc.webpush.sender import PushSender
from tests.fixtures.delivery import KOCHI_KENCHO, MUROTO, SHIMANTO, Harness, harness
from tests.fixtures.devpush import devpush, devpush_server
from tests.fixtures.operators import KATSURAHAMA_SQUARE, KOCHI, MUROTO_CODE, Ops, message

__all__ = [
    "KATSURAHAMA_SQUARE",
    "KOCHI",
    "KOCHI_KENCHO",
    "MUROTO",
    "MUROTO_CODE",
    "SHIMANTO",
    "Harness",
    "Ops",
    "devpush",
    "devpush_server",
    "harness",
    "message",
]


@pytest.fixture
def ops(harness: Harness) -> Ops:
    o = Ops(harness, {})
    o.add("pref-a", "prefecture")
    o.add("pref-b", "prefecture")
    o.add("kochi-city", "municipality", (KOCHI,))
    o.add("muroto-city", "municipality", (MUROTO_CODE,))
    return o


def run_worker_until(h: Harness, stop_when: Callable[[Worker], bool], **overrides: Any) -> None:
    """Run one worker, one batch at a time, until ``stop_when`` says so (partial delivery) or it is idle."""
    settings = h.settings.model_copy(update={"worker_concurrency": 1, **overrides})

    async def go() -> None:
        stop = asyncio.Event()
        async with PushSender.from_settings(settings, h.app.state.vapid) as sender:
            worker = Worker(settings, h.db.sessionmaker, sender)
            worker.on_batch = lambda _nid, _n: stop.set() if stop_when(worker) else None
            await worker.run(stop, until_idle=True)

    asyncio.run(go())
