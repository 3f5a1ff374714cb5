"""``pushsvc kpi report`` and ``pushsvc kpi rollup``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from pushsvc.clitools import migrated_sessions
from pushsvc.config import get_settings
from pushsvc.db import session_scope
from pushsvc.errors import ProblemError
from pushsvc.timeutil import jst_day


def report_command(fy: str | None) -> None:
    from pushsvc.kpi import report, service

    now = datetime.now(UTC)
    try:
        year = service.parse_fy(fy) if fy else service.fiscal_year(jst_day(now))
    except ProblemError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2)
    start, end = service.fy_range(year)
    end = min(end, jst_day(now)) if start <= jst_day(now) else end
    with session_scope(migrated_sessions()) as session:
        summary = report.summary(session, settings=get_settings(), start=start, end=end, now=now)
    click.echo(report.table(summary, "/".join(service.fy_labels(year))))


def rollup_command() -> None:
    from pushsvc.kpi import service

    settings = get_settings()
    with session_scope(migrated_sessions()) as session:
        n = service.rollup(session, now=datetime.now(UTC), retention_days=settings.kpi_raw_retention_days)
    click.echo(f"rolled up and deleted {n} raw events older than {settings.kpi_raw_retention_days} days")
