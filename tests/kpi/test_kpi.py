"""KPI counts equal the events that happened, split by JST day and fiscal year, with no identifiers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.cli import main
from pushsvc.config import get_settings
from pushsvc.kpi import report, service
from pushsvc.kpi.models import KpiDaily, KpiEvent, KpiSalt, KpiVisitor
from pushsvc.kpi.schemas import CSV_HEADER
from pushsvc.operators import accounts
from tests.conftest import TestDatabase
from tests.fixtures.delivery import ADMIN, KOCHI_KENCHO, MUROTO
from tests.kpi.conftest import Harness, Ops

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}  # the bootstrap token is not an operator's


def test_subscribe_five_delete_one_leaves_four(harness: Harness, ops: Ops) -> None:
    residents = [harness.subscribe(KOCHI_KENCHO) for _ in range(3)] + [harness.subscribe(MUROTO) for _ in range(2)]
    r = harness.client.delete(
        f"/api/v1/subscriptions/{residents[0].id}", headers={"Authorization": f"Bearer {residents[0].token}"}
    )
    assert r.status_code == 204
    # Re-posting an existing browser's endpoint is not a new user.
    again = harness.client.get(
        f"/api/v1/subscriptions/{residents[1].id}", headers={"Authorization": f"Bearer {residents[1].token}"}
    ).json()
    body = {
        "endpoint": again["endpoint"],
        "keys": again["keys"],
        "places": [{"label": "home", "municipality_code": "39201"}],
    }
    r = harness.client.post("/api/v1/subscriptions", json=body)
    assert r.status_code == 201, r.text

    s = ops.call("GET", "/api/v1/kpi/summary", "kochi-city").json()  # municipal operators see it all
    assert s["active_subscribers"]["total"] == 4
    assert {m["code"]: m["count"] for m in s["active_subscribers"]["by_municipality"]} == {"39201": 2, "39202": 2}
    this_year = s["fiscal_years"][-1]
    assert (this_year["new"], this_year["deleted"], this_year["users_at_end"]) == (5, 1, 4)
    assert [fy["label"] for fy in s["fiscal_years"][:4]] == ["R2", "R3", "R4", "R5"]
    assert [fy["target"] for fy in s["fiscal_years"][:4]] == [8000, 10000, 12000, 14000]
    assert s["fiscal_years"][0]["fiscal_year"] == "FY2020"


def test_fiscal_years_split_at_april_first_jst(session: Session, db: TestDatabase) -> None:
    assert service.fiscal_year(date(2025, 3, 31)) == 2024 and service.fiscal_year(date(2025, 4, 1)) == 2025
    assert service.fy_labels(2024) == ("R6", "FY2024") and service.parse_fy("R6") == service.parse_fy("FY2024")
    last_of_r6 = datetime(2025, 3, 31, 14, 59, 59, tzinfo=UTC)  # 23:59:59 JST on 31 March
    first_of_r7 = datetime(2025, 3, 31, 15, 0, 0, tzinfo=UTC)  # 00:00 JST on 1 April
    for when in (last_of_r6, last_of_r6, first_of_r7):
        service.record(session, "subscription_created", now=when, municipality_code="39201")
    session.flush()
    years = {fy.label: fy for fy in report.fiscal_years(session, settings=db.settings(), until=date(2025, 6, 1))}
    assert (years["R6"].new, years["R6"].users_at_end) == (2, 2)
    assert (years["R7"].new, years["R7"].users_at_end) == (1, 3)
    assert years["R7"].start == date(2025, 4, 1) and years["R6"].end == date(2025, 3, 31)


def test_page_views_count_unique_visitors_per_day_without_keeping_them(session: Session) -> None:
    day1 = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
    for visitor in ("a|ua1", "a|ua1", "a|ua1", "b|ua2"):
        service.record_view(session, "page_view_portal", now=day1, visitor=visitor, municipality_code="39201")
    session.flush()
    stored = list(session.execute(select(KpiVisitor.digest)).scalars())
    assert len(stored) == 2 and not any("ua1" in d or d.startswith("a|") for d in stored)
    day2 = day1 + timedelta(days=1)
    service.record_view(session, "page_view_portal", now=day2, visitor="a|ua1")
    session.flush()
    # The first view of a new day forgot yesterday: its salt and digests are gone, only the count stays.
    assert [s.day for s in session.execute(select(KpiSalt)).scalars()] == [date(2026, 6, 3)]
    assert session.execute(select(KpiVisitor.day)).scalars().all() == [date(2026, 6, 3)]
    counted = service.counts(session, date(2026, 6, 1), date(2026, 6, 30))
    assert counted[(date(2026, 6, 2), "page_view_portal", "39201", "")] == 4
    assert counted[(date(2026, 6, 2), "portal_unique", "", "")] == 2
    assert counted[(date(2026, 6, 3), "portal_unique", "", "")] == 1


def test_rollup_keeps_the_counts_and_deletes_old_raw_events(session: Session) -> None:
    now = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
    for days_ago, kind in [(200, "install"), (200, "install"), (100, "notification_open"), (1, "install")]:
        service.record(
            session,
            kind,
            now=now - timedelta(days=days_ago),
            municipality_code="39202",
            category="river" if kind == "notification_open" else None,
        )
    session.flush()
    before = service.counts(session, date(2025, 1, 1), date(2026, 12, 31))
    assert service.rollup(session, now=now, retention_days=90) == 3
    session.flush()
    assert service.counts(session, date(2025, 1, 1), date(2026, 12, 31)) == before
    assert len(session.execute(select(KpiEvent)).all()) == 1
    assert service.rollup(session, now=now, retention_days=90) == 0
    assert sum(r.count for r in session.execute(select(KpiDaily)).scalars()) == 3


def test_events_endpoint_validates_and_rate_limits(harness: Harness) -> None:
    ok = harness.client.post("/api/v1/kpi/events", json={"kind": "install", "municipality": "39201"})
    assert ok.status_code == 204
    for body, field in [
        ({"kind": "login"}, "kind"),
        ({"kind": "install", "municipality": "99999"}, "municipality"),
        ({"kind": "install", "municipality": "x"}, "municipality"),
        ({"kind": "install", "email": "a@b.jp"}, "email"),
        ({"kind": "notification_open", "category": "spam"}, "category"),
    ]:
        r = harness.client.post("/api/v1/kpi/events", json=body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    statuses = [
        harness.client.post("/api/v1/kpi/events", json={"kind": "page_view_portal"}).status_code for _ in range(60)
    ]
    assert statuses[-1] == 429 and statuses.count(204) < 60


def test_summary_counts_events_and_delivery_per_category(harness: Harness, ops: Ops) -> None:
    harness.subscribe(KOCHI_KENCHO, categories=["river"])
    nid = harness.notify(category="river", severity="warning", target={"municipality_codes": ["39201"]})
    harness.run_worker(nid)
    for kind in ("page_view_portal", "page_view_resident", "install", "notification_open"):
        harness.client.post("/api/v1/kpi/events", json={"kind": kind, "municipality": "39201", "category": None})
    assert harness.client.get("/api/v1/kpi/summary").status_code == 401
    assert harness.client.get("/api/v1/kpi/summary", headers=ADMIN_HEADERS).status_code == 401
    s = ops.call("GET", "/api/v1/kpi/summary", "pref").json()
    assert s["installs"] == 1 and s["notifications_opened"] == 1
    assert s["portal_access"]["total"] == 2 and s["portal_access"]["by_day"][0]["unique"] == 1
    [river] = s["delivery"]
    assert (river["category"], river["targeted"], river["sent"], river["success_rate"]) == ("river", 1, 1, 1.0)
    assert river["median_s"] is not None and river["p95_s"] >= river["median_s"]
    assert s["connected_systems"]["active_sources"] == {"api": 1}
    r = ops.call("GET", "/api/v1/kpi/summary?from=2026-05-01&to=2026-04-01", "pref")
    assert r.status_code == 422 and r.json()["field"] == "to"


def test_csv_export_opens_with_japanese_headers_and_json_matches(harness: Harness, ops: Ops) -> None:
    harness.subscribe(MUROTO)
    harness.client.post("/api/v1/kpi/events", json={"kind": "install", "municipality": "39202"})
    assert harness.client.get("/api/v1/kpi/export.csv", headers=ADMIN_HEADERS).status_code == 401
    r = ops.call("GET", "/api/v1/kpi/export.csv", "muroto-city")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == CSV_HEADER == ["日付", "市区町村コード", "市区町村名", "指標", "指標コード", "区分", "件数"]
    by_indicator = {row[3]: row for row in rows[1:]}
    assert by_indicator["アプリ追加数"][1:3] == ["39202", "室戸市"] and by_indicator["アプリ追加数"][-1] == "1"
    assert by_indicator["登録数"][-1] == "1"
    data = ops.call("GET", "/api/v1/kpi/export.json", "pref").json()
    assert len(data["rows"]) == len(rows) - 1 and set(data["period"]) == {"from", "to"}
    with harness.db.sessionmaker() as s:
        audited = [(e.operator_name, e.detail["format"]) for e in accounts.list_audit(s, action="kpi.export")]
    assert audited == [("pref", "json"), ("muroto-city", "csv")]


def test_metrics_are_prometheus_text(harness: Harness) -> None:
    harness.subscribe(KOCHI_KENCHO)
    harness.notify(target={"municipality_codes": ["39201"]})
    with TestClient(harness.app, client=("127.0.0.1", 40000)) as local:  # no token set: loopback only
        r = local.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in r.text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["pushsvc_delivery_queue_depth"] == 1 and samples["pushsvc_subscriptions_active"] == 1
    assert samples['pushsvc_pushes_total{outcome="sent"}'] == 0 and samples["pushsvc_notifications_total"] == 1
    assert "# TYPE pushsvc_pushes_total counter" in r.text


def test_kpi_report_prints_a_table(db: TestDatabase, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    service.record(session, "subscription_created", now=datetime(2024, 5, 1, tzinfo=UTC), municipality_code="39201")
    session.commit()
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["kpi", "report", "--fy", "R6"])
        bad = CliRunner().invoke(main, ["kpi", "report", "--fy", "H30x"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "R6/FY2024" in result.output and "2024-04-01 – 2025-03-31" in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("R6"))
    assert line.split()[1:4] == ["1", "0", "1"]
    assert bad.exit_code == 2 and "R6" in bad.output


def test_a_period_at_the_calendars_edge_is_a_422_naming_it_not_a_500(harness: Harness, ops: Ops) -> None:
    """Found by schemathesis: 0001-01-01 JST is before UTC's first day, so the summary crashed."""
    for query, field in (("from=0001-01-01&to=0001-01-02", "from"), ("from=2026-04-01&to=9999-12-31", "to")):
        for path in ("/api/v1/kpi/summary", "/api/v1/kpi/export.csv"):
            r = ops.call("GET", f"{path}?{query}", "pref")
            assert r.status_code == 422, (path, query, r.text)
            assert r.headers["content-type"] == "application/problem+json" and r.json()["field"] == field
    assert ops.call("GET", "/api/v1/kpi/summary?from=2026-04-01&to=2026-04-30", "pref").status_code == 200
