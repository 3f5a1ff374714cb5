"""Operators: tokens from the CLI, Bearer auth on every route, server-side municipal scope, rate limits."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pushsvc.cli import main as cli
from pushsvc.config import get_settings
from pushsvc.operators.models import AuditEntry, AuditLogIsAppendOnly, Operator
from tests.operators.conftest import KATSURAHAMA_SQUARE, KOCHI, MUROTO_CODE, Harness, Ops, message

OPERATOR_ROUTES = [
    ("GET", "/api/v1/operators/me"),
    ("POST", "/api/v1/messages/preview"),
    ("POST", "/api/v1/messages"),
    ("GET", "/api/v1/messages"),
    ("GET", "/api/v1/messages/1"),
    ("GET", "/api/v1/messages/1.cap"),
    ("POST", "/api/v1/messages/1/approve"),
    ("POST", "/api/v1/messages/1/cancel"),
    ("POST", "/api/v1/messages/1/correct"),
    ("GET", "/api/v1/audit"),
    ("POST", "/api/v1/cap"),
    ("GET", "/api/v1/area-presets"),
    ("PUT", "/api/v1/area-presets/x"),
]


@pytest.fixture
def cli_env(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PUSHSVC_DATABASE_URL", harness.settings.database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_prints_the_token_once_alone_on_its_last_line_and_stores_only_its_hash(
    harness: Harness, cli_env: CliRunner
) -> None:
    r = cli_env.invoke(
        cli, ["operators", "create", "--name", "kochi-1", "--role", "municipality", "--municipalities", "39201,39202"]
    )
    assert r.exit_code == 0, r.output
    token = r.output.rstrip("\n").splitlines()[-1]
    assert token.startswith("pso_") and " " not in token and len(token) > 40
    with harness.db.sessionmaker() as s:
        op = s.execute(select(Operator).where(Operator.name == "kochi-1")).scalar_one()
        assert op.municipalities == ["39201", "39202"] and token not in op.token_hash
    me = harness.client.get("/api/v1/operators/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["municipalities"] == ["39201", "39202"]

    assert cli_env.invoke(cli, ["operators", "revoke", "--name", "kochi-1"]).exit_code == 0
    again = harness.client.get("/api/v1/operators/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401 and "revoked" in again.json()["detail"]


def test_cli_refuses_unknown_codes_and_prefecture_lists(harness: Harness, cli_env: CliRunner) -> None:
    bad = cli_env.invoke(
        cli, ["operators", "create", "--name", "x", "--role", "municipality", "--municipalities", "13101"]
    )
    assert bad.exit_code == 2 and "13101" in bad.output
    pref = cli_env.invoke(
        cli, ["operators", "create", "--name", "y", "--role", "prefecture", "--municipalities", "39201"]
    )
    assert pref.exit_code == 2


@pytest.mark.parametrize(("method", "path"), OPERATOR_ROUTES)
def test_every_operator_route_needs_a_bearer_token(harness: Harness, method: str, path: str) -> None:
    r = harness.client.request(method, path)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "Authorization" and r.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_token_is_refused_and_audited(ops: Ops) -> None:
    r = ops.h.client.get("/api/v1/messages", headers={"Authorization": "Bearer pso_nope"})
    assert r.status_code == 401
    audit = ops.call("GET", "/api/v1/audit", "pref-a", params={"action": "auth.failure"}).json()
    assert audit[0]["detail"]["reason"] == "unknown" and audit[0]["detail"]["path"] == "/api/v1/messages"


def test_municipal_operator_of_39201_cannot_reach_39202(ops: Ops) -> None:
    for target in (
        {"municipality_codes": [MUROTO_CODE]},
        {"municipality_codes": [KOCHI, MUROTO_CODE]},
        {"circle": {"lat": 33.29, "lon": 134.15, "radius_m": 3000}},
    ):
        for path in ("/api/v1/messages", "/api/v1/messages/preview"):
            r = ops.call("POST", path, "kochi-city", json=message(target=target))
            assert r.status_code == 403, r.text
            assert MUROTO_CODE in r.json()["detail"] and r.json()["field"] == "target"
    ok = ops.send("kochi-city", target={"area": KATSURAHAMA_SQUARE})
    assert ok["status"] == "sent"


def test_municipal_operator_cannot_read_or_act_on_another_municipalitys_history(ops: Ops) -> None:
    theirs = ops.send("muroto-city", target={"municipality_codes": [MUROTO_CODE]})["id"]
    mine = ops.send("kochi-city")["id"]
    listed = ops.call("GET", "/api/v1/messages", "kochi-city").json()
    assert [m["id"] for m in listed] == [mine]
    for method, path in (
        ("GET", f"/api/v1/messages/{theirs}"),
        ("GET", f"/api/v1/messages/{theirs}.cap"),
        ("POST", f"/api/v1/messages/{theirs}/cancel"),
    ):
        assert ops.call(method, path, "kochi-city").status_code == 403
    assert ops.call("GET", "/api/v1/messages", "kochi-city", params={"municipality": MUROTO_CODE}).status_code == 403
    assert ops.call("GET", "/api/v1/audit", "kochi-city").status_code == 403
    assert {m["id"] for m in ops.call("GET", "/api/v1/messages", "pref-a").json()} == {theirs, mine}


def test_rate_limit_per_operator_is_429_with_retry_after(ops: Ops) -> None:
    ops.h.app.state.settings = ops.h.settings.model_copy(update={"operator_rate_limit_per_minute": 3})
    codes = [ops.call("GET", "/api/v1/operators/me", "kochi-city").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert ops.call("GET", "/api/v1/operators/me", "pref-a").status_code == 200  # others are not affected
    r = ops.call("GET", "/api/v1/operators/me", "kochi-city")
    assert int(r.headers["retry-after"]) >= 1


def test_audit_log_is_append_only(ops: Ops) -> None:
    ops.send("kochi-city")
    with ops.h.db.sessionmaker() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "message.send")).scalar_one()
        entry.action = "nothing"
        with pytest.raises(AuditLogIsAppendOnly):
            s.flush()
        s.rollback()
        s.delete(s.get(AuditEntry, entry.id))
        with pytest.raises(AuditLogIsAppendOnly):
            s.flush()
