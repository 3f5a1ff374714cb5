"""Housekeeping deletes what docs/PRIVACY.md promises, on both backends, and keeps going when a step fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pushsvc import housekeeping
from pushsvc.cli import main as cli
from pushsvc.config import Settings, get_settings
from pushsvc.kpi import service as kpi
from pushsvc.kpi.models import KpiDaily, KpiEvent
from pushsvc.subscriptions import service as subscriptions
from pushsvc.subscriptions.models import CURRENT, SubscriptionPlace
from pushsvc.subscriptions.schemas import SubscriptionIn
from tests.conftest import TestDatabase
from tests.fixtures.subscriptions import KOCHI_PREF_OFFICE, MUROTO_CAPE, subscription_body

NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def _follower(db: TestDatabase, settings: Settings, where: tuple[float, float], at: datetime) -> int:
    with db.sessionmaker.begin() as s:
        sub, _ = subscriptions.subscribe(
            s,
            SubscriptionIn(
                **subscription_body(
                    places=[], follow_current_location=True, current_location={"lat": where[0], "lon": where[1]}
                )
            ),
            settings=settings,
            now=at,
        )
        return sub.id


def _current_places(db: TestDatabase) -> list[int]:
    with db.sessionmaker() as s:
        return sorted(
            s.execute(select(SubscriptionPlace.subscription_id).where(SubscriptionPlace.kind == CURRENT)).scalars()
        )


def _old_and_new_kpi_events(db: TestDatabase) -> None:
    with db.sessionmaker.begin() as s:
        for days_ago in (200, 200, 120, 1):
            kpi.record(s, "install", now=NOW - timedelta(days=days_ago), municipality_code="39202")


def test_one_pass_deletes_expired_current_locations_and_keeps_fresh_ones(db: TestDatabase) -> None:
    settings = db.settings()
    ttl = timedelta(hours=settings.current_location_ttl_hours)
    stale = _follower(db, settings, MUROTO_CAPE, NOW - ttl - timedelta(minutes=1))
    fresh = _follower(db, settings, KOCHI_PREF_OFFICE, NOW - timedelta(hours=1))
    assert _current_places(db) == sorted([stale, fresh])
    results = housekeeping.run_once(db.sessionmaker, settings, now=NOW)
    first = results[0]
    assert (first.name, first.removed, first.error) == ("expired current locations", 1, None)
    assert _current_places(db) == [fresh]
    assert housekeeping.run_once(db.sessionmaker, settings, now=NOW)[0].removed == 0  # idempotent


def test_one_pass_rolls_up_raw_kpi_events_past_retention(db: TestDatabase) -> None:
    _old_and_new_kpi_events(db)
    settings = db.settings(kpi_raw_retention_days=90)
    results = {r.name: r.removed for r in housekeeping.run_once(db.sessionmaker, settings, now=NOW)}
    assert results["KPI raw events past retention"] == 3
    with db.sessionmaker() as s:
        assert s.execute(select(func.count()).select_from(KpiEvent)).scalar_one() == 1
        assert s.execute(select(func.sum(KpiDaily.count))).scalar_one() == 3


def _count_pass(calls: list[datetime]) -> housekeeping.Step:
    def run(db_session: Session, settings: Settings, now: datetime) -> int:
        calls.append(now)
        return 0

    return housekeeping.Step("counting", run)


def _broken(db_session: Session, settings: Settings, now: datetime) -> int:
    db_session.execute(text("SELECT * FROM no_such_table"))  # a real database error
    return 0


def test_the_loop_survives_a_failing_step_and_keeps_running_the_others(db: TestDatabase) -> None:
    settings = db.settings(housekeeping_interval_s=0.01)
    calls: list[datetime] = []
    steps = (housekeeping.Step("broken", _broken), _count_pass(calls))

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.create_task(housekeeping.run_loop(db.sessionmaker, settings, stop, steps=steps))
        while len(calls) < 3 and not loop.done():
            await asyncio.sleep(0.01)
        stop.set()
        return await asyncio.wait_for(loop, 10)

    assert asyncio.run(run()) >= 3
    [failed, counted] = housekeeping.run_once(db.sessionmaker, settings, steps=steps)
    assert failed.removed is None and failed.error and "no_such_table" in failed.error
    assert counted.removed == 0 and counted.error is None


def test_interval_zero_turns_the_loop_off(db: TestDatabase) -> None:
    calls: list[datetime] = []
    passes = asyncio.run(
        housekeeping.run_loop(
            db.sessionmaker, db.settings(housekeeping_interval_s=0), asyncio.Event(), steps=(_count_pass(calls),)
        )
    )
    assert passes == 0 and calls == []


def test_on_postgresql_a_step_another_process_is_doing_is_skipped(db: TestDatabase) -> None:
    if db.backend != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    calls: list[datetime] = []
    step = _count_pass(calls)
    with db.engine.connect() as other:  # another worker, in the middle of this step
        other.execute(select(func.pg_advisory_lock(housekeeping._lock_key(step.name))))
        [skipped] = housekeeping.run_once(db.sessionmaker, db.settings(), steps=(step,))
        assert (skipped.removed, skipped.error, calls) == (None, None, [])
        other.execute(select(func.pg_advisory_unlock(housekeeping._lock_key(step.name))))
    [done] = housekeeping.run_once(db.sessionmaker, db.settings(), steps=(step,))
    assert done.removed == 0 and len(calls) == 1


@pytest.fixture
def cli_env(db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_housekeeping_command_runs_one_pass(db: TestDatabase, cli_env: CliRunner) -> None:
    settings = db.settings()
    long_ago = datetime.now(UTC) - timedelta(hours=settings.current_location_ttl_hours + 1)
    _follower(db, settings, MUROTO_CAPE, long_ago)
    result = cli_env.invoke(cli, ["housekeeping"])
    assert result.exit_code == 0, result.output
    assert "expired current locations: 1 deleted" in result.output
    assert _current_places(db) == []
