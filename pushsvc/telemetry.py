"""Per-process Prometheus counters that any layer may bump: imports no domain, so delivery can count pushes.

A worker serves them on its own bind address (``pushsvc worker --metrics-bind``); the API's database
aggregates live in ``pushsvc.metrics``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

WORKER_REGISTRY = CollectorRegistry()
PUSH_OUTCOMES = Counter(
    "pushsvc_worker_push_outcomes",
    "Push attempts by push service (host) and outcome.",
    ["push_service", "outcome"],
    registry=WORKER_REGISTRY,
)


def count_push(endpoint: str, outcome: str) -> None:
    host = endpoint.split("/", 3)[2] if endpoint.count("/") >= 2 else "unknown"
    PUSH_OUTCOMES.labels(host.rsplit("@", 1)[-1], outcome).inc()


def serve_worker_metrics(bind: str) -> None:
    """Serve this worker's counters on ``host:port`` (a separate bind address, never the public one)."""
    from prometheus_client import start_http_server

    host, _, port = bind.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1", registry=WORKER_REGISTRY)
