"""Feed sources' poll state and health: when to poll next, how long a source has been silent, what it left out.

Like the rest of the feeds service: functions take ``db_session`` and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.alerts import service as alerts
from pushsvc.db import is_postgres
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.sources import SourceConfig
from pushsvc.timeutil import as_utc as _utc


def get_source(db_session: Session, cfg: SourceConfig, *, now: datetime, lock: bool = False) -> FeedSource:
    """The stored row for a configured source, created on first use; ``lock`` serialises pollers on PostgreSQL."""
    stmt = select(FeedSource).where(FeedSource.name == cfg.name)
    if lock and is_postgres(db_session):
        stmt = stmt.with_for_update()
    row = db_session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        row = FeedSource(
            name=cfg.name,
            kind=cfg.kind,
            url=cfg.url,
            interval_s=cfg.interval_s,
            state={},
            created_at=now,
            consecutive_failures=0,
        )
        db_session.add(row)
        db_session.flush()
    if row.kind != cfg.kind or row.url != cfg.url:  # reconfigured: old validators and state do not apply
        row.etag = row.last_modified = None
        if row.kind != cfg.kind:
            row.state = {}
    row.kind, row.url, row.interval_s = cfg.kind, cfg.url, cfg.interval_s
    return row


def backoff_s(cfg: SourceConfig, failures: int, max_backoff_s: float) -> float:
    """Wait after ``failures`` consecutive failures: the interval, doubled per failure, capped."""
    return float(min(cfg.interval_s * 2 ** min(failures, 30), max(max_backoff_s, cfg.interval_s)))


def record_success(
    db_session: Session,
    row: FeedSource,
    cfg: SourceConfig,
    *,
    now: datetime,
    changed: bool,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    row.last_attempt_at = row.last_success_at = now
    if changed:
        row.last_change_at = now
        row.etag, row.last_modified = etag, last_modified
    row.consecutive_failures = 0
    row.next_poll_at = now + timedelta(seconds=cfg.interval_s)
    db_session.flush()


def record_failure(
    db_session: Session, cfg: SourceConfig, error: str, *, now: datetime, max_backoff_s: float
) -> FeedSource:
    """Count a failed poll and schedule the next one with exponential backoff; returns the row."""
    row = get_source(db_session, cfg, now=now, lock=True)
    row.last_attempt_at = row.last_error_at = now
    row.last_error = error[:2000]
    row.consecutive_failures += 1
    row.next_poll_at = now + timedelta(seconds=backoff_s(cfg, row.consecutive_failures, max_backoff_s))
    db_session.flush()
    return row


SILENT_EXPIRY_FACTOR = 48  # a source silent for this many unhealthy periods has its alerts cleaned up


def source_heard(db_session: Session, source: str) -> None:
    """The source answered: whatever it last said stands again, unflagged."""
    alerts.mark_stale(db_session, source, False)


def source_silent(db_session: Session, row: FeedSource, *, now: datetime, unhealthy_after_s: float) -> None:
    """The source failed again: once it has been silent past the threshold its alerts are flagged stale
    (still listed, as its last word); after ``SILENT_EXPIRY_FACTOR`` thresholds they are cleaned up."""
    since = _utc(row.last_success_at or row.created_at)
    assert since is not None
    silent_s = (now - since).total_seconds()
    if silent_s > unhealthy_after_s:
        alerts.mark_stale(db_session, row.name)
    if silent_s > SILENT_EXPIRY_FACTOR * unhealthy_after_s:
        alerts.expire_silent(db_session, row.name, confirmed_before=since, now=now)


def problems_of(row: FeedSource) -> list[str]:
    """What the last poll could not use although the source answered: rejected readings, telegrams that
    could not be fetched, gauges with no data. Each makes the source unhealthy until it clears."""
    found = [str(p) for p in row.state.get("problems", [])]
    found += [f"gauge {c}: no data (vanished from well above its start level)" for c in row.state.get("no_data", [])]
    return found


def _first(attr: str, default: Any, *rows: FeedSource | SourceConfig | None) -> Any:
    """``attr`` of the first of ``rows`` there is (configuration and stored row disagree after a change)."""
    return next((getattr(r, attr) for r in rows if r is not None), default)


def _status(
    row: FeedSource | None, down_s: float | None, problems: Sequence[str], unhealthy_after_s: float
) -> tuple[str, bool]:
    """(status, healthy): a source is healthy only once it has succeeded, recently, with nothing left out."""
    recent = down_s is not None and down_s <= unhealthy_after_s
    healthy = recent and not problems
    if row is None or row.last_success_at is None:
        return ("never succeeded" if row is not None and row.consecutive_failures else "not polled yet"), healthy
    if row.consecutive_failures and recent:
        return "failing", not problems
    if not recent:
        return "down", healthy
    return ("degraded" if problems else "ok"), healthy


def _polls(row: FeedSource | None) -> dict[str, Any]:
    """The stored row's poll record (times in UTC); nothing yet for a source never polled."""
    if row is None:
        return {
            "last_success_at": None,
            "last_change_at": None,
            "last_attempt_at": None,
            "last_error": None,
            "last_error_at": None,
            "consecutive_failures": 0,
            "next_poll_at": None,
        }
    return {
        "last_success_at": _utc(row.last_success_at),
        "last_change_at": _utc(row.last_change_at),
        "last_attempt_at": _utc(row.last_attempt_at),
        "last_error": row.last_error if row.consecutive_failures else None,
        "last_error_at": _utc(row.last_error_at),
        "consecutive_failures": row.consecutive_failures,
        "next_poll_at": _utc(row.next_poll_at),
    }


def source_health(
    row: FeedSource | None, cfg: SourceConfig | None, *, now: datetime, unhealthy_after_s: float, stale: int = 0
) -> dict[str, Any]:
    """One source as operators see it: healthy only once it has succeeded, recently, with nothing left out."""
    since = _utc(row.last_success_at) if row else None
    down_s = (now - since).total_seconds() if since else None
    problems = problems_of(row) if row else []
    status, healthy = _status(row, down_s, problems, unhealthy_after_s)
    return {
        "name": _first("name", "", row, cfg),
        "kind": _first("kind", "", cfg, row),
        "configured": cfg is not None,
        "enabled": bool(cfg and cfg.enabled),
        "interval_s": _first("interval_s", None, cfg, row),
        "status": status,
        "healthy": healthy and status != "not polled yet",
        **_polls(row),
        "problems": problems,
        "stale_alerts": stale,
    }


def list_health(
    db_session: Session, configs: Sequence[SourceConfig], *, now: datetime, unhealthy_after_s: float
) -> list[dict[str, Any]]:
    """Every configured source, plus stored ones no longer configured (so a removed source is still visible)."""
    rows = {r.name: r for r in db_session.execute(select(FeedSource).order_by(FeedSource.name)).scalars()}
    stale = alerts.stale_sources(db_session)
    out = [
        source_health(
            rows.pop(c.name, None), c, now=now, unhealthy_after_s=unhealthy_after_s, stale=stale.get(c.name, 0)
        )
        for c in configs
    ]
    out += [
        source_health(r, None, now=now, unhealthy_after_s=unhealthy_after_s, stale=stale.get(r.name, 0))
        for r in rows.values()
    ]
    return out
