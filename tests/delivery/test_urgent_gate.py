"""While urgent work is being started, a busy worker's routine batches start no new sends; they are paused,
never starved (the gate reopens on its own). bench/eew.py measures what this buys a 緊急地震速報."""

from __future__ import annotations

import asyncio

import pytest

from pushsvc.delivery import launch as worker
from pushsvc.webpush.sender import Outcome, PushResult


def _targets(n: int) -> list[object]:
    return list(range(n))


def test_routine_sends_wait_while_urgent_work_starts_and_resume_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "URGENT_HOLD_S", 0.3)

    async def go() -> tuple[int, int, int]:
        started: list[object] = []

        async def one(t: object) -> tuple[int, PushResult]:
            started.append(t)
            await asyncio.sleep(0)
            return 0, PushResult(Outcome.SENT, 201, "")

        gate = worker.UrgentGate()
        gate.close()  # urgent work announced
        routine = asyncio.ensure_future(worker.launch(one, _targets(3 * worker.LAUNCH_CHUNK), gate=gate))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        while_closed = len(started)
        urgent = await worker.launch(one, _targets(worker.LAUNCH_CHUNK), started=gate.reopen)  # type: ignore[arg-type]
        await routine
        after = len(started)
        gate.close()  # announced, but nobody here starts it: the hold runs out
        late = asyncio.ensure_future(worker.launch(one, _targets(worker.LAUNCH_CHUNK), gate=gate))  # type: ignore[arg-type]
        await asyncio.wait_for(late, 2.0)
        return while_closed, len(urgent), after

    while_closed, urgent, after = asyncio.run(go())
    assert while_closed == 0  # not one routine send started while the gate was closed
    assert urgent == worker.LAUNCH_CHUNK and after == 4 * worker.LAUNCH_CHUNK  # then everything went
