"""Schemathesis over the whole OpenAPI spec: whatever a client sends, never a 5xx, and answers as documented.

Runs in-process through ASGI on both backends, with the app started (migrations, VAPID key) first. Every
operation is called with schema-valid and schema-violating input, as nobody, as a resident (their own
subscription's token and id), as a prefecture operator and as a municipal operator. Each response is
checked against the spec: documented status, content type and schema (errors are problem JSON). The
request and server-error counts are printed in the terminal summary (and so in ``.ci/run``'s output).
Bounded by ``PUSHSVC_TEST_SCHEMATHESIS_EXAMPLES`` requests per backend (default 1,000: 20–40 s per
backend on the shared 2-core machine).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from schemathesis.generation import GenerationMode

from pushsvc.db import session_scope
from pushsvc.errors import PROBLEM_JSON
from pushsvc.main import create_app
from pushsvc.operators import accounts
from tests.conftest import TestDatabase
from tests.subscriptions.conftest import SCHEMATHESIS_RUNS, subscription_body

EXAMPLES = int(os.environ.get("PUSHSVC_TEST_SCHEMATHESIS_EXAMPLES", "1000"))
MODES = ("prefecture", "resident", "municipal", "anonymous")  # hypothesis leans to the first
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
UNLIMITED = 10**9


def test_no_request_to_any_route_fails_with_5xx_or_off_spec(db: TestDatabase, tmp_path: Path) -> None:
    app_settings = db.settings(
        vapid_key_file=tmp_path / "vapid.pem",
        operator_rate_limit_per_minute=UNLIMITED,
        operator_login_failures_per_minute=UNLIMITED,
        kpi_events_per_minute=UNLIMITED,
        admin_token="fuzz-bootstrap-token-0123456789abcdef0123",
    )
    app = create_app(app_settings)
    with TestClient(app) as client:  # runs the lifespan: migrations and the VAPID identity
        with session_scope(db.sessionmaker) as s:
            tokens = {
                "prefecture": accounts.create_operator(s, name="fuzz-pref", role="prefecture")[1],
                "municipal": accounts.create_operator(
                    s, name="fuzz-kochi", role="municipality", municipalities=["39201"]
                )[1],
            }
        resident = client.post("/api/v1/subscriptions", json=subscription_body()).json()
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [op.ok() for op in schema.get_all_operations()]
        assert len(operations) >= 40
        strategy = st.one_of(
            [
                op.as_strategy(generation_mode=mode)
                for op in operations
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            ]
        )
        run: dict[str, Any] = {"requests": 0, "server_errors": 0, "off_spec": 0, "failures": [], "operations": set()}

        @given(case=strategy, mode=st.sampled_from(MODES))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: schemathesis.Case, mode: str) -> None:
            headers = {
                k: v for k, v in (case.headers or {}).items() if mode == "anonymous" or k.lower() != "authorization"
            }
            if mode == "resident":
                headers["Authorization"] = f"Bearer {resident['token']}"
                for params in (case.path_parameters, case.query):
                    for name in ("subscription_id", "subscription"):
                        if params is not None and name in params:
                            params[name] = resident["id"]
            elif mode in tokens:
                headers["Authorization"] = f"Bearer {tokens[mode]}"
            run["requests"] += 1
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # the app raised: what a client would see as a 500
                run["server_errors"] += 1
                run["failures"].append((mode, case.method, case.formatted_path, repr(exc)[:300]))
                return
            run["operations"].add(f"{case.method} {case.path}")
            what = (mode, case.method, case.formatted_path, response.status_code, response.text[:300])
            if response.status_code >= 500:
                run["server_errors"] += 1
                run["failures"].append(what)
                return
            if response.status_code >= 400:
                assert response.headers["content-type"][0].startswith(PROBLEM_JSON), what
                assert response.json()["status"] == response.status_code, what
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every kind of mismatch
                run["off_spec"] += 1
                run["failures"].append((*what, str(exc)[:500]))

        call()
    SCHEMATHESIS_RUNS.append(
        f"schemathesis [{db.backend}]: {run['requests']} requests over "
        f"{len(run['operations'])} of {len(operations)} operations, "
        f"{run['server_errors']} server errors, {run['off_spec']} responses off the spec"
    )
    assert run["server_errors"] == 0 and run["off_spec"] == 0, run["failures"][:10]
