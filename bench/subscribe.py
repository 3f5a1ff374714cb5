"""Benchmark: POST /api/v1/subscriptions under concurrent load on PostgreSQL (uvicorn, 2 workers).

Creates a throwaway PostGIS database, starts ``pushsvc serve --workers 2`` on it with the Kochi
boundaries and posts unique subscriptions (1–2 places each, at real Kochi points) from an aiohttp
client on the same machine, in two phases:

1. **Open loop at ``--rate``** (the target): sign-ups arrive on schedule, 500 a second, whether or not
   earlier ones have finished, as residents answering a campaign do; reports the rate achieved and the
   latency percentiles. Target: >= 500 requests/s, p95 < 50 ms. The first ``--warmup-seconds`` at the
   rate are not timed: the client opening its connections is a start-up cost, not the steady state
   (measured: 317/s and p95 1.26 s over the first 6 s, 498/s and p95 90 ms after, same run).
2. **Saturation** (``--concurrency`` clients, each posting again as soon as answered): the most the
   server does per second. Its latency is not the target's: with 32 requests always in flight, the
   mean latency is 32 / throughput by Little's law, whatever the server does.

    .venv/bin/python -m bench.subscribe --rate 500 --requests 10000 --append docs/BENCHMARKS.md
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

from bench._common import BOUNDARIES, PG_ADMIN_URL, machine, open_loop, percentile, publish, serve, throwaway_database

# Town halls and landmarks across Kochi: every request resolves a real point to a municipality.
POINTS = [
    (33.5597, 133.5311),
    (33.2453, 134.1770),
    (32.7253, 133.0203),
    (33.5461, 133.6694),
    (33.3917, 132.9269),
    (33.5750, 133.6400),
    (33.4990, 133.2870),
    (32.9870, 132.9330),
    (33.6020, 133.6840),
    (33.5550, 133.9030),
    (33.3840, 133.1530),
    (33.7670, 133.6420),
]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bodies(n: int, rng: random.Random) -> list[bytes]:
    keys = [
        b64url(
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        for _ in range(64)
    ]
    out = []
    for _ in range(n):
        jitter = (rng.uniform(-0.003, 0.003), rng.uniform(-0.003, 0.003))
        places = [
            {"label": f"place {i}", "lat": lat + jitter[0], "lon": lon + jitter[1]}
            for i, (lat, lon) in enumerate(rng.sample(POINTS, rng.choice((1, 2))))
        ]
        out.append(
            json.dumps(
                {
                    "endpoint": f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}",
                    "keys": {"p256dh": rng.choice(keys), "auth": b64url(rng.randbytes(16))},
                    "places": places,
                    "lang": rng.choice(("ja", "en")),
                }
            ).encode()
        )
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


async def at_rate(url: str, payloads: list[bytes], rate: float) -> tuple[list[float], dict[int, int], float]:
    async def one(http: aiohttp.ClientSession, i: int) -> int:
        async with http.post(url, data=payloads[i], headers={"Content-Type": "application/json"}) as r:
            await r.read()
        return r.status

    run = await open_loop(rate, len(payloads), one)
    return run.latencies, run.statuses, run.elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--pg", default=PG_ADMIN_URL, help="PostgreSQL server (an admin URL; a throwaway database is created on it)"
    )
    ap.add_argument("--rate", type=float, default=500.0, help="open-loop arrivals per second (the target's)")
    ap.add_argument("--requests", type=int, default=10000, help="sign-ups in the open-loop phase")
    ap.add_argument("--saturation", type=int, default=6000, help="sign-ups in the closed-loop phase (0: skip)")
    ap.add_argument("--warmup", type=int, default=300, help="closed-loop sign-ups before anything is timed")
    ap.add_argument(
        "--warmup-seconds",
        type=float,
        default=5.0,
        help="open-loop seconds at --rate before the timed phase (connections opened, caches warm)",
    )
    ap.add_argument("--concurrency", type=int, default=32, help="clients in the closed-loop phase")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--append", type=Path, help="append a results section to this Markdown file")
    args = ap.parse_args()

    rng = random.Random(42)
    ramp = int(args.rate * args.warmup_seconds)
    payloads = bodies(args.warmup + ramp + args.requests + args.saturation, rng)
    warm, payloads = payloads[: args.warmup], payloads[args.warmup :]
    ramp_up, payloads = payloads[:ramp], payloads[ramp:]
    timed, saturate = payloads[: args.requests], payloads[args.requests :]
    with throwaway_database(args.pg) as db:
        pg_version = db.server_version
        env = {
            "PUSHSVC_DATABASE_URL": db.url,
            "PUSHSVC_BOUNDARIES": str(BOUNDARIES),
            "PUSHSVC_VAPID_KEY_FILE": str(db.tmp / "vapid.pem"),
        }
        with serve(env, workers=args.workers) as base:
            url = base + "/api/v1/subscriptions"
            asyncio.run(load(url, warm, args.concurrency))
            asyncio.run(at_rate(url, ramp_up, args.rate))
            lat, statuses, elapsed = asyncio.run(at_rate(url, timed, args.rate))
            sat = asyncio.run(load(url, saturate, args.concurrency)) if saturate else None

    rps = len(lat) / elapsed
    p50, p95, p99 = (percentile(lat, p) * 1000 for p in (50, 95, 99))
    ok = statuses.get(201, 0)
    verdict = "meets" if rps >= 0.98 * 500 and args.rate >= 500 and p95 < 50 and ok == len(lat) else "misses"
    saturation = ""
    if sat is not None:
        s_lat, s_statuses, s_elapsed = sat
        saturation = (
            f"- Saturation ({args.concurrency} clients posting back to back, {len(s_lat)} sign-ups): "
            f"**{len(s_lat) / s_elapsed:.0f} requests/s**, p50 {percentile(s_lat, 50) * 1000:.1f} ms, "
            f"p95 {percentile(s_lat, 95) * 1000:.1f} ms; statuses {dict(sorted(s_statuses.items()))}.\n"
        )
        ok += s_statuses.get(201, 0) - len(s_lat)
    report = (
        f"\n## Subscribe: POST /api/v1/subscriptions (`bench/subscribe.py`, issue 3), {datetime.now(UTC):%Y-%m-%d}\n\n"
        f"- Setup: PostgreSQL {pg_version} + PostGIS, `pushsvc serve --workers {args.workers}` (uvicorn), "
        f"aiohttp client on the same machine; unique subscriptions with 1–2 places each "
        f"(after {args.warmup} warm-up requests and {args.warmup_seconds:.0f} s at the rate, untimed).\n"
        f"- Machine: {machine()}.\n"
        f"- Open loop, {args.rate:.0f} sign-ups/s offered, {len(lat)} sign-ups: **{rps:.0f} requests/s** achieved, "
        f"latency p50 {p50:.1f} ms, **p95 {p95:.1f} ms**, p99 {p99:.1f} ms, mean {statistics.mean(lat) * 1000:.1f} ms; "
        f"statuses {dict(sorted(statuses.items()))}.\n"
        f"{saturation}"
        f"- Target (>= 500 requests/s, p95 < 50 ms): {verdict} it.\n"
    )
    publish(report, args.append)
    return 0 if ok == len(lat) else 1


if __name__ == "__main__":
    sys.exit(main())
