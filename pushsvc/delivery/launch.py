"""Starting a batch's sends: a chunk at a time, and routine batches held back while urgent work starts.

Kept apart from ``worker`` (the claim loop, leases, checkpoints): this is what decides how the event
loop's turns are shared between batches in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pushsvc.subscriptions import service as subscriptions
from pushsvc.webpush.sender import PushResult

LAUNCH_CHUNK = 32  # sends a batch starts (and encrypts) per turn of the event loop
URGENT_HOLD_S = 1.0  # longest a routine batch pauses for urgent work (``UrgentGate``)


class UrgentGate:
    """Closed while urgent work (lanes 0–1) is announced or being started: routine batches start no new
    sends meanwhile, so the event loop and the CPU go to the warning first. On a busy worker the loop's
    turns were what a 緊急地震速報 waited on: ~50 ms from NOTIFY to the claim, ~50 ms from the claim to its
    first encryption (traced, bench/eew.py). Reopens when the urgent batch's sends have all started,
    and after ``URGENT_HOLD_S`` whatever happens, so routine work is only ever paused, never starved."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()
        self._timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        self.open.clear()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(URGENT_HOLD_S, self.reopen)

    def reopen(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.open.set()


async def launch(
    one: Callable[[subscriptions.PushTarget], Awaitable[tuple[int, PushResult]]],
    targets: list[subscriptions.PushTarget],
    *,
    gate: UrgentGate | None = None,
    started: Callable[[], None] | None = None,
) -> list[tuple[int, PushResult]]:
    """Start a batch's sends ``LAUNCH_CHUNK`` at a time, yielding to the loop in between.

    Each send encrypts before it waits for a connection slot; started all at once, a batch's 500
    encryptions would hold the event loop ~75 ms (more on a loaded machine) before any answer is read
    or any slot handed on, so an emergency's first send would wait behind them. A routine batch
    (``gate`` given) starts no new chunk while urgent work is being claimed and started; an urgent one
    calls ``started`` once all its sends have started.
    """
    tasks: list[asyncio.Future[tuple[int, PushResult]]] = []
    try:
        for i in range(0, len(targets), LAUNCH_CHUNK):
            if gate is not None and not gate.open.is_set():
                await gate.open.wait()
            elif i:
                await asyncio.sleep(0)
            tasks.extend(asyncio.ensure_future(one(t)) for t in targets[i : i + LAUNCH_CHUNK])
        if started is not None:
            started()
        return await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        for t in tasks:
            t.cancel()
        raise
