"""Benchmark: GET /api/v1/portal/me at a fixed arrival rate on PostgreSQL with 100,000 subscriptions.

Creates a throwaway PostGIS database, migrates it, loads the Kochi boundaries and the real evacuation
sites, bulk-inserts the subscriptions (1–2 places at real Kochi points, inserted directly, not through
the API) and a few active alerts, starts ``pushsvc serve``, then sends requests open-loop at
``--rate`` per second (each on schedule, whether or not earlier ones finished) for ``--seconds``.
Target: p95 < 50 ms at 200 requests/s.

    .venv/bin/python -m bench.portal --subscriptions 100000 --rate 200 --seconds 20 --append docs/BENCHMARKS.md

``--in-process N`` also times N answers inside one process (the app on a TestClient, no HTTP server or
load), which is the per-request cost the server pays and a quick check on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import insert, text

from bench._common import (
    BOUNDARIES,
    PG_ADMIN_URL,
    SHARED,
    OpenLoopRun,
    machine,
    open_loop,
    percentile,
    publish,
    serve,
    throwaway_database,
)
from pushsvc.config import Settings
from pushsvc.db import make_engine, make_sessionmaker, session_scope
from pushsvc.delivery import service as delivery
from pushsvc.geo import service as geo_service
from pushsvc.geo.n03 import load_boundaries
from pushsvc.migrate import upgrade
from pushsvc.shelters import service as shelters
from pushsvc.shelters.loader import parse_path
from pushsvc.subscriptions.models import Subscription
from pushsvc.subscriptions.service import hash_token

POINTS = [
    ((33.5597, 133.5311), "39201"),
    ((33.2903, 134.1522), "39202"),
    ((32.9917, 132.9336), "39210"),
    ((33.5461, 133.6694), "39211"),
    ((33.3917, 132.9269), "39412"),
    ((33.5750, 133.6400), "39204"),
    ((33.4990, 133.2870), "39206"),
    ((32.7253, 133.0203), "39209"),
]
ALERTS = [
    ("39201", "river", "warning"),
    ("39202", "quake_tsunami", "advisory"),
    ("39210", "weather", "warning"),
    ("39201", "landslide", "advisory"),
    ("39204", "evacuation", "emergency"),
]


def setup(db_url: str, n: int, rng: random.Random) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    settings = Settings(database_url=db_url)
    with session_scope(factory) as s:
        geo_service.import_boundaries(s, load_boundaries(BOUNDARIES, prefecture="39"), source=str(BOUNDARIES))
        sites = parse_path(SHARED / "samples" / "shelters" / "kochi_gsi_emergency_sites_merged.csv")
        shelters.import_sites(s, sites.sites, source="bench")
        for code, category, severity in ALERTS:
            delivery.create_notification(
                s,
                delivery.NotificationDraft(
                    source="bench",
                    category=category,
                    severity=severity,
                    title={"ja": f"{category} {code}"},
                    body={"ja": "ベンチマーク"},
                    municipality_codes=[code],
                    recipient_ids=[],
                ),
                settings=settings,
            )
    now = datetime.now(UTC)
    chunk = 10_000
    with engine.begin() as conn:
        for start in range(1, n + 1, chunk):
            ids = range(start, min(n, start + chunk - 1) + 1)
            conn.execute(
                insert(Subscription),
                [
                    {
                        "id": i,
                        "endpoint": f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}",
                        "p256dh": "B" + "A" * 86,
                        "auth": "A" * 22,
                        "token_hash": hash_token(f"tok{i}"),
                        "lang": rng.choice(("ja", "ja", "en")),
                        "categories_mask": 63,
                        "follow_current_location": False,
                        "test_device": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            places = []
            for i in ids:
                for pos, ((lat, lon), code) in enumerate(rng.sample(POINTS, rng.choice((1, 2)))):
                    places.append(
                        {
                            "sid": i,
                            "pos": pos,
                            "code": code,
                            "lat": round(lat + rng.uniform(-0.01, 0.01), 3),
                            "lon": round(lon + rng.uniform(-0.01, 0.01), 3),
                        }
                    )
            conn.execute(
                text(
                    "INSERT INTO subscription_places (subscription_id, kind, position, label, municipality_code, match,"
                    " lat, lon, geom) VALUES (:sid, 'registered', :pos, NULL, :code, 'inside', :lat, :lon,"
                    " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                ),
                places,
            )
        conn.execute(text("SELECT setval(pg_get_serial_sequence('subscriptions', 'id'), :n)"), {"n": n})
        conn.execute(text("ANALYZE"))
    engine.dispose()


async def drive(base: str, n: int, rate: float, seconds: float, rng: random.Random) -> OpenLoopRun:
    sids = [rng.randint(1, n) for _ in range(int(rate * seconds))]

    async def one(http: aiohttp.ClientSession, i: int) -> int:
        async with http.get(
            f"{base}/api/v1/portal/me?subscription={sids[i]}", headers={"Authorization": f"Bearer tok{sids[i]}"}
        ) as r:
            await r.read()
        return r.status

    return await open_loop(rate, len(sids), one)


def in_process(db_url: str, n: int, subscriptions: int, rng: random.Random) -> tuple[list[float], float]:
    """Seconds per answer, and queries per answer, of ``n`` answers computed the way the route does
    (session, token check, portal, JSON, commit) but without HTTP: the server's own cost per request."""
    from sqlalchemy import event

    from pushsvc.portal import service as portal
    from pushsvc.subscriptions.service import authorize

    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    queries = [0]
    event.listen(engine, "before_cursor_execute", lambda *_: queries.__setitem__(0, queries[0] + 1))
    times: list[float] = []
    for i in range(n + 50):  # the first 50 warm the process's caches
        sid = rng.randint(1, subscriptions)
        t0 = time.perf_counter()
        with factory() as s:
            sub = authorize(s, sid, f"Bearer tok{sid}")
            portal.portal_me(s, sub, settings=settings, now=datetime.now(UTC)).model_dump_json()
            s.commit()
        if i == 49:
            queries[0] = 0
        elif i > 49:
            times.append(time.perf_counter() - t0)
    engine.dispose()
    return times, queries[0] / max(1, n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=PG_ADMIN_URL)
    ap.add_argument("--subscriptions", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup-seconds", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--in-process", type=int, default=0, metavar="N", help="time N answers in this process too (no HTTP server)"
    )
    ap.add_argument("--append", type=Path, help="append a results section to this Markdown file")
    args = ap.parse_args()

    rng = random.Random(7)
    with throwaway_database(args.pg) as db:
        pg_version = db.server_version
        t0 = time.perf_counter()
        setup(db.url, args.subscriptions, rng)
        setup_s = time.perf_counter() - t0
        inner_line = ""
        if args.in_process:
            inner, per_answer = in_process(db.url, args.in_process, args.subscriptions, rng)
            inner_line = (
                f"- In-process (session, token check, portal, JSON and commit without HTTP, one at a "
                f"time): {len(inner)} answers, mean {statistics.mean(inner) * 1000:.2f} ms, "
                f"p50 {percentile(inner, 50) * 1000:.2f} ms, p95 {percentile(inner, 95) * 1000:.2f} ms, "
                f"{per_answer:.1f} queries per answer.\n"
            )
        env = {"PUSHSVC_DATABASE_URL": db.url, "PUSHSVC_VAPID_KEY_FILE": str(db.tmp / "vapid.pem")}
        with serve(env, workers=args.workers) as base:
            asyncio.run(drive(base, args.subscriptions, args.rate, args.warmup_seconds, rng))
            run = asyncio.run(drive(base, args.subscriptions, args.rate, args.seconds, rng))
    lat, statuses, elapsed, late = run.latencies, run.statuses, run.elapsed, run.late

    p50, p95, p99 = (percentile(lat, p) * 1000 for p in (50, 95, 99))
    ok = statuses.get(200, 0)
    full_size = args.rate >= 200 and args.subscriptions >= 100_000
    verdict = ("meets it" if p95 < 50 and ok == len(lat) else "misses it") if full_size else "not tested (smaller run)"
    report = (
        f"\n## Portal: GET /api/v1/portal/me (`bench/portal.py`, issue 7), {datetime.now(UTC):%Y-%m-%d}\n\n"
        f"- Setup: PostgreSQL {pg_version} + PostGIS, {args.subscriptions:,} subscriptions (1–2 places each, "
        f"bulk-inserted in {setup_s:.0f} s with the 2,817 real evacuation sites and {len(ALERTS)} active alerts), "
        f"`pushsvc serve --workers {args.workers}`; open-loop aiohttp client on the same machine sending "
        f"{args.rate:.0f} requests/s for {args.seconds:.0f} s after {args.warmup_seconds:.0f} s of warm-up, "
        f"each for a random subscription (every answer has alerts and evacuation sites for their hazards).\n"
        f"- Machine: {machine()}.\n"
        f"- Result: {len(lat)} requests in {elapsed:.1f} s ({len(lat) / elapsed:.0f}/s achieved; {late} sent >10 ms "
        f"late by the client), latency p50 {p50:.1f} ms, **p95 {p95:.1f} ms**, p99 {p99:.1f} ms; "
        f"statuses {dict(sorted(statuses.items()))}.\n"
        f"{inner_line}- Target (p95 < 50 ms at 200 requests/s with 100,000 subscriptions): {verdict}.\n"
    )
    publish(report, args.append)
    return 0 if ok == len(lat) else 1


if __name__ == "__main__":
    sys.exit(main())
