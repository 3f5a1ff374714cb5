"""Turning push-service answers into what the worker should do next."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from pushsvc.webpush.sender import Outcome, backoff_delay, classify, parse_retry_after


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, Outcome.SENT),
        (202, Outcome.SENT),
        (404, Outcome.GONE),
        (410, Outcome.GONE),
        (413, Outcome.PAYLOAD_ERROR),
        (429, Outcome.RATE_LIMITED),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (400, Outcome.REJECTED),
        (401, Outcome.REJECTED),
        (403, Outcome.REJECTED),
    ],
)
def test_status_classification(status: int, outcome: Outcome) -> None:
    assert classify(status, "why").outcome is outcome


def test_429_carries_its_retry_after() -> None:
    result = classify(429, "slow down", "17")
    assert result.retry_after == 17.0 and result.retryable
    assert "slow down" in result.reason


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 11, 23, 5, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 23 Nov 2026 05:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Mon, 23 Nov 2026 04:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
def test_unusable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    rng = random.Random(4)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0)]:
        delays = [backoff_delay(attempt, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert backoff_delay(40, rng=rng) <= 900.0
