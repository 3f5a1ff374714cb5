"""``pushsvc worker``: lease batches, encrypt and send each recipient's message, record what happened.

Run as many as you like against one PostgreSQL (one on SQLite). Database work runs in threads so the
event loop keeps sending, and each step (claim, look up, renew, record) is its own short transaction,
bounded on PostgreSQL (``service.bound_transaction``) so a worker frozen inside one frees its locks;
no transaction is ever open while a request is on the network. Each batch's lease is short and renewed
(heartbeat) while it is in flight, so a worker that died loses its batches to another within seconds;
a worker that lost its lease stops sending that batch, and its results are refused.

Every ``CHECKPOINT_EVERY`` accepted sends, all of a worker's batches in flight are written down in one
transaction, so a killed worker's successor resends fewer than that (plus what was on the wire). On
PostgreSQL the worker LISTENs for urgent enqueues (``service.wake_workers``) and claims at once;
polling stays the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from pushsvc.config import Settings
from pushsvc.db import session_scope
from pushsvc.delivery import service
from pushsvc.delivery.launch import UrgentGate, launch
from pushsvc.delivery.service import ClaimedBatch, Message
from pushsvc.subscriptions import service as subscriptions
from pushsvc.telemetry import count_push
from pushsvc.webpush.payload import build_payload
from pushsvc.webpush.sender import Outcome, PushResult, PushSender, PushTarget

log = logging.getLogger(__name__)
URGENT_POLL_S = 0.1  # without notifications (SQLite, listener down), a full worker probes this often
# With PostgreSQL notifications, new urgent work wakes a worker at once; a full worker then probes only
# for urgent work nobody announces (a retry coming due, a dead worker's lease running out).
URGENT_FALLBACK_S = 1.0
# Accepted-but-unwritten sends per worker before a checkpoint of all its batches: what a successor
# resends after this worker is killed (plus requests still on the wire, at most the per-origin slots),
# so duplicates stay under one batch (500) however many batches are in flight.
CHECKPOINT_EVERY = 200
LISTEN_RETRY_S = 2.0
RESUME_EVERY_S = 5.0  # how often a worker looks for appends a dying API process left undone


class Claimed(NamedTuple):
    """A leased batch, its message, and its recipients as the push client needs them."""

    claim: ClaimedBatch
    message: Message
    targets: list[subscriptions.PushTarget]


@dataclass(eq=False)
class _InFlight:
    """A batch being sent: who was accepted since its last checkpoint, and how to stop it."""

    claim: ClaimedBatch
    accepted: list[int] = field(default_factory=list)
    sending: asyncio.Future[Any] | None = None
    lost: bool = False


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        sender: PushSender,
        *,
        worker_id: str | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.sender = sender
        self.worker_id = worker_id or new_worker_id()
        self.on_batch = on_batch
        self.batches_done = 0
        self.claims = 0
        self.checkpoints = 0
        self.listening = False  # a PostgreSQL LISTEN connection is up: urgent enqueues wake us
        self._batches: dict[int, _InFlight] = {}  # batch id -> its sends
        self._unwritten = 0  # accepted sends not yet checkpointed, over all batches
        self._flushing: asyncio.Task[None] | None = None
        self._woken: asyncio.Future[None] | None = None
        self._gate = UrgentGate()
        self._resuming: asyncio.Task[list[int]] | None = None
        self._next_resume = 0.0
        self._announced = False  # urgent work was announced since a full worker last probed for it
        self._next_probe = 0.0

    # -- database steps, each its own short transaction, run in a thread ------------------------
    @contextlib.contextmanager
    def _transaction(self, *, writes: bool = True) -> Iterator[Session]:
        """A short transaction; one that takes row locks is bounded (``service.bound_transaction``)."""
        with session_scope(self.factory) as s:
            if writes:
                service.bound_transaction(s, self.settings.worker_lease_s)
            yield s

    def _claim(self, more_urgent_than: int | None = None) -> Claimed | None:
        """Lease the next batch and look up its recipients' endpoints and keys, in one transaction.

        One thread hop, not two: on a machine busy sending, each hop and transaction cost a
        life-critical batch 0.15–0.2 s before its first push (bench/eew.py, traced)."""
        self.claims += 1
        with self._transaction() as s:
            claimed = service.claim_batch(
                s,
                worker_id=self.worker_id,
                lease_seconds=self.settings.worker_lease_s,
                oldest_first=more_urgent_than is None and self.claims % service.FAIR_EVERY == 0,
                more_urgent_than=more_urgent_than,
            )
            if claimed is None:
                return None
            return Claimed(*claimed, subscriptions.get_push_targets(s, claimed[0].pending_ids))

    def _renew(self, claim: ClaimedBatch) -> bool:
        with self._transaction() as s:
            return service.renew_lease(s, claim, lease_seconds=self.settings.worker_lease_s)

    def _checkpoint(self, progress: list[tuple[ClaimedBatch, list[int]]]) -> set[int]:
        with self._transaction() as s:
            return service.record_progress_many(s, progress)

    def _record(self, claim: ClaimedBatch, results: dict[int, PushResult]) -> bool:
        with self._transaction() as s:
            return service.record_results(s, claim, results, backoff_base_s=self.settings.delivery_backoff_base_s)

    def _resume(self) -> list[int]:
        with self._transaction() as s:
            return service.resume_appending(s, settings=self.settings)

    def _maybe_resume(self) -> None:
        """Now and then, in the background: finish appends left undone (``service.resume_appending``)."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_resume or (self._resuming is not None and not self._resuming.done()):
            return
        self._next_resume = loop.time() + RESUME_EVERY_S
        self._resuming = asyncio.create_task(asyncio.to_thread(self._resume))
        self._resuming.add_done_callback(_log_failure)

    # -- sending -----------------------------------------------------------------------------------
    async def _keep_lease(self, claim: ClaimedBatch, sending: asyncio.Future[Any]) -> None:
        """Heartbeat: renew every third of the lease; on losing it, stop sending (another worker has it)."""
        interval = max(0.2, self.settings.worker_lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                held = await asyncio.to_thread(self._renew, claim)
            except Exception:  # the database is away: keep sending, the next beat tries again
                log.exception("renewing the lease on batch %s failed", claim.batch_id)
                continue
            if not held:
                log.warning("lost the lease on batch %s; another worker sends it", claim.batch_id)
                sending.cancel()
                return

    async def process(self, claim: ClaimedBatch, message: Message, targets: list[subscriptions.PushTarget]) -> None:
        sent_at = datetime.now(UTC)
        payloads: dict[tuple[str, bool], bytes] = {}

        def payload(t: subscriptions.PushTarget) -> bytes:
            key = (t.lang, t.quiet_start is not None and message.silent_for(t.quiet_start, t.quiet_end, sent_at))
            if key not in payloads:
                title, body = message.text(t.lang)
                payloads[key] = build_payload(
                    id=str(message.id),
                    title=title,
                    body=body,
                    category=message.category,
                    severity=message.severity,
                    url=message.url,
                    lang=t.lang,
                    sent_at=sent_at,
                    silent=key[1],
                    tag=None if message.topic == f"n{message.id}" else message.topic,
                )
            return payloads[key]

        ttl = max(0, int((message.expires_at - sent_at).total_seconds()))
        flight = self._batches[claim.batch_id] = _InFlight(claim)
        accepted = flight.accepted

        async def one(t: subscriptions.PushTarget) -> tuple[int, PushResult]:
            try:
                result = await self.sender.send(
                    PushTarget(t.endpoint, t.p256dh, t.auth),
                    payload(t),
                    ttl=ttl,
                    urgency=message.urgency,  # type: ignore[arg-type]
                    topic=message.topic,
                    priority=message.priority,
                )
            except Exception as exc:  # a bug for one recipient must not lose the batch
                log.exception("sending to subscription %s failed", t.id)
                result = PushResult(Outcome.RETRY, None, f"internal error: {exc}")
            count_push(t.endpoint, result.outcome.value)
            if result.outcome is Outcome.SENT:
                accepted.append(t.id)
                self._unwritten += 1
                if self._unwritten >= CHECKPOINT_EVERY and self._flushing is None:
                    self._flushing = asyncio.create_task(self._flush())
            return t.id, result

        try:
            urgent = message.priority <= service.PRIORITY_EMERGENCY
            sending = flight.sending = asyncio.ensure_future(
                launch(one, targets, gate=None if urgent else self._gate, started=self._gate.reopen if urgent else None)
            )
            keeper = asyncio.create_task(self._keep_lease(claim, sending))
            try:
                results = dict(await sending)
            except asyncio.CancelledError:
                if keeper.done() or flight.lost:  # the lease was lost: drop this attempt, its successor owns it
                    return
                raise
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        finally:
            del self._batches[claim.batch_id]
            self._unwritten -= len(accepted)
        if self._flushing is not None:  # a checkpoint with this batch in it commits before the record
            await asyncio.shield(self._flushing)
        if flight.lost:
            return  # the lease went to another worker between the checkpoint and now
        if not await asyncio.to_thread(self._record, claim, results):
            return
        self.batches_done += 1
        if self.on_batch:
            self.on_batch(claim.notification_id, len(targets))

    async def _flush(self) -> None:
        """Checkpoint every batch in flight in one transaction (see ``CHECKPOINT_EVERY``)."""
        try:
            flights = [f for f in self._batches.values() if f.accepted]
            if not flights:
                return
            progress = [(f, f.accepted[:]) for f in flights]
            for f in flights:
                self._unwritten -= len(f.accepted)
                f.accepted.clear()
            self.checkpoints += 1
            try:
                lost = await asyncio.to_thread(self._checkpoint, [(f.claim, done) for f, done in progress])
            except Exception:  # the database is away: not fatal, each batch's final record decides
                log.exception("writing a checkpoint failed")
                return
            for f, _ in progress:
                if f.claim.batch_id in lost:
                    f.lost = True
                    if f.sending is not None:
                        f.sending.cancel()
        finally:
            self._flushing = None

    async def _listen(self) -> None:
        """PostgreSQL only: LISTEN for urgent enqueues (``service.wake_workers``) and wake the claim loop.

        A separate autocommit connection; if it drops, polling carries on alone until it is back."""
        while True:
            try:
                async with await _connect(self.factory) as conn:
                    await conn.execute(f"LISTEN {service.WAKE_CHANNEL}")
                    self.listening = True
                    async for _ in conn.notifies():
                        self._gate.close()
                        self._announced = True
                        if self._woken is not None and not self._woken.done():
                            self._woken.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("listening for urgent work failed; polling until it is back", exc_info=True)
            finally:
                self.listening = False
            await asyncio.sleep(LISTEN_RETRY_S)

    async def run(self, stop: asyncio.Event | None = None, *, until_idle: bool = False) -> None:
        """Keep up to ``worker_concurrency`` batches in flight until stopped (or, for tests, idle)."""
        stop = stop or asyncio.Event()
        in_flight: dict[asyncio.Task[None], int] = {}  # batch -> its lane
        postgres = self.factory.kw["bind"].dialect.name == "postgresql"
        listener = asyncio.create_task(self._listen()) if postgres else None
        log.info("worker %s started", self.worker_id)
        while not stop.is_set():
            self._maybe_resume()
            try:
                claimed = await self._next_claim(in_flight)
            except Exception:  # the database restarting must not kill the worker
                log.exception("claiming a batch failed; retrying")
                await asyncio.sleep(self.settings.worker_poll_s * 5)
                continue
            if not claimed or claimed.message.priority > service.PRIORITY_EMERGENCY:
                self._gate.reopen()  # the urgent work announced went to another worker (or is done)
            if claimed:
                task = asyncio.create_task(self.process(*claimed))
                in_flight[task] = claimed.message.priority
                task.add_done_callback(lambda t: in_flight.pop(t, None))
                task.add_done_callback(_log_failure)
                continue
            if until_idle and not in_flight:
                if self._resuming is not None and not self._resuming.done():  # it may bring batches
                    await asyncio.gather(self._resuming, return_exceptions=True)
                    continue
                break
            await self._wait_for_work(stop, in_flight)
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        if self._resuming is not None:
            await asyncio.gather(self._resuming, return_exceptions=True)
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        log.info("worker %s stopped after %d batches", self.worker_id, self.batches_done)

    def _urgent_room(self, in_flight: dict[asyncio.Task[None], int]) -> int | None:
        """A full worker still takes a batch more urgent than the least urgent in flight (up to twice the
        concurrency), so an emergency never waits for ordinary batches to finish; None: any batch."""
        return None if len(in_flight) < self.settings.worker_concurrency else max(in_flight.values())

    async def _next_claim(self, in_flight: dict[asyncio.Task[None], int]) -> Claimed | None:
        limit = self.settings.worker_concurrency
        urgent = self._urgent_room(in_flight)
        if len(in_flight) < limit or (len(in_flight) < 2 * limit and urgent and self._probe_now()):
            return await asyncio.to_thread(self._claim, urgent)
        return None

    def _probe_now(self) -> bool:
        """Whether a full worker looks for more urgent work now: when it is announced (NOTIFY), else every
        ``URGENT_FALLBACK_S`` (``URGENT_POLL_S`` without notifications). Probing at every turn of the claim
        loop cost a transaction per batch started, for work the announcement already tells of."""
        now = asyncio.get_running_loop().time()
        if not self._announced and now < self._next_probe:
            return False
        self._announced = False
        self._next_probe = now + (URGENT_FALLBACK_S if self.listening else URGENT_POLL_S)
        return True

    async def _wait_for_work(self, stop: asyncio.Event, in_flight: dict[asyncio.Task[None], int]) -> None:
        """Until a batch finishes, urgent work is announced, the poll interval passes, or ``stop``."""
        if self._woken is None or self._woken.done():
            self._woken = asyncio.get_running_loop().create_future()
        stopping = asyncio.ensure_future(stop.wait())
        pending: set[asyncio.Future[object]] = {stopping, self._woken, *in_flight}  # type: ignore[arg-type]
        # A full worker busy with routine lanes looks for urgent work more often than an idle one,
        # unless notifications announce it.
        poll = self.settings.worker_poll_s
        if self._urgent_room(in_flight):
            poll = URGENT_FALLBACK_S if self.listening else min(poll, URGENT_POLL_S)
        await asyncio.wait(pending, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()


async def _connect(factory: sessionmaker[Session]) -> Any:
    """An autocommit asyncio connection of the worker's own (LISTEN), beside the pool."""
    import psycopg

    engine = factory.kw["bind"]
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await psycopg.AsyncConnection.connect(conninfo, autocommit=True)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception():
        log.error("a worker task failed (batch processing or resuming an append)", exc_info=task.exception())
