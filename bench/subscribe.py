"""Benchmark: POST /api/v1/subscriptions under concurrent load on PostgreSQL (uvicorn, 2 workers).

Creates a throwaway PostGIS database, starts ``pushsvc serve --workers 2`` on it with the Kochi
boundaries, posts unique subscriptions (1–2 places each, at real Kochi points) from an aiohttp
client, and prints throughput and latency percentiles. ``--append docs/BENCHMARKS.md`` adds the
result with a description of the machine. Target: >= 500 requests/s, p95 < 50 ms.

    .venv/bin/python -m bench.subscribe --requests 6000 --concurrency 32 --append docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench._common import BOUNDARIES, PG_ADMIN_URL, machine, percentile, serve, throwaway_database

# Town halls and landmarks across Kochi: every request resolves a real point to a municipality.
POINTS = [(33.5597, 133.5311), (33.2453, 134.1770), (32.7253, 133.0203), (33.5461, 133.6694),
          (33.3917, 132.9269), (33.5750, 133.6400), (33.4990, 133.2870), (32.9870, 132.9330),
          (33.6020, 133.6840), (33.5550, 133.9030), (33.3840, 133.1530), (33.7670, 133.6420)]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bodies(n: int, rng: random.Random) -> list[bytes]:
    keys = [b64url(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)) for _ in range(64)]
    out = []
    for _ in range(n):
        jitter = (rng.uniform(-0.003, 0.003), rng.uniform(-0.003, 0.003))
        places = [{"label": f"place {i}", "lat": lat + jitter[0], "lon": lon + jitter[1]}
                  for i, (lat, lon) in enumerate(rng.sample(POINTS, rng.choice((1, 2))))]
        out.append(json.dumps({
            "endpoint": f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}",
            "keys": {"p256dh": rng.choice(keys), "auth": b64url(rng.randbytes(16))},
            "places": places, "lang": rng.choice(("ja", "en")),
        }).encode())
    return out


async def load(url: str, payloads: list[bytes], concurrency: int) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(payloads)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as http:
        async def worker() -> None:
            for body in queue:
                t0 = time.perf_counter()
                async with http.post(url, data=body) as r:
                    await r.read()
                latencies.append(time.perf_counter() - t0)
                statuses[r.status] = statuses.get(r.status, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, statuses, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=PG_ADMIN_URL,
                    help="PostgreSQL server (an admin URL; a throwaway database is created on it)")
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--append", type=Path, help="append a results section to this Markdown file")
    args = ap.parse_args()

    rng = random.Random(42)
    payloads = bodies(args.warmup + args.requests, rng)
    with throwaway_database(args.pg) as db:
        pg_version = db.server_version
        env = {"PUSHSVC_DATABASE_URL": db.url, "PUSHSVC_BOUNDARIES": str(BOUNDARIES),
               "PUSHSVC_VAPID_KEY_FILE": str(db.tmp / "vapid.pem")}
        with serve(env, workers=args.workers) as base:
            url = base + "/api/v1/subscriptions"
            asyncio.run(load(url, payloads[:args.warmup], args.concurrency))
            lat, statuses, elapsed = asyncio.run(load(url, payloads[args.warmup:], args.concurrency))

    rps = len(lat) / elapsed
    p50, p95, p99 = (percentile(lat, p) * 1000 for p in (50, 95, 99))
    ok = statuses.get(201, 0)
    verdict = "meets" if rps >= 500 and p95 < 50 and ok == len(lat) else "misses"
    report = (
        f"\n## Subscribe: POST /api/v1/subscriptions (`bench/subscribe.py`, issue 3), {datetime.now(UTC):%Y-%m-%d}\n\n"
        f"- Setup: PostgreSQL {pg_version} + PostGIS, `pushsvc serve --workers {args.workers}` (uvicorn), "
        f"aiohttp client with {args.concurrency} connections on the same machine; {args.requests} unique "
        f"subscriptions with 1–2 places each (after {args.warmup} warm-up requests).\n"
        f"- Machine: {machine()}.\n"
        f"- Result: **{rps:.0f} requests/s**, latency p50 {p50:.1f} ms, **p95 {p95:.1f} ms**, p99 {p99:.1f} ms, "
        f"mean {statistics.mean(lat) * 1000:.1f} ms; statuses {dict(sorted(statuses.items()))}.\n"
        f"- Target (>= 500 requests/s, p95 < 50 ms): {verdict} it.\n"
    )
    print(report)
    if args.append:
        if not args.append.exists():
            args.append.parent.mkdir(parents=True, exist_ok=True)
            args.append.write_text("# Benchmarks\n\nEach section is added by the benchmark that measured it.\n")
        with args.append.open("a", encoding="utf-8") as fh:
            fh.write(report)
    return 0 if ok == len(lat) else 1


if __name__ == "__main__":
    sys.exit(main())
