"""KPI: count events per JST day and municipality, without personal identifiers; summarise them.

Unique visitors per day: a digest of (that day's random salt, address, user agent) is kept for the
day only. When the first event of a new day creates its salt, every earlier day's digests are
counted into ``kpi_daily`` and deleted with their salt, so yesterday's visitors cannot be linked to
anyone any more. Raw events older than ``kpi_raw_retention_days`` are rolled up the same way.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pushsvc import events
from pushsvc.db import table_of
from pushsvc.errors import ValidationProblem
from pushsvc.events import SubscriptionCreated, SubscriptionDeleted
from pushsvc.kpi.models import KpiDaily, KpiEvent, KpiSalt, KpiVisitor
from pushsvc.kpi.schemas import UNIQUE, VIEW_EVENTS
from pushsvc.subscriptions import service as subscriptions
from pushsvc.timeutil import as_utc as _utc
from pushsvc.timeutil import jst_day

REIWA_OFFSET = 2018  # R1 = FY2019, so Rn = FY(2018 + n)
Key = tuple[date, str, str, str]  # day, kind, municipality code, category


# --- fiscal years (April–March, JST) ------------------------------------------------------------


def fiscal_year(day: date) -> int:
    """The year a fiscal year starts in: 2025-03-31 is FY2024 (R6), 2025-04-01 is FY2025 (R7)."""
    return day.year if day.month >= 4 else day.year - 1


def fy_labels(fy: int) -> tuple[str, str]:
    return f"R{fy - REIWA_OFFSET}", f"FY{fy}"


def fy_range(fy: int) -> tuple[date, date]:
    return date(fy, 4, 1), date(fy + 1, 3, 31)


def parse_fy(text: str, *, field: str = "fy") -> int:
    """'R6', 'FY2024' or '2024' -> 2024."""
    t = text.strip().upper()
    if m := re.fullmatch(r"R(\d{1,2})", t):
        return int(m.group(1)) + REIWA_OFFSET
    if m := re.fullmatch(r"(?:FY)?(\d{4})", t):
        return int(m.group(1))
    raise ValidationProblem("give a fiscal year as R6, FY2024 or 2024", field=field)


def parse_targets(text: str) -> dict[int, int]:
    """'R2=8000,R3=10000' -> {2020: 8000, 2021: 10000}."""
    out: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        label, _, value = part.partition("=")
        if not value.strip().isdigit():
            raise ValueError(f"target {part!r} must look like R2=8000")
        out[parse_fy(label)] = int(value)
    return out


# --- recording ----------------------------------------------------------------------------------


def record(
    db_session: Session, kind: str, *, now: datetime, municipality_code: str | None = None, category: str | None = None
) -> None:
    db_session.connection().execute(
        _INSERT_EVENT,
        {
            "kind": kind,
            "day": jst_day(now),
            "occurred_at": _utc(now),
            "municipality_code": municipality_code or "",
            "category": category or "",
        },
    )


# Built once and run on the session's connection: on the sign-up hot path, the ORM's unit of work and
# building the statement per call cost more than the insert.
_INSERT_EVENT = insert(table_of(KpiEvent))


def _salt(db_session: Session, day: date) -> str:
    row = db_session.get(KpiSalt, day)
    if row is not None:
        return row.salt
    forget_visitors_before(db_session, day)
    try:
        with db_session.begin_nested():
            db_session.add(KpiSalt(day=day, salt=secrets.token_hex(32)))
    except IntegrityError:  # another request made today's salt first
        pass
    row = db_session.get(KpiSalt, day, populate_existing=True)
    assert row is not None
    return row.salt


def record_view(
    db_session: Session, kind: str, *, now: datetime, visitor: str, municipality_code: str | None = None
) -> None:
    """A page view; ``visitor`` (address + user agent) is only ever stored as today's salted digest."""
    record(db_session, kind, now=now, municipality_code=municipality_code)
    if kind not in VIEW_EVENTS:
        return
    day = jst_day(now)
    digest = hashlib.sha256(f"{_salt(db_session, day)}|{visitor}".encode()).hexdigest()
    if db_session.execute(select(KpiVisitor.id).where(KpiVisitor.day == day, KpiVisitor.digest == digest)).first():
        return
    try:
        with db_session.begin_nested():
            db_session.add(KpiVisitor(day=day, digest=digest))
    except IntegrityError:
        pass


def subscription_created(db_session: Session, event: SubscriptionCreated) -> None:
    """Count a new subscription under its first place (published by the subscriptions domain)."""
    record(db_session, "subscription_created", now=event.at, municipality_code=event.municipality_code)


def subscription_deleted(db_session: Session, event: SubscriptionDeleted) -> None:
    record(db_session, "subscription_deleted", now=event.at, municipality_code=event.municipality_code)


def listen() -> None:
    """Count what the other domains publish (called once by ``main.create_app``)."""
    events.listen(SubscriptionCreated, subscription_created)
    events.listen(SubscriptionDeleted, subscription_deleted)


# --- retention ----------------------------------------------------------------------------------


def _add_daily(db_session: Session, counts: dict[Key, int]) -> None:
    for (day, kind, code, category), n in counts.items():
        row = db_session.execute(
            select(KpiDaily).where(
                KpiDaily.day == day,
                KpiDaily.kind == kind,
                KpiDaily.municipality_code == code,
                KpiDaily.category == category,
            )
        ).scalar_one_or_none()
        if row is None:
            db_session.add(KpiDaily(day=day, kind=kind, municipality_code=code, category=category, count=n))
        else:
            row.count += n
    db_session.flush()


def forget_visitors_before(db_session: Session, day: date) -> int:
    """Count earlier days' unique visitors into the daily table, then delete their digests and salts."""
    rows = db_session.execute(
        select(KpiVisitor.day, func.count()).where(KpiVisitor.day < day).group_by(KpiVisitor.day)
    ).all()
    _add_daily(db_session, {(d, UNIQUE, "", ""): int(n) for d, n in rows})
    db_session.execute(delete(KpiVisitor).where(KpiVisitor.day < day))
    db_session.execute(delete(KpiSalt).where(KpiSalt.day < day))
    return len(rows)


def rollup(db_session: Session, *, now: datetime, retention_days: int) -> int:
    """Roll raw events older than the retention period into daily counts and delete them."""
    forget_visitors_before(db_session, jst_day(now))
    cutoff = jst_day(now) - timedelta(days=retention_days)
    cols = (KpiEvent.day, KpiEvent.kind, KpiEvent.municipality_code, KpiEvent.category)
    rows = db_session.execute(select(*cols, func.count()).where(KpiEvent.day < cutoff).group_by(*cols)).all()
    _add_daily(db_session, {(d, k, c, cat): int(n) for d, k, c, cat, n in rows})
    result = db_session.execute(delete(KpiEvent).where(KpiEvent.day < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


# --- reading ------------------------------------------------------------------------------------


def counts(db_session: Session, start: date, end: date, kinds: Iterable[str] | None = None) -> dict[Key, int]:
    """Counts per (day, kind, municipality, category) in [start, end], raw and rolled up alike."""
    out: dict[Key, int] = defaultdict(int)
    cols = (KpiEvent.day, KpiEvent.kind, KpiEvent.municipality_code, KpiEvent.category)
    raw = select(*cols, func.count()).where(KpiEvent.day >= start, KpiEvent.day <= end).group_by(*cols)
    daily = select(KpiDaily.day, KpiDaily.kind, KpiDaily.municipality_code, KpiDaily.category, KpiDaily.count).where(
        KpiDaily.day >= start, KpiDaily.day <= end
    )
    live = (
        select(KpiVisitor.day, func.count())
        .where(KpiVisitor.day >= start, KpiVisitor.day <= end)
        .group_by(KpiVisitor.day)
    )
    if kinds is not None:
        wanted = list(kinds)
        raw, daily = raw.where(KpiEvent.kind.in_(wanted)), daily.where(KpiDaily.kind.in_(wanted))
    for d, k, c, cat, n in [*db_session.execute(raw).all(), *db_session.execute(daily).all()]:
        out[(d, k, c, cat)] += int(n)
    if kinds is None or UNIQUE in set(kinds or ()):
        for d, n in db_session.execute(live).all():
            out[(d, UNIQUE, "", "")] += int(n)
    return dict(out)


def active_subscribers(db_session: Session, *, now: datetime) -> tuple[int, dict[str, int]]:
    """Subscriptions now, and per municipality those with a registered place or live current location there.

    Asked of the subscriptions domain: its tables, not the event counts, are the truth, since push
    services' 404/410 also remove subscriptions.
    """
    return subscriptions.count_active(db_session, now=now)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0–100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def delivery_by_category(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Success rate (sent / targeted) and seconds from acceptance to the last push, per category."""
    groups: dict[str, dict[str, Any]] = defaultdict(lambda: {"notifications": 0, "targeted": 0, "sent": 0, "times": []})
    for r in rows:
        g = groups[r["category"]]
        g["notifications"] += 1
        g["targeted"] += int(r["targeted"])
        g["sent"] += int(r["sent"])
        if r["last_sent_at"] is not None and r["sent"]:
            g["times"].append((_utc(r["last_sent_at"]) - _utc(r["created_at"])).total_seconds())
    return {
        cat: {
            "notifications": g["notifications"],
            "targeted": g["targeted"],
            "sent": g["sent"],
            "success_rate": round(g["sent"] / g["targeted"], 4) if g["targeted"] else None,
            "median_s": percentile(g["times"], 50),
            "p95_s": percentile(g["times"], 95),
        }
        for cat, g in sorted(groups.items())
    }
