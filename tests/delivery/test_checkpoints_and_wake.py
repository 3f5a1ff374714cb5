"""A killed worker's successor resends at most one checkpoint's worth; an urgent enqueue wakes a worker.

Duplicates after a crash come from sends a push service accepted that the dead worker had not written
down yet. The worker checkpoints all its batches together every ``CHECKPOINT_EVERY`` accepted sends,
however many batches it has in flight (before: each batch once, halfway, so four batches in flight
could leave four half-batches unwritten). On PostgreSQL an urgent notification wakes a waiting worker
through NOTIFY instead of waiting for its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from pushsvc.config import Settings
from pushsvc.delivery.models import DeliveryBatch
from pushsvc.delivery.worker import CHECKPOINT_EVERY, Worker
from pushsvc.dev.devpush.state import Fault
from pushsvc.webpush.sender import PushSender
from tests.delivery.test_worker_killed import _finish_with_a_second_worker, _wait, _worker
from tests.fixtures.delivery import KOCHI_KENCHO, MUROTO, Harness

BATCH = 250  # a halfway checkpoint leaves 125 of each batch unwritten: 4 in flight, 500 > CHECKPOINT_EVERY


@contextlib.asynccontextmanager
async def _running(harness: Harness, settings: Settings) -> AsyncIterator[Worker]:
    """An in-process worker running until the block ends (then it finishes what it holds)."""
    stop = asyncio.Event()
    async with PushSender.from_settings(settings, harness.app.state.vapid) as sender:
        worker = Worker(settings, harness.db.sessionmaker, sender)
        task = asyncio.create_task(worker.run(stop))
        try:
            yield worker
        finally:
            stop.set()
            await task


@pytest.mark.slow
def test_a_killed_worker_leaves_at_most_one_checkpoint_of_duplicates_with_four_batches_in_flight(
    harness: Harness,
) -> None:
    assert 4 * BATCH // 2 > CHECKPOINT_EVERY
    residents = [harness.subscribe(KOCHI_KENCHO) for _ in range(4 * BATCH)]
    harness.settings = harness.settings.model_copy(update={"delivery_batch_size": BATCH})
    harness.app.state.settings = harness.settings
    stalled = residents[::BATCH]  # the first of each batch hangs: no batch can finish, all four stay in flight
    for r in stalled:
        harness.push.fault(r.device, Fault(stall_s=30, remaining=1))
    nid = harness.notify(target={"municipality_codes": ["39201"]}, severity="warning")
    accepted = len(residents) - len(stalled)

    def written() -> int:
        with harness.db.sessionmaker() as s:
            return sum(
                len(ids)
                for ids in s.execute(
                    select(DeliveryBatch.sent_ids).where(DeliveryBatch.notification_id == nid)
                ).scalars()
            )

    first = _worker(harness, PUSHSVC_WORKER_CONCURRENCY="4", PUSHSVC_PUSH_TIMEOUT_S="60")
    try:
        _wait(
            lambda: harness.push.state.counters.get("accepted", 0) >= accepted,
            60,
            "every unstalled resident to be accepted",
        )
        _wait(
            lambda: written() >= accepted - CHECKPOINT_EVERY,
            10,
            f"all but fewer than {CHECKPOINT_EVERY} accepted sends to be written down mid-batch",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    unwritten = accepted - written()
    for r in stalled:
        harness.push.fault(r.device, None)

    counts = _finish_with_a_second_worker(harness, nid, residents)
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= unwritten < CHECKPOINT_EVERY


def test_an_urgent_notification_wakes_a_waiting_worker_before_its_next_poll(harness: Harness) -> None:
    if harness.db.backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; a SQLite worker finds work by polling")
    resident = harness.subscribe(KOCHI_KENCHO)
    settings = harness.settings.model_copy(update={"worker_poll_s": 120.0})

    async def go() -> float:
        async with _running(harness, settings) as worker:
            for _ in range(200):
                if getattr(worker, "listening", False):  # (a worker without a listener just polls)
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # its first look found nothing: it now waits out a 120 s poll
            assert not harness.push.received(resident.device)
            started = time.monotonic()
            await asyncio.to_thread(
                harness.notify,
                target={"municipality_codes": ["39201"]},
                category="evacuation",
                severity="emergency",
            )
            while not harness.push.received(resident.device) and time.monotonic() - started < 30:
                await asyncio.sleep(0.02)
            return time.monotonic() - started

    took = asyncio.run(go())
    assert harness.push.received(resident.device), "the emergency waited for the worker's next poll"
    assert took < 30


def test_a_worker_full_of_ordinary_batches_still_sends_an_emergency_at_once(harness: Harness) -> None:
    """A full worker takes more urgent work beside what it is sending: announced (PostgreSQL's NOTIFY)
    or found by its fallback probe, never only once an ordinary batch is done."""
    slow = harness.subscribe(KOCHI_KENCHO)
    harness.push.fault(slow.device, Fault(stall_s=4, remaining=1))
    town = [harness.subscribe(MUROTO) for _ in range(3)]
    settings = harness.settings.model_copy(update={"worker_concurrency": 1, "push_timeout_s": 20.0})
    harness.notify(target={"municipality_codes": ["39201"]}, severity="info")

    async def go() -> bool:
        """Whether the ordinary batch was still unfinished when the emergency had reached the town."""
        async with _running(harness, settings):
            while slow.device.id in harness.push.state.faults:  # its batch is being sent, and stalls
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.5)  # full (one batch, stalled): past its first fallback probes
            await asyncio.to_thread(
                harness.notify, target={"municipality_codes": ["39202"]}, category="evacuation", severity="emergency"
            )
            while not all(harness.push.received(r.device) for r in town):
                await asyncio.sleep(0.02)
            return not harness.push.received(slow.device)

    assert asyncio.run(go()), "the emergency waited for the ordinary batch to finish"


def test_residents_written_down_mid_batch_after_a_follow_up_was_sent_still_get_the_follow_up(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint moves who got it to "sent"; where a 取消 or correction already references the
    notification, those residents must be added to it too, even when the checkpoint commits at the very
    moment the follow-up is addressed (the follow-up marks its original under the row's lock)."""
    from pushsvc.db import session_scope
    from pushsvc.delivery import service
    from pushsvc.delivery import worker as worker_module

    monkeypatch.setattr(worker_module, "CHECKPOINT_EVERY", 1)
    residents = [harness.subscribe(KOCHI_KENCHO) for _ in range(6)]
    harness.settings = harness.settings.model_copy(update={"delivery_batch_size": 6})
    for r in residents[:3]:  # the batch's first three hang a while: it stays in flight, checkpointing the rest
        harness.push.fault(r.device, Fault(stall_s=0.8, remaining=1))
    nid = harness.notify(target={"municipality_codes": ["39201"]}, severity="warning")

    async def go() -> None:
        async with _running(harness, harness.settings.model_copy(update={"push_timeout_s": 5.0})):
            while sum(bool(harness.push.received(r.device)) for r in residents) < 1:
                await asyncio.sleep(0.01)

            def follow_up() -> None:
                with session_scope(harness.db.sessionmaker) as s:
                    service.create_notification(
                        s,
                        service.NotificationDraft(
                            source="operator",
                            category="area_info",
                            severity="info",
                            title={"ja": "取消"},
                            body={"ja": "先ほどのお知らせは取り消されました"},
                            reference_id=nid,
                            recipient_ids=service.recipients_who_received(s, nid),
                        ),
                        settings=harness.settings,
                    )

            await asyncio.to_thread(follow_up)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not all(len(harness.push.received(r.device)) == 2 for r in residents):
                await asyncio.sleep(0.05)

    asyncio.run(go())
    for r in residents:
        assert [m.json()["title"] for m in harness.push.received(r.device)] == ["テスト", "取消"], [
            [m.json()["title"] for m in harness.push.received(x.device)] for x in residents
        ]
