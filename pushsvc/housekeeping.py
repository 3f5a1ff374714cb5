"""Housekeeping: delete what docs/PRIVACY.md promises to delete, on a timer, without cron.

``pushsvc worker`` runs :func:`run_loop` beside its sending loop: one pass at start, then one every
``PUSHSVC_HOUSEKEEPING_INTERVAL_S``. ``pushsvc housekeeping`` runs one pass (for cron, or by hand).

Each step calls its own domain's service in its own transaction, so a failing step neither blocks the
others nor loses their work; the loop logs the error and tries again at the next pass. Every step is
idempotent (it deletes or rolls up what is past a cut-off), so several workers running it is harmless;
on PostgreSQL a transaction-level advisory lock per step lets only one of them do it at a time, and the
others skip it for that pass instead of queueing behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pushsvc.config import Settings
from pushsvc.db import is_postgres, session_scope
from pushsvc.feeds import service as feeds
from pushsvc.kpi import service as kpi
from pushsvc.subscriptions import service as subscriptions

log = logging.getLogger(__name__)

Run = Callable[[Session, Settings, datetime], int]


@dataclass(frozen=True)
class Step:
    """One idempotent clean-up: ``run`` returns how many rows it removed."""

    name: str
    run: Run


def _purge_locations(db_session: Session, settings: Settings, now: datetime) -> int:
    return subscriptions.purge_expired_locations(db_session, now=now)


def _kpi_rollup(db_session: Session, settings: Settings, now: datetime) -> int:
    return kpi.rollup(db_session, now=now, retention_days=settings.kpi_raw_retention_days)


def _river_readings(db_session: Session, settings: Settings, now: datetime) -> int:
    return feeds.prune_readings(db_session, now=now, retention_h=settings.river_readings_retention_h)


STEPS: tuple[Step, ...] = (
    Step("expired current locations", _purge_locations),
    Step("KPI raw events past retention", _kpi_rollup),
    Step("river readings past retention", _river_readings),
)


@dataclass(frozen=True)
class StepResult:
    name: str
    removed: int | None  # None: skipped (another process holds it) or failed
    error: str | None = None


def _lock_key(name: str) -> int:
    """A stable 32-bit advisory-lock key per step, namespaced so it cannot collide with other users' keys."""
    return zlib.crc32(f"pushsvc.housekeeping:{name}".encode())


def _try_lock(db_session: Session, name: str) -> bool:
    """On PostgreSQL, take this step's lock for the transaction, or report that someone else has it."""
    if not is_postgres(db_session):
        return True  # SQLite runs one worker; the steps are idempotent anyway
    return bool(db_session.execute(select(func.pg_try_advisory_xact_lock(_lock_key(name)))).scalar_one())


def run_once(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None, steps: Sequence[Step] = STEPS
) -> list[StepResult]:
    """One pass over every step, each in its own transaction; a failure is logged and reported, not raised."""
    results: list[StepResult] = []
    for step in steps:
        at = now or datetime.now(UTC)
        try:
            with session_scope(factory) as s:
                if not _try_lock(s, step.name):
                    log.debug("housekeeping: %s is being done by another process", step.name)
                    results.append(StepResult(step.name, None))
                    continue
                removed = step.run(s, settings, at)
        except Exception as exc:  # the database restarting must not end housekeeping for good
            log.exception("housekeeping: %s failed; retrying at the next pass", step.name)
            results.append(StepResult(step.name, None, f"{type(exc).__name__}: {exc}"))
            continue
        if removed:
            log.info("housekeeping: deleted %d %s", removed, step.name)
        results.append(StepResult(step.name, removed))
    return results


async def run_loop(
    factory: sessionmaker[Session], settings: Settings, stop: asyncio.Event, *, steps: Sequence[Step] = STEPS
) -> int:
    """Pass at start, then every ``housekeeping_interval_s`` until ``stop``; returns the passes made.

    An interval of 0 turns the loop off (when ``pushsvc housekeeping`` runs from cron instead).
    """
    interval = settings.housekeeping_interval_s
    if interval <= 0:
        return 0
    passes = 0
    while not stop.is_set():
        await asyncio.to_thread(run_once, factory, settings, steps=steps)
        passes += 1
        with contextlib.suppress(TimeoutError):  # the interval ran out: time for the next pass
            await asyncio.wait_for(stop.wait(), timeout=interval)
    return passes
