"""Per-process Prometheus counters that any layer may bump: imports no domain, so delivery can count pushes.

A worker serves them on its own bind address (``pushsvc worker --metrics-bind``); the API's database
aggregates live in ``pushsvc.metrics``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter

WORKER_REGISTRY = CollectorRegistry()
PUSH_OUTCOMES = Counter(
    "pushsvc_worker_push_outcomes",
    "Push attempts by push service (host) and outcome.",
    ["push_service", "outcome"],
    registry=WORKER_REGISTRY,
)


_OUTCOME_CHILDREN: dict[tuple[str, str], Any] = {}  # (endpoint's netloc, outcome) -> its counter
_MAX_CHILDREN = 10_000  # endpoints come from browsers: a bound on what one odd netloc each can cost


def count_push(endpoint: str, outcome: str) -> None:
    """Once per message sent: the counter for its push service and outcome is looked up once, not per call
    (``labels()`` validates and locks each time, a measurable share of a worker's CPU per message)."""
    netloc = endpoint.split("/", 3)[2] if endpoint.count("/") >= 2 else "unknown"
    child = _OUTCOME_CHILDREN.get((netloc, outcome))
    if child is None:
        if len(_OUTCOME_CHILDREN) >= _MAX_CHILDREN:
            _OUTCOME_CHILDREN.clear()
        child = _OUTCOME_CHILDREN[(netloc, outcome)] = PUSH_OUTCOMES.labels(netloc.rsplit("@", 1)[-1], outcome)
    child.inc()


def serve_worker_metrics(bind: str) -> None:
    """Serve this worker's counters on ``host:port`` (a separate bind address, never the public one)."""
    from prometheus_client import start_http_server

    host, _, port = bind.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1", registry=WORKER_REGISTRY)
