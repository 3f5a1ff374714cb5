"""Requests in flight to one push service: most urgent first, and as many as the service's latency needs.

Real push services answer in tens of milliseconds. At 30 ms, 64 requests in flight per worker cap it
near 2,100 messages/s, so a slow service needs more (issue 13). At our local push service's 0 ms,
256 in flight only queue in our own event loop: measured 2-4 % more CPU per message than 64
(docs/BENCHMARKS.md, session 5). So the capacity adapts between a floor and a ceiling, by TCP Vegas'
reasoning. While requests take about as long as the quickest recent one, the time is the service's, and
one more in flight adds throughput (Little's law: in flight = rate × latency). When they take much
longer than that, the time is our own queue, and more in flight adds nothing but cost.

Answer times alone are fooled when the worker shares its cores with others (the push service, the
database, another worker: session 6 measured the quickest answer at 5-41 ms from a service answering
at once, as every answer waited for a CPU). So a step up also needs the event loop to have sat idle,
waiting for answers, for part of the last tenth of a second: if it never waits, more requests in
flight cannot add throughput. And a pause with no answers ends what was learnt: the next fan-out
starts from the floor, so a burst at a slow service does not leave a quick one with 256 in flight.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable

FLOOR = 64  # what one worker kept in flight before issue 13: enough when answers are quick
MIN_WINDOW_S = 1.0  # the quickest answer is looked for over this long, then afresh
GROW_BELOW = 3.0  # grow while the average answer takes < 3 × the quickest
SHRINK_ABOVE, SHRINK_MARGIN_S = 6.0, 0.005  # shrink while it takes > 6 × the quickest + 5 ms
SMOOTHING = 0.05  # weight of each answer in the running average
SAMPLE_S = 0.1  # the loop's idle share is read over this long
GROW_IF_IDLE = 0.2  # grow only while the loop sat idle for more than this share of the last sample
FORGET_AFTER_S = 0.5  # no answer for this long: back to the floor


def _schedstat_busy() -> float:
    """Seconds this thread has run or waited for a CPU (the kernel's schedstat), not counting time blocked."""
    with open("/proc/thread-self/schedstat", "rb") as f:
        run_ns, wait_ns, _ = f.read().split()
    return (int(run_ns) + int(wait_ns)) / 1e9


def busy_clock() -> Callable[[], float]:
    """Linux's schedstat, where it can be read (and is kept: it reads 0 without CONFIG_SCHEDSTATS); elsewhere
    thread CPU time, with which time spent waiting for a CPU counts as idle."""
    try:
        kept = _schedstat_busy() > 0
    except (OSError, ValueError):
        kept = False
    return _schedstat_busy if kept else time.thread_time


class Slots:
    """Requests in flight to one origin, handed out most urgent first (then first come, first served).

    A plain semaphore is FIFO: an emergency's requests would queue behind every ordinary request a
    worker already has waiting for a connection. Here a waiter with a lower ``priority`` goes first.
    ``capacity`` moves between ``floor`` and ``ceiling`` with how long answers take and how much of the
    time the loop waits for them (module docstring); ``release(answered_in)`` feeds it. ``busy``: seconds
    the loop's thread has run or waited to run, read on that thread.
    """

    def __init__(
        self,
        ceiling: int,
        floor: int = FLOOR,
        *,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[], float] | None = None,
    ) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.capacity = self.floor
        self.free = self.floor
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._clock = clock
        self._quickest = math.inf
        self._window_ends = 0.0
        self._average = 0.0
        self._busy = busy or busy_clock()
        self._sample_started = self._sample_ends = self._busy_then = self._last_answer = 0.0
        self._idle = 0.0  # the loop's idle share over the last sample

    async def acquire(self, priority: int) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if not fut.cancelled():  # the slot was handed over just as we were cancelled: pass it on
                self.release()
            raise

    def release(self, answered_in: float | None = None) -> None:
        """Give the slot back; ``answered_in``: how long the request's answer took (None if it failed)."""
        if answered_in is not None:
            self._adapt(answered_in)
        self.free += 1
        while self.free > 0 and self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                self.free -= 1
                fut.set_result(None)

    def _adapt(self, answered_in: float) -> None:
        now = self._clock()
        if now - self._last_answer > FORGET_AFTER_S and self.capacity > self.floor:
            self.free -= self.capacity - self.floor
            self.capacity = self.floor
        self._last_answer = now
        if now >= self._sample_ends:
            busy = self._busy()
            span = now - self._sample_started
            # a sample that spans a pause says nothing of the fan-out now under way
            self._idle = 1.0 - (busy - self._busy_then) / span if 0 < span <= 2 * SAMPLE_S else 0.0
            self._sample_started, self._sample_ends, self._busy_then = now, now + SAMPLE_S, busy
        if now >= self._window_ends:
            self._quickest, self._window_ends = answered_in, now + MIN_WINDOW_S
        else:
            self._quickest = min(self._quickest, answered_in)
        self._average = answered_in if not self._average else self._average + SMOOTHING * (answered_in - self._average)
        if (
            self._waiters
            and self.capacity < self.ceiling
            and self._idle > GROW_IF_IDLE
            and self._average < self._quickest * GROW_BELOW
        ):
            self.capacity += 1
            self.free += 1
        elif self.capacity > self.floor and self._average > self._quickest * SHRINK_ABOVE + SHRINK_MARGIN_S:
            self.capacity -= 1
            self.free -= 1  # may go below 0 while full: the next release then keeps its slot
