"""緊急地震速報 behind a backlog: telegram arrival at the push-in endpoint → first and last push, on PostgreSQL.

    .venv/bin/python -m bench.eew [--n 100000] [--backlog 100000] [--workers 2] [--append docs/BENCHMARKS.md]

Two local push services in count mode (each parses every request, counts it and answers 201): one holds the
``--backlog`` residents of 高知県西部 who get an ordinary notification (``info``, area_info) first, the other
the ``--n`` residents of 高知県中部 (14 municipalities) warned by the Kochi 緊急地震速報 built from JMA's real
2024-01-16 VXSE43. Once the backlog is being delivered, the telegram is POSTed to
``/api/v1/feeds/jma/telegrams`` with a relay's token; the second push service's first and last receipts give
arrival → first push (target < 0.5 s) and arrival → every recipient. The issue asks that the warning not
wait behind the backlog: without priority lanes it does, and this bench shows by how much.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text

from bench._common import BOUNDARIES, SHARED, machine, publish, serve, throwaway_database
from bench.fanout import DRILL, insert_residents
from pushsvc.db import make_engine, make_sessionmaker, session_scope
from pushsvc.dev.devpush.keys import SubscriberKeys
from pushsvc.dev.devpush.runner import spawn_devpush
from pushsvc.feeds import pushin
from pushsvc.geo import service as geo_service
from pushsvc.geo.n03 import load_boundaries
from pushsvc.migrate import upgrade

ADMIN = secrets.token_urlsafe(32)
SUBJECT = "mailto:bousai@pref.kochi.lg.jp"
CHUBU = [
    "39201",
    "39204",
    "39205",
    "39206",
    "39211",
    "39212",
    "39341",
    "39344",
    "39363",
    "39364",
    "39386",
    "39387",
    "39402",
    "39403",
]
SEIBU = ["39208", "39209", "39210", "39401", "39405", "39411", "39412", "39424", "39427", "39428"]
EEW_SAMPLE = SHARED / "samples" / "jma" / "quake" / "20240116184225_02245216_VXSE43.xml"


def kochi_eew() -> bytes:
    """The real VXSE43 moved to 高知県中部 (631), with a fresh EventID so every run is a new earthquake."""
    xml = EEW_SAMPLE.read_text(encoding="utf-8")
    xml = xml.replace("<Code>390</Code>", "<Code>631</Code>").replace("石川県能登", "高知県中部")
    xml = xml.replace("<Code>391</Code>", "<Code>999</Code>").replace("能登半島沖", "土佐湾")
    return xml.replace("20240116184216", datetime.now(UTC).strftime("%Y%m%d%H%M%S")).encode("utf-8")


def populate(url: str, bases: dict[str, tuple[str, list[str], int]]) -> tuple[float, str]:
    """Residents per group (endpoint base, municipalities, count), one registered place each; a push token."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        geo_service.import_boundaries(s, load_boundaries(BOUNDARIES, prefecture="39"), source=str(BOUNDARIES))
        _, token = pushin.create_source(s, "bench-relay", now=datetime.now(UTC))
    pool = [SubscriberKeys.generate() for _ in range(16)]
    t0 = time.perf_counter()
    next_id = 1
    with engine.begin() as conn:
        for name, (base, munis, n) in bases.items():
            for start in range(0, n, 5000):
                insert_residents(
                    conn,
                    range(next_id + start, next_id + min(n, start + 5000)),
                    codes=munis,
                    pool=pool,
                    test_device=name == "warmup",
                    endpoint=lambda i, base=base, name=name: f"{base}/push/{name}{i}",
                )
            next_id += n
        conn.execute(text("SELECT setval(pg_get_serial_sequence('subscriptions', 'id'), :n)"), {"n": next_id})
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - t0, token


def wait_for(stats_url: str, count: int, timeout: float) -> dict:  # type: ignore[type-arg]
    deadline = time.time() + timeout
    stats: dict = {}  # type: ignore[type-arg]
    while time.time() < deadline:
        stats = httpx.get(stats_url).json()
        if stats["counters"].get("accepted", 0) >= count:
            break
        time.sleep(0.02)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--append", type=Path, default=None, help="add the Markdown section to this file")
    args = ap.parse_args()
    with (
        throwaway_database(args.pg) as db,
        tempfile.TemporaryDirectory() as tmp,
        spawn_devpush("count") as ordinary_base,
        spawn_devpush("count") as eew_base,
    ):
        took, token = populate(
            db.url,
            {
                "warmup": (eew_base, ["39201"], 1),
                "ordinary": (ordinary_base, SEIBU, args.backlog),
                "eew": (eew_base, CHUBU, args.n),
            },
        )
        print(f"{args.backlog:,} residents in 高知県西部 and {args.n:,} in 高知県中部 inserted in {took:.1f} s")
        env = {
            "PUSHSVC_DATABASE_URL": db.url,
            "PUSHSVC_VAPID_KEY_FILE": str(Path(tmp) / "vapid.pem"),
            "PUSHSVC_VAPID_SUBJECT": SUBJECT,
            "PUSHSVC_PUSH_ALLOWED_HOSTS": "127.0.0.1",
            "PUSHSVC_ADMIN_TOKEN": ADMIN,
            "PUSHSVC_LOG_LEVEL": "WARNING",
            "PUSHSVC_JMA_CODES_DIR": str(SHARED / "samples" / "jma" / "codes"),
        }
        procs: list[subprocess.Popen[bytes]] = []
        try:
            with serve(env) as api:
                procs += [
                    subprocess.Popen([sys.executable, "-m", "pushsvc.cli", "worker"], env={**os.environ, **env})
                    for _ in range(args.workers)
                ]
                auth = {"Authorization": f"Bearer {ADMIN}"}
                assert httpx.post(f"{api}/api/v1/notifications", headers=auth, json=DRILL).status_code == 202
                wait_for(f"{eew_base}/control/stats", 1, 60)
                httpx.post(f"{eew_base}/control/reset")
                ordinary = {
                    "title": {"ja": "お知らせ"},
                    "body": {"ja": "県からのお知らせです"},
                    "category": "area_info",
                    "severity": "info",
                    "target": {"municipality_codes": SEIBU},
                }
                r = httpx.post(f"{api}/api/v1/notifications", headers=auth, json=ordinary, timeout=300)
                assert r.status_code == 202, r.text
                wait_for(f"{ordinary_base}/control/stats", 1, 120)  # the backlog is being delivered
                telegram = kochi_eew()
                t0 = time.time()
                r = httpx.post(
                    f"{api}/api/v1/feeds/jma/telegrams",
                    content=telegram,
                    timeout=300,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
                )
                accepted = time.time()
                assert r.status_code == 202, r.text
                eew = wait_for(f"{eew_base}/control/stats", args.n + 1, args.timeout)  # + the drill device
                backlog = httpx.get(f"{ordinary_base}/control/stats").json()
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
    got = eew["counters"].get("accepted", 0)
    first, last = eew["first_at"] - t0, eew["last_at"] - t0
    backlog_left = backlog["last_at"] - t0
    report = (
        f"\n### 緊急地震速報 behind a backlog (bench/eew.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"Machine: {machine()}; PostgreSQL {db.server_version}; shared with other engineers' jobs (noisy).\n"
        f"{args.workers} workers, local push services in count mode; {args.backlog:,}-message ordinary "
        f"notification already sending; EEW for {args.n:,} residents of 高知県中部.\n\n"
        f"| measure | value |\n|---|---|\n"
        f"| telegram POST → 202 (parse, ingest, {args.n:,} recipients enqueued) | {accepted - t0:.2f} s |\n"
        f"| telegram arrival → first EEW push received (target < 0.5 s) | {first:.2f} s |\n"
        f"| telegram arrival → last of {got:,} EEW pushes (incl. the drill device) | {last:.2f} s |\n"
        f"| telegram arrival → last backlog push | {backlog_left:.2f} s |\n"
        f"| EEW first push ÷ backlog's remaining time | {first / max(backlog_left, 1e-9):.2f} |\n"
    )
    publish(report, args.append)


if __name__ == "__main__":
    main()
