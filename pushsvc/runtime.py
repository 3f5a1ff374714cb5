"""Process-wide tuning shared by the long-running processes (API workers, delivery workers)."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Call once start-up is done: keep the cyclic garbage collector off what start-up built.

    The collector cost a delivery worker ~10% of its CPU in a fan-out: thousands of tasks and futures in
    flight keep triggering collections, and each full one walked everything the imports, settings,
    engine and boundary index made (~140,000 objects) again. One worker, 20,000 messages: 20-22 us per
    message in collections; 5-6 us with those frozen out of the collector's sight; 0.3 us when also the
    young generation waits for 50,000 allocations instead of 700, so most short-lived objects die before
    a collection walks them. The API's requests are the same shape (sign-up at 32 in flight, 2 workers:
    645-657 against 596-666 requests/s, interleaved runs). Cyclic garbage can wait that long: 50,000
    objects at most.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
