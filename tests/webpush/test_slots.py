"""How many requests a worker keeps in flight to one push service follows how long its answers take.

A slow service (FCM, Mozilla, Apple answer in tens of ms) needs many in flight for throughput; with a
quick one, extra requests in flight only wait in our own event loop and cost CPU (issue 13).
"""

from __future__ import annotations

import asyncio

from pushsvc.webpush.slots import Slots


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
    slots = Slots(256, floor=64, clock=lambda: 0.0)
    most = _drive(slots, [0.030] * 3000)  # every answer takes the service's 30 ms
    assert slots.capacity == 256
    assert 64 < most <= 256


def test_answers_waiting_in_our_own_loop_do_not_add_requests_in_flight() -> None:
    slots = Slots(256, floor=64, clock=lambda: 0.0)
    most = _drive(slots, [0.0005] + [0.008] * 3000)  # the service answers at once; our loop is busy
    assert slots.capacity < 72 and most < 72  # a few more at the very start, before the average settles


def test_in_flight_falls_back_to_the_floor_when_answers_start_to_queue() -> None:
    slots = Slots(256, floor=64, clock=lambda: 0.0)
    _drive(slots, [0.030] * 3000)
    assert slots.capacity == 256
    most = _drive(slots, [0.4] * 3000)  # the quickest was 30 ms: now they queue (here, or at the service)
    assert slots.capacity == 64
    assert most <= 256


def test_the_quickest_answer_is_looked_for_afresh_so_a_service_that_slowed_down_gets_more_again() -> None:
    now = [0.0]
    slots = Slots(256, floor=64, clock=lambda: now[0])
    _drive(slots, [0.001] * 500)  # quick at first
    now[0] = 60.0  # a minute later the service takes 40 ms an answer, as some do under load
    _drive(slots, [0.040] * 3000)
    assert slots.capacity == 256
