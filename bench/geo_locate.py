"""Point → municipality speed: the vectorised in-process index and the single-point HTTP path.

    .venv/bin/python -m bench.geo_locate [--n 1000000] [--requests 2000] [--pg URL]

Targets (issue 2): ≥ 500,000 points/s vectorised; GET /api/v1/geo/locate p50 < 5 ms.
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from bench._common import BOUNDARIES, PG_ADMIN_URL, machine, percentile, serve, throwaway_database
from pushsvc.geo.index import MunicipalityIndex, Place
from pushsvc.geo.n03 import load_boundaries


def vectorised(n: int) -> dict[str, float]:
    boundaries = load_boundaries(BOUNDARIES, prefecture="39")
    t0 = time.perf_counter()
    index = MunicipalityIndex(
        [Place(b.code, b.name, b.prefecture, b.district) for b in boundaries], [b.geom for b in boundaries]
    )
    build = time.perf_counter() - t0
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray([b.geom for b in boundaries], dtype=object))
    rng = np.random.default_rng(20261123)
    lat, lon = rng.uniform(miny, maxy, n), rng.uniform(minx, maxx, n)
    index.locate_many(lat[:1000], lon[:1000])  # warm-up
    t0 = time.perf_counter()
    idx, match, _ = index.locate_many(lat, lon)
    elapsed = time.perf_counter() - t0
    # Cross-check a sample against plain shapely so the speed is not bought with wrong answers.
    geoms = [b.geom for b in boundaries]
    sample = rng.choice(n, 2000, replace=False)
    wrong = 0
    for i in sample:
        if match[i] != 1:
            continue
        truth = [k for k, g in enumerate(geoms) if g.intersects(shapely.Point(lon[i], lat[i]))]
        wrong += truth != [idx[i]]
    return {
        "points": n,
        "seconds": elapsed,
        "per_s": n / elapsed,
        "build_s": build,
        "inside": int((match == 1).sum()),
        "coastal": int((match == 2).sum()),
        "wrong_in_sample": wrong,
    }


def http_path(db_url: str, requests: int) -> dict[str, float]:
    env = {"PUSHSVC_DATABASE_URL": db_url, "PUSHSVC_BOUNDARIES": str(BOUNDARIES)}
    rng = np.random.default_rng(7)
    lats, lons = rng.uniform(33.0, 33.8, requests), rng.uniform(132.6, 134.2, requests)
    # http.client on one keep-alive connection: httpx alone costs ~1 ms a request on these machines,
    # which would be measured as server time.
    with serve(env) as base:
        conn = http.client.HTTPConnection(base.removeprefix("http://"))
        times = []
        for i, (lat, lon) in enumerate(zip(lats, lons, strict=True)):
            t0 = time.perf_counter()
            conn.request("GET", f"/api/v1/geo/locate?lat={lat:.6f}&lon={lon:.6f}")
            r = conn.getresponse()
            r.read()
            if i >= 50:  # the first requests warm caches and the connection pool
                times.append((time.perf_counter() - t0) * 1000)
            assert r.status in (200, 422)
        conn.close()
    return {
        "requests": requests,
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "p99_ms": percentile(times, 99),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument(
        "--pg", default=PG_ADMIN_URL, help="PostgreSQL server (an admin URL; a throwaway database is created on it)"
    )
    args = ap.parse_args()
    print(f"machine: {machine()}")
    v = vectorised(args.n)
    print(
        f"vectorised: {v['points']:,} points in {v['seconds']:.3f} s = {v['per_s']:,.0f} points/s "
        f"(index build {v['build_s']:.2f} s; inside {v['inside']:,}, coastal {v['coastal']:,}; "
        f"{v['wrong_in_sample']} wrong in a 2,000-point shapely cross-check)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        s = http_path(f"sqlite:///{Path(tmp) / 'bench.db'}", args.requests)
    print(
        f"GET /api/v1/geo/locate on SQLite: p50 {s['p50_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms, "
        f"p99 {s['p99_ms']:.2f} ms over {s['requests']} sequential requests"
    )
    try:
        with throwaway_database(args.pg) as db:
            p = http_path(db.url, args.requests)
        print(
            f"GET /api/v1/geo/locate on PostgreSQL: p50 {p['p50_ms']:.2f} ms, p95 {p['p95_ms']:.2f} ms, "
            f"p99 {p['p99_ms']:.2f} ms over {p['requests']} sequential requests"
        )
    except Exception as exc:  # no PostgreSQL here: report, do not fail the SQLite half
        print(f"PostGIS half skipped: {exc}")


if __name__ == "__main__":
    main()
