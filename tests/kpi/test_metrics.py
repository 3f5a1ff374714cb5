"""/metrics for the on-call engineer: closed to the public, cheap to scrape, and carrying what pages them."""

from __future__ import annotations

import urllib.request

from fastapi.testclient import TestClient
from pydantic import SecretStr

from pushsvc import metrics, telemetry
from pushsvc.main import create_app
from tests.conftest import free_port
from tests.fixtures.delivery import KOCHI_KENCHO, Harness


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_is_closed_to_the_public_without_a_token(harness: Harness) -> None:
    r = harness.client.get("/metrics")  # the test client is not a loopback address: like a resident
    assert r.status_code == 403 and "PUSHSVC_METRICS_TOKEN" in r.json()["detail"]


def test_metrics_token_is_required_when_set(harness: Harness) -> None:
    app = create_app(harness.settings.model_copy(update={"metrics_token": SecretStr("scrape-secret-1")}))
    with TestClient(app, client=("127.0.0.1", 40001)) as c:
        assert c.get("/metrics").status_code == 401  # even from loopback: the token is the rule then
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
    assert ok.status_code == 200 and "pushsvc_delivery_queue_depth" in ok.text


def test_scrapes_within_the_cache_time_reuse_one_aggregation(harness: Harness) -> None:
    app = create_app(harness.settings.model_copy(update={"metrics_cache_s": 3600}))
    with TestClient(app, client=("127.0.0.1", 40002)) as c:
        first = samples(c.get("/metrics").text)
        harness.subscribe(KOCHI_KENCHO)
        harness.notify(target={"municipality_codes": ["39201"]})
        for _ in range(5):
            again = samples(c.get("/metrics").text)
    collector = next(
        x for x in app.state.metrics_registry._collector_to_names if isinstance(x, metrics.DatabaseCollector)
    )
    assert collector.computed == 1
    assert again["pushsvc_delivery_queue_depth"] == first["pushsvc_delivery_queue_depth"] == 0


def test_on_call_metrics_after_a_delivery(harness: Harness) -> None:
    resident = harness.subscribe(KOCHI_KENCHO)
    host = harness.push.endpoint(resident.device).split("/")[2]
    app = create_app(harness.settings.model_copy(update={"metrics_cache_s": 0}))
    with TestClient(app, client=("127.0.0.1", 40003)) as c:
        nid = harness.notify(target={"municipality_codes": ["39201"]}, severity="emergency")
        queued = samples(c.get("/metrics").text)
        harness.run_worker(nid)
        c.get("/api/v1/geo/locate", params={"lat": 33.5597, "lon": 133.5311})
        text = c.get("/metrics").text
    after = samples(text)
    assert queued["pushsvc_delivery_queue_depth"] == 1 and "pushsvc_delivery_oldest_due_batch_seconds" in queued
    assert after["pushsvc_delivery_queue_depth"] == 0 and after["pushsvc_delivery_oldest_due_batch_seconds"] == 0
    assert after['pushsvc_delivery_first_push_seconds_count{priority="emergency"}'] == 1
    assert after['pushsvc_delivery_last_push_seconds_bucket{le="+Inf",priority="emergency"}'] == 1
    assert after['pushsvc_pushes_total{outcome="sent"}'] == 1
    assert (
        after['pushsvc_http_request_duration_seconds_count{method="GET",route="/api/v1/geo/locate",status="200"}'] == 1
    )
    assert "# TYPE pushsvc_feed_age_seconds gauge" in text
    served = free_port()
    telemetry.serve_worker_metrics(f"127.0.0.1:{served}")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"http://127.0.0.1:{served}/metrics") as r:
        worker = samples(r.read().decode())
    assert worker[f'pushsvc_worker_push_outcomes_total{{outcome="sent",push_service="{host}"}}'] >= 1
