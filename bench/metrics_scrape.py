"""Benchmark: what one /metrics scrape costs the API, with the aggregates cached (the default) and not.

A throwaway PostgreSQL database gets ``--notifications`` delivered notifications and ``--subscriptions``
subscriptions (inserted directly); then ``--scrapes`` scrapes are timed in-process (TestClient, loopback
client) with ``PUSHSVC_METRICS_CACHE_S=0`` (every scrape aggregates, as before issue 18) and with the
default 15 s cache. Reports the mean per scrape and the ratio from the same run.

    .venv/bin/python -m bench.metrics_scrape --notifications 5000 --subscriptions 50000 --append docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from bench._common import machine, publish, throwaway_database
from pushsvc.config import Settings
from pushsvc.db import make_engine, table_of
from pushsvc.delivery.models import Notification
from pushsvc.main import create_app
from pushsvc.migrate import upgrade
from pushsvc.subscriptions.models import Subscription


def setup(url: str, notifications: int, subscriptions: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as c:
        c.execute(
            insert(table_of(Subscription)),
            [
                {
                    "endpoint": f"https://fcm.googleapis.com/fcm/send/b{i}",
                    "p256dh": "x",
                    "auth": "y",
                    "token_hash": "z",
                    "lang": "ja",
                    "categories_mask": 255,
                    "follow_current_location": False,
                    "test_device": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(subscriptions)
            ],
        )
        c.execute(
            insert(table_of(Notification)),
            [
                {
                    "source": "operator",
                    "category": "evacuation",
                    "severity": ("info", "warning", "emergency")[i % 3],
                    "title": {"ja": "t"},
                    "body": {},
                    "target_codes": ["39201"],
                    "ttl_seconds": 3600,
                    "topic": f"t{i}",
                    "status": "done",
                    "targeted": 10,
                    "sent": 10,
                    "created_at": now - timedelta(seconds=60 + i),
                    "expires_at": now + timedelta(hours=1),
                    "first_sent_at": now - timedelta(seconds=58 + i),
                    "last_sent_at": now - timedelta(seconds=50 + i),
                    "extra": {},
                }
                for i in range(notifications)
            ],
        )
    engine.dispose()


def time_scrapes(settings: Settings, scrapes: int) -> list[float]:
    with TestClient(create_app(settings), client=("127.0.0.1", 40000)) as c:
        c.get("/metrics")  # the first scrape aggregates in both cases; time the steady state
        out = []
        for _ in range(scrapes):
            t = time.perf_counter()
            assert c.get("/metrics").status_code == 200
            out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--notifications", type=int, default=5000)
    ap.add_argument("--subscriptions", type=int, default=50000)
    ap.add_argument("--scrapes", type=int, default=30)
    ap.add_argument("--append", type=Path)
    args = ap.parse_args()
    with throwaway_database() as db:
        setup(db.url, args.notifications, args.subscriptions)
        base = Settings(database_url=db.url, boundaries=None, vapid_key_file=db.tmp / "vapid.pem")
        uncached = time_scrapes(base.model_copy(update={"metrics_cache_s": 0.0}), args.scrapes)
        cached = time_scrapes(base, args.scrapes)
    u, c = statistics.mean(uncached) * 1000, statistics.mean(cached) * 1000
    publish(
        f"""
## /metrics scrape cost (`bench/metrics_scrape.py`, issue 18), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

{args.notifications:,} delivered notifications, {args.subscriptions:,} subscriptions, PostgreSQL {db.server_version},
{args.scrapes} scrapes in-process. Machine: {machine()}, shared with other engineers' test runs (noisy).

| aggregates | mean per scrape |
|---|---|
| recomputed every scrape (`PUSHSVC_METRICS_CACHE_S=0`; as every scrape did before issue 18) | {u:.1f} ms |
| cached 15 s (default) | {c:.2f} ms |

Ratio in this run: a cached scrape costs {c / u:.3f}× an aggregating one ({u / c:.0f}× cheaper).
""",
        args.append,
    )


if __name__ == "__main__":
    main()
