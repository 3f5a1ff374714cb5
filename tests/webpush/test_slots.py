"""How many requests a worker keeps in flight to one push service follows how long its answers take.

A slow service (FCM, Mozilla, Apple answer in tens of ms) needs many in flight for throughput; with a
quick one, extra requests in flight only wait in our own event loop and cost CPU (issue 13).
"""

from __future__ import annotations

import asyncio
import time

from pushsvc.webpush.slots import Slots, busy_clock


class Loop:
    """A worker's clock and its loop thread's busy time: ``idle`` of every second spent waiting for answers."""

    def __init__(self, idle: float, per_answer_s: float = 0.0002) -> None:
        self.now, self.busy_s, self.idle, self.step = 100.0, 0.0, idle, per_answer_s

    def clock(self) -> float:
        self.now += self.step  # Slots reads the clock once per answer
        self.busy_s += self.step * (1 - self.idle)
        return self.now

    def busy(self) -> float:
        return self.busy_s

    def pause(self, seconds: float) -> None:
        self.now += seconds  # no answers, the loop asleep


def _slots(loop: Loop) -> Slots:
    return Slots(256, floor=64, clock=loop.clock, busy=loop.busy)


def _drive(slots: Slots, answers: list[float]) -> int:
    """Send one request per answer time, as many at once as the slots allow; the most seen in flight."""

    async def go() -> int:
        in_flight, most = 0, 0

        async def request(answered_in: float) -> None:
            nonlocal in_flight, most
            await slots.acquire(3)
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0)
            in_flight -= 1
            slots.release(answered_in)

        await asyncio.gather(*(request(a) for a in answers))
        return most

    return asyncio.run(go())


def test_a_slow_push_service_gets_more_requests_in_flight_up_to_the_ceiling() -> None:
    slots = _slots(Loop(idle=0.5))  # the loop waits half the time for answers
    most = _drive(slots, [0.030] * 3000)  # every answer takes the service's 30 ms
    assert slots.capacity == 256
    assert 64 < most <= 256


def test_answers_waiting_in_our_own_loop_do_not_add_requests_in_flight() -> None:
    slots = _slots(Loop(idle=0.5))
    most = _drive(slots, [0.0005] + [0.008] * 3000)  # the service answers at once; our loop is busy
    assert slots.capacity < 72 and most < 72  # a few more at the very start, before the average settles


def test_a_loop_that_never_waits_for_answers_gets_no_more_in_flight_however_long_they_take() -> None:
    # Two workers, the push service and the database on two cores: every answer waits for a CPU, so even a
    # service that answers at once looks like a steady 30 ms one; more in flight would only add cost.
    slots = _slots(Loop(idle=0.05))
    most = _drive(slots, [0.030] * 3000)
    assert slots.capacity == 64 and most == 64


def test_in_flight_falls_back_to_the_floor_when_answers_start_to_queue() -> None:
    slots = _slots(Loop(idle=0.5))
    _drive(slots, [0.030] * 3000)
    assert slots.capacity == 256
    most = _drive(slots, [0.4] * 1000)  # the quickest was 30 ms: now they queue (here, or at the service)
    assert slots.capacity == 64
    assert most <= 256


def test_the_quickest_answer_is_looked_for_afresh_so_a_service_that_slowed_down_gets_more_again() -> None:
    loop = Loop(idle=0.5)
    slots = _slots(loop)
    _drive(slots, [0.001] * 500)  # quick at first
    loop.pause(60.0)  # a minute later the service takes 40 ms an answer, as some do under load
    _drive(slots, [0.040] * 3000)
    assert slots.capacity == 256


def test_after_a_pause_the_next_fan_out_starts_from_the_floor() -> None:
    loop = Loop(idle=0.5)
    slots = _slots(loop)
    _drive(slots, [0.100] * 3000)  # a fan-out while the service took 100 ms
    assert slots.capacity == 256
    loop.pause(1.0)
    loop.idle = 0.05  # the next one: the service answers at once, our loop is never idle
    _drive(slots, [0.002] * 3000)
    assert slots.capacity == 64


def test_the_loop_counts_as_idle_while_it_sleeps_and_busy_while_it_works() -> None:
    busy = busy_clock()
    before = busy()
    time.sleep(0.3)
    slept = busy() - before
    before, until = busy(), time.monotonic() + 0.3
    while time.monotonic() < until:
        pass
    worked = busy() - before
    assert slept < 0.1 < 0.2 < worked
