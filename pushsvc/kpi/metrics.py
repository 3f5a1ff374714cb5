"""Prometheus text exposition: queue depth, pushes by outcome (rate() gives the send rate), failed
attempts by push-service status, subscribers, and feed health when the feeds domain is present."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.kpi import service

log = logging.getLogger(__name__)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _metric(lines: list[str], name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]


def _feed_health(db_session: Session, settings: Settings) -> list[tuple[str, float]]:
    try:
        from pushsvc.feeds.service import list_health
        from pushsvc.feeds.sources import load_sources
    except ImportError:  # pragma: no cover - depends on which domains are present
        return []
    try:
        rows = list_health(db_session, load_sources(getattr(settings, "feeds_file", None)), now=datetime.now(UTC),
                           unhealthy_after_s=float(getattr(settings, "feed_unhealthy_after_s", 1800.0)))
    except Exception as exc:  # metrics must still answer when feeds are misconfigured
        log.warning("feed health unavailable for /metrics: %s", exc)
        return []
    return [(f'{{source="{_escape(str(r["name"]))}"}}', 1.0 if r["healthy"] else 0.0) for r in rows]


def render(db_session: Session, settings: Settings) -> str:
    lines: list[str] = []
    outcomes = delivery.push_outcome_counts(db_session)
    _metric(lines, "pushsvc_delivery_queue_depth", "gauge", "Recipients waiting in open delivery batches.",
            [("", delivery.queue_depth(db_session))])
    _metric(lines, "pushsvc_notifications_total", "counter", "Notifications accepted.",
            [("", outcomes["notifications"])])
    _metric(lines, "pushsvc_pushes_total", "counter", "Pushes by final outcome (rate() of sent = send rate).",
            [(f'{{outcome="{k}"}}', outcomes[k]) for k in ("sent", "gone", "failed", "expired")])
    _metric(lines, "pushsvc_push_failed_attempts_total", "counter",
            "Failed push attempts by push-service HTTP status ('none' = no response).",
            [(f'{{status="{_escape(code)}"}}', n) for code, n in sorted(outcomes["failure_status"].items())])
    total, _ = service.active_subscribers(db_session, now=datetime.now(UTC))
    _metric(lines, "pushsvc_subscriptions_active", "gauge", "Subscriptions stored now.", [("", total)])
    health = _feed_health(db_session, settings)
    if health:
        _metric(lines, "pushsvc_feed_source_healthy", "gauge", "1 if the feed source polled successfully lately.",
                health)
    return "\n".join(lines) + "\n"
