"""A database that drops its connections (a restart, an operator killing backends) costs residents nothing
on the sign-up path and a clear 503, never a 500, elsewhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from pushsvc import db as pushsvc_db
from pushsvc.kpi.models import KpiEvent
from pushsvc.subscriptions.models import Subscription
from tests.conftest import TestDatabase
from tests.subscriptions.conftest import subscription_body


def kill_connections(database: TestDatabase) -> int:
    """Terminate every other backend on the test database, as a restart does to the pooled connections."""
    admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            killed = c.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    database.engine.dispose()  # the test harness's own connections died too; only the app's are under test
    return int(killed)


@pytest.fixture
def pg(db: TestDatabase) -> TestDatabase:
    if db.backend != "postgresql":
        pytest.skip("killing server backends needs PostgreSQL")
    return db


def test_sign_up_survives_its_pooled_connection_being_killed(
    pg: TestDatabase, client: TestClient, session: Session
) -> None:
    assert client.post("/api/v1/subscriptions", json=subscription_body()).status_code == 201
    assert kill_connections(pg) >= 1
    body = subscription_body()
    r = client.post("/api/v1/subscriptions", json=body)  # pooled a moment ago, so not pinged: retried
    assert r.status_code == 201, r.text
    assert r.json()["places"][0]["municipality_code"] == "39201"
    assert session.scalar(select(func.count()).where(Subscription.endpoint == body["endpoint"])) == 1
    assert (
        session.scalar(select(func.count()).select_from(KpiEvent).where(KpiEvent.kind == "subscription_created")) == 2
    )


def test_other_routes_answer_503_then_recover(pg: TestDatabase, client: TestClient) -> None:
    created = client.post("/api/v1/subscriptions", json=subscription_body()).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    url = f"/api/v1/subscriptions/{created['id']}"
    assert client.get(url, headers=auth).status_code == 200
    kill_connections(pg)
    r = client.get(url, headers=auth)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "1"
    assert client.get(url, headers=auth).status_code == 200  # the pool replaced its dead connections


def test_a_connection_idle_in_the_pool_is_pinged_and_replaced(
    pg: TestDatabase, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = client.post("/api/v1/subscriptions", json=subscription_body()).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    monkeypatch.setattr(pushsvc_db, "PING_IDLE_S", 0.0)  # every pooled connection counts as idle
    kill_connections(pg)
    assert client.get(f"/api/v1/subscriptions/{created['id']}", headers=auth).status_code == 200
