"""Prometheus metrics with ``prometheus-client``: what an on-call engineer needs to see at a glance.

The API's ``/metrics`` (behind ``PUSHSVC_METRICS_TOKEN``, or loopback only) carries database aggregates,
recomputed at most every ``PUSHSVC_METRICS_CACHE_S`` whatever the scrape rate: queue depth and the oldest
due batch, pushes by outcome, delivery latency (accepted → first and → last push) per priority, feed age
per source, subscribers; plus this process's request latency per route. Each worker counts push outcomes
per push service in-process and serves them on its own bind address (``pushsvc worker --metrics-bind``).
docs/OPERATIONS.md says what each alert means.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.deps import SettingsDep
from pushsvc.errors import ProblemError
from pushsvc.kpi import service

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])

# Seconds from acceptance to a push: tsunami/Lv4+ should sit in the first buckets.
LATENCY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


def _feed_rows(db_session: Session, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    try:
        from pushsvc.feeds.service import list_health
        from pushsvc.feeds.sources import load_sources

        return list_health(
            db_session, load_sources(settings.feeds_file), now=now, unhealthy_after_s=settings.feed_unhealthy_after_s
        )
    except Exception as exc:  # metrics must still answer when feeds are misconfigured
        log.warning("feed health unavailable for /metrics: %s", exc)
        return []


def _histogram(name: str, doc: str, values: dict[str, list[float]], label: str) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[label])
    for key, seconds in sorted(values.items()):
        buckets = [(str(b), float(sum(1 for s in seconds if s <= b))) for b in LATENCY_BUCKETS]
        buckets.append(("+Inf", float(len(seconds))))
        family.add_metric([key], buckets, sum_value=float(sum(seconds)))
    return family


def aggregate(db_session: Session, settings: Settings, now: datetime) -> list[Metric]:
    """Every database-derived family, computed once (the caller caches the list)."""
    out: list[Metric] = []
    outcomes = delivery.push_outcome_counts(db_session)
    out.append(
        GaugeMetricFamily(
            "pushsvc_delivery_queue_depth",
            "Recipients waiting in open delivery batches.",
            value=delivery.queue_depth(db_session),
        )
    )
    oldest = delivery.oldest_due_at(db_session, now=now)
    out.append(
        GaugeMetricFamily(
            "pushsvc_delivery_oldest_due_batch_seconds",
            "How long the oldest batch that is due has waited for a worker (0 = none waiting).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
    )
    out.append(CounterMetricFamily("pushsvc_notifications", "Notifications accepted.", value=outcomes["notifications"]))
    pushes = CounterMetricFamily(
        "pushsvc_pushes", "Pushes by final outcome (rate() of sent = send rate).", labels=["outcome"]
    )
    for k in ("sent", "gone", "failed", "expired"):
        pushes.add_metric([k], outcomes[k])
    out.append(pushes)
    failed = CounterMetricFamily(
        "pushsvc_push_failed_attempts",
        "Failed push attempts by push-service HTTP status ('none' = no response).",
        labels=["status"],
    )
    for code, n in sorted(outcomes["failure_status"].items()):
        failed.add_metric([code], n)
    out.append(failed)
    first: dict[str, list[float]] = defaultdict(list)
    last: dict[str, list[float]] = defaultdict(list)
    for severity, created, first_at, last_at in delivery.send_timings(db_session):
        first[severity].append(max(0.0, (first_at - created).total_seconds()))
        if last_at is not None:
            last[severity].append(max(0.0, (last_at - created).total_seconds()))
    out.append(
        _histogram(
            "pushsvc_delivery_first_push_seconds",
            "Per notification: accepted → first push sent, by priority (severity).",
            first,
            "priority",
        )
    )
    out.append(
        _histogram(
            "pushsvc_delivery_last_push_seconds",
            "Per notification: accepted → last push sent, by priority (severity).",
            last,
            "priority",
        )
    )
    total, _ = service.active_subscribers(db_session, now=now)
    out.append(GaugeMetricFamily("pushsvc_subscriptions_active", "Subscriptions stored now.", value=total))
    rows = _feed_rows(db_session, settings, now)
    healthy = GaugeMetricFamily(
        "pushsvc_feed_source_healthy", "1 if the feed source polled successfully lately.", labels=["source"]
    )
    age = GaugeMetricFamily(
        "pushsvc_feed_age_seconds",
        "Seconds since the feed source last polled successfully (absent = never).",
        labels=["source"],
    )
    for r in rows:
        healthy.add_metric([str(r["name"])], 1.0 if r["healthy"] else 0.0)
        if r.get("last_success_at"):
            age.add_metric([str(r["name"])], max(0.0, (now - r["last_success_at"]).total_seconds()))
    out += [healthy, age]
    out.append(
        GaugeMetricFamily(
            "pushsvc_metrics_aggregated_timestamp_seconds",
            "When the database aggregates above were computed (Unix time).",
            value=now.timestamp(),
        )
    )
    return out


class DatabaseCollector(Collector):
    """Database aggregates cached for ``ttl_s``: a scrape every second costs one aggregation per ttl."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.settings = settings
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._families: list[Metric] = []
        self.computed = 0  # how many times the aggregates were computed (tests, and the docs' claim)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if time.monotonic() - self._at >= self.settings.metrics_cache_s:
                with self.factory() as db_session:
                    self._families = aggregate(db_session, self.settings, datetime.now(UTC))
                self._at = time.monotonic()
                self.computed += 1
            return list(self._families)


class RequestTimer:
    """ASGI middleware: request latency per route template (``/alerts/{alert_id}``, never the raw path)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            self.histogram.labels(scope["method"], template, str(status[0])).observe(time.perf_counter() - started)


def api_registry(factory: sessionmaker[Session], settings: Settings) -> tuple[CollectorRegistry, Histogram]:
    """One registry per app (tests build hundreds of apps in one process; a global one would clash)."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(factory, settings))
    histogram = Histogram(
        "pushsvc_http_request_duration_seconds",
        "Request latency by route.",
        ["method", "route", "status"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
    )
    return registry, histogram


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def prometheus(
    request: Request, settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> PlainTextResponse:
    """Operational metrics in the Prometheus text format (aggregates only, cached above).

    Behind ``PUSHSVC_METRICS_TOKEN`` as a bearer token; with none set, only loopback clients are answered.
    """
    if settings.metrics_token is not None:
        if not hmac.compare_digest(authorization or "", f"Bearer {settings.metrics_token.get_secret_value()}"):
            raise ProblemError(
                "a valid metrics token is required",
                field="Authorization",
                status=401,
                title="Unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif request.client is None or request.client.host not in {"127.0.0.1", "::1"}:
        raise ProblemError(
            "/metrics answers loopback clients only; set PUSHSVC_METRICS_TOKEN to scrape it from elsewhere",
            status=403,
            title="Forbidden",
        )
    from prometheus_client.exposition import generate_latest

    return PlainTextResponse(
        generate_latest(request.app.state.metrics_registry), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
