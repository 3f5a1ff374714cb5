"""Schemathesis against the OpenAPI spec: whatever a client sends to the resident API, never a 5xx.

Runs in-process through ASGI, on both backends, with the app started (migrations, VAPID key) first.
Both schema-valid and schema-violating requests are generated for every operation.
"""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from pushsvc.errors import PROBLEM_JSON


def test_no_request_makes_the_resident_api_fail_with_5xx(app: FastAPI) -> None:
    with TestClient(app):  # runs the lifespan: migrations and the VAPID identity
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
            path_regex=r"^/api/v1/(subscriptions|push)"
        )
        operations = [op.ok() for op in schema.get_all_operations()]
        assert len(operations) >= 6
        strategy = st.one_of([
            op.as_strategy(generation_mode=mode) for op in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ])

        @given(case=strategy)
        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, case.body, response.text)
            if response.status_code >= 400 and response.status_code != 405:
                assert response.headers["content-type"][0].startswith(PROBLEM_JSON), response.text
                assert response.json()["status"] == response.status_code

        no_server_error()
