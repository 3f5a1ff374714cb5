"""The KPI summary, the open-data export (CSV with BOM, JSON) and the terminal table."""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.errors import ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.kpi import service
from pushsvc.kpi.schemas import (
    CSV_HEADER,
    INDICATORS,
    UNIQUE,
    VIEW_EVENTS,
    ActiveSubscribers,
    CodeCount,
    ConnectedSystems,
    DayAccess,
    DeliveryCategory,
    ExportRow,
    FiscalYearUsers,
    KpiSummary,
    Period,
    PortalAccess,
)
from pushsvc.timeutil import JST, jst_day

log = logging.getLogger(__name__)
MAX_PERIOD_DAYS = 3660
SUB_KINDS = ("subscription_created", "subscription_deleted")


# Days a KPI period may name: 0001-01-01 JST begins before UTC's first day, 9999-12-31's end after its
# last, so the calendar's edges crashed the summary; nothing was counted before the service existed.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(9998, 12, 31)


def period(start: date | None, end: date | None, *, now: datetime) -> Period:
    """[start, end] in JST days; by default the current fiscal year up to today."""
    today = jst_day(now)
    start = start or service.fy_range(service.fiscal_year(today))[0]
    end = end or today
    for day, field in ((start, "from"), (end, "to")):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationProblem(f"a KPI day is between {FIRST_DAY} and {LAST_DAY}", field=field)
    if end < start:
        raise ValidationProblem("'to' is before 'from'", field="to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationProblem(f"a period is at most {MAX_PERIOD_DAYS} days", field="from")
    return Period(start=start, end=end)


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)


def feed_source_names(settings: Settings) -> list[str]:
    """Configured feed sources, when the feeds domain is installed and configured."""
    try:
        from pushsvc.feeds.sources import load_sources
    except ImportError:  # pragma: no cover - depends on which domains are present
        return []
    try:
        return sorted(s.name for s in load_sources(getattr(settings, "feeds_file", None)))
    except Exception as exc:  # a broken feeds file must not break the KPI report
        log.warning("feed sources unreadable for the KPI: %s", exc)
        return []


def fiscal_years(db_session: Session, *, settings: Settings, until: date) -> list[FiscalYearUsers]:
    """Users per fiscal year from the first with a target (or event) to the one containing ``until``."""
    targets = service.parse_targets(settings.kpi_fy_targets)
    per_day = service.counts(db_session, date(2000, 1, 1), until, kinds=SUB_KINDS)
    by_fy: dict[int, dict[str, int]] = defaultdict(lambda: {"new": 0, "deleted": 0})
    for (day, kind, _, _), n in per_day.items():
        by_fy[service.fiscal_year(day)]["new" if kind == "subscription_created" else "deleted"] += n
    last = service.fiscal_year(until)
    first = min([*targets, *by_fy, last])
    out: list[FiscalYearUsers] = []
    running = sum(v["new"] - v["deleted"] for fy, v in by_fy.items() if fy < first)
    for fy in range(first, last + 1):
        running += by_fy[fy]["new"] - by_fy[fy]["deleted"]
        label, fy_label = service.fy_labels(fy)
        start, end = service.fy_range(fy)
        target = targets.get(fy)
        out.append(
            FiscalYearUsers(
                label=label,
                fiscal_year=fy_label,
                start=start,
                end=end,
                new=by_fy[fy]["new"],
                deleted=by_fy[fy]["deleted"],
                users_at_end=running,
                target=target,
                achieved=round(running / target, 4) if target else None,
            )
        )
    return out


def summary(
    db_session: Session,
    *,
    settings: Settings,
    start: date | None = None,
    end: date | None = None,
    now: datetime | None = None,
) -> KpiSummary:
    now = now or datetime.now(UTC)
    p = period(start, end, now=now)
    names = {pl.code: pl.name for pl in geo_service.list_places(db_session)}
    total, by_code = service.active_subscribers(db_session, now=now)
    counted = service.counts(db_session, p.start, p.end)
    views: dict[date, int] = defaultdict(int)
    unique: dict[date, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for (day, kind, _, _), n in counted.items():
        totals[kind] += n
        if kind in VIEW_EVENTS:
            views[day] += n
        elif kind == UNIQUE:
            unique[day] += n
    rows = delivery.delivery_stats(db_session, start=_utc_start(p.start), end=_utc_start(p.end + timedelta(days=1)))
    sources: dict[str, int] = defaultdict(int)
    for r in rows:
        sources[r["source"]] += 1
    feeds = feed_source_names(settings)
    return KpiSummary(
        period=p,
        active_subscribers=ActiveSubscribers(
            total=total,
            by_municipality=[CodeCount(code=c, name=names.get(c, ""), count=n) for c, n in sorted(by_code.items())],
        ),
        fiscal_years=fiscal_years(db_session, settings=settings, until=p.end),
        installs=totals["install"],
        portal_access=PortalAccess(
            total=sum(views.values()),
            unique_day_sum=sum(unique.values()),
            by_day=[DayAccess(day=d, views=views[d], unique=unique[d]) for d in sorted(set(views) | set(unique))],
        ),
        notifications_opened=totals["notification_open"],
        delivery=[DeliveryCategory(category=c, **v) for c, v in service.delivery_by_category(rows).items()],
        connected_systems=ConnectedSystems(
            count=len(set(feeds) | set(sources)), feed_sources=feeds, active_sources=dict(sorted(sources.items()))
        ),
    )


def export_rows(db_session: Session, p: Period) -> list[ExportRow]:
    names = {pl.code: pl.name for pl in geo_service.list_places(db_session)}
    return [
        ExportRow(
            day=d,
            municipality_code=c,
            municipality_name=names.get(c, "高知県" if not c else ""),
            indicator=INDICATORS.get(k, k),
            indicator_code=k,
            category=cat,
            count=n,
        )
        for (d, k, c, cat), n in sorted(service.counts(db_session, p.start, p.end).items())
    ]


def export_csv(rows: list[ExportRow]) -> bytes:
    """UTF-8 with a BOM and CRLF, so Excel opens the Japanese headers intact."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for r in rows:
        w.writerow(
            [
                r.day.isoformat(),
                r.municipality_code,
                r.municipality_name,
                r.indicator,
                r.indicator_code,
                r.category,
                r.count,
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def table(s: KpiSummary, fy_label: str) -> str:
    """The summary as plain text for ``pushsvc kpi report``."""
    lines = [f"KPI {fy_label}  {s.period.start} – {s.period.end}", ""]
    lines.append(f"{'年度':<8}{'新規':>8}{'解除':>8}{'利用者':>10}{'目標':>10}{'達成率':>9}")
    for fy in s.fiscal_years:
        rate = f"{fy.achieved:.1%}" if fy.achieved is not None else "-"
        target = f"{fy.target:,}" if fy.target else "目標未設定"
        lines.append(f"{fy.label:<8}{fy.new:>8,}{fy.deleted:>8,}{fy.users_at_end:>10,}{target:>10}{rate:>9}")
    lines += [
        "",
        f"登録者（現在）      {s.active_subscribers.total:>10,}",
        f"アプリ追加数        {s.installs:>10,}",
        f"ポータル閲覧数      {s.portal_access.total:>10,}",
        f"日別ユニーク合計    {s.portal_access.unique_day_sum:>10,}",
        f"通知開封数          {s.notifications_opened:>10,}",
        f"接続システム数      {s.connected_systems.count:>10,}",
        "",
    ]
    if s.delivery:
        lines.append(f"{'区分':<16}{'通知':>6}{'対象':>9}{'成功率':>9}{'中央値s':>9}{'p95 s':>9}")
        for d in s.delivery:
            rate = f"{d.success_rate:.1%}" if d.success_rate is not None else "-"
            med = f"{d.median_s:.1f}" if d.median_s is not None else "-"
            p95 = f"{d.p95_s:.1f}" if d.p95_s is not None else "-"
            lines.append(f"{d.category:<16}{d.notifications:>6}{d.targeted:>9,}{rate:>9}{med:>9}{p95:>9}")
    return "\n".join(lines)
