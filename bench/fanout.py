"""End-to-end fan-out: one notification to N subscribers in one municipality, on PostgreSQL.

    .venv/bin/python -m bench.fanout [--n 10000] [--workers 2] [--pg postgresql+psycopg://…/postgres]

Starts the local push service (count mode: it parses each HTTP/1.1 request, counts it per endpoint and
answers 201, without checking VAPID or decrypting; the tests do those for every message), the API and W `pushsvc worker`
processes; posts one notification and reports messages/s and the time from the API call to the first
and last receipt, and in the same run the bare single-core encryption rate (the ceiling per core).
Targets (issue 4): ≥ 3,000 messages/s end to end (100,000 in under 35 s); first message < 1 s.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection, make_url

from bench._common import BOUNDARIES, machine, serve, throwaway_database
from pushsvc.db import make_engine, make_sessionmaker, session_scope
from pushsvc.dev.devpush.keys import SubscriberKeys
from pushsvc.dev.devpush.runner import spawn_devpush
from pushsvc.geo import service as geo_service
from pushsvc.geo.n03 import load_boundaries
from pushsvc.migrate import upgrade
from pushsvc.subscriptions.models import Subscription, SubscriptionPlace
from pushsvc.subscriptions.service import category_mask

try:
    from pushsvc.types import CATEGORIES
except ImportError:  # an older checkout compared by bench/delivery.py --before
    from pushsvc.subscriptions.schemas import CATEGORIES  # type: ignore[attr-defined,no-redef]
from pushsvc.webpush import ece
from pushsvc.webpush.payload import build_payload

ADMIN = secrets.token_urlsafe(32)
SUBJECT = "mailto:bousai@pref.kochi.lg.jp"
# A test-device drill (only test devices get it): proves the workers are up and connected before a run.
DRILL = {
    "title": {"ja": "訓練"},
    "category": "evacuation",
    "severity": "warning",
    "test": True,
    "target": {"municipality_codes": ["39201"]},
}


def encode_rate(encrypt: Callable[[bytes, str, str], bytes], seconds: float = 3.0) -> float:
    """Messages/s one core encrypts (fresh ephemeral ECDH key and salt per message, as RFC 8291 asks)."""
    keys = SubscriberKeys.generate()
    payload = build_payload(
        id="1",
        title="避難指示",
        body="高知市に避難指示" * 10,
        category="evacuation",
        severity="emergency",
        url="https://example.invalid/alerts/1",
        lang="ja",
    )
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        encrypt(payload, keys.p256dh, keys.auth)
        n += 1
    return n / (time.perf_counter() - start)


RUN_MARKER = f"PUSHSVC_BENCH_RUN={uuid.uuid4().hex}".encode()


def cpu_by_role(database: str) -> dict[str, float]:
    """CPU seconds used so far by this run's processes, by role (from /proc), to see what bounds us.

    Our Python processes carry RUN_MARKER in their environment; PostgreSQL backends show the run's
    database name in their title. Other processes on the machine are not counted.
    """
    tick = os.sysconf("SC_CLK_TCK")
    roles = {"worker": b"pushsvc.cli worker", "push service": b"pushsvc.cli devpush", "api": b"pushsvc.cli serve"}
    out = dict.fromkeys([*roles, "postgres"], 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ours = cmd.startswith(b"postgres:") and database.encode() in cmd
            role = "postgres" if ours else next((r for r, needle in roles.items() if needle in cmd), None)
            if role and not ours:
                ours = RUN_MARKER in Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if ours and role:
            out[role] += (int(fields[11]) + int(fields[12])) / tick
    return out


def insert_residents(
    conn: Connection,
    ids: range,
    *,
    endpoint: Callable[[int], str],
    codes: Sequence[str],
    pool: Sequence[SubscriberKeys],
    test_device: bool = False,
    label: str = "自宅",
) -> None:
    """Subscribers ``ids`` straight into the tables (sign-up over HTTP is bench/subscribe.py's job), each with
    one registered place, the municipality taken round-robin from ``codes``, keys from ``pool``."""
    mask = category_mask(CATEGORIES)
    conn.execute(
        insert(Subscription),
        [
            {
                "id": i,
                "endpoint": endpoint(i),
                "p256dh": pool[i % len(pool)].p256dh,
                "auth": pool[i % len(pool)].auth,
                "token_hash": secrets.token_hex(32),
                "lang": "ja",
                "categories_mask": mask,
                "follow_current_location": False,
                "test_device": test_device,
            }
            for i in ids
        ],
    )
    conn.execute(
        insert(SubscriptionPlace),
        [
            {
                "subscription_id": i,
                "kind": "registered",
                "position": 0,
                "label": label,
                "municipality_code": codes[i % len(codes)],
                "match": "code",
            }
            for i in ids
        ],
    )


def populate(url: str, push_base: str, n: int, groups: Sequence[tuple[str, str, int]] | None = None) -> float:
    """``n`` subscribers in 高知市 (endpoints ``b1``…), or ``groups`` of (municipality code, endpoint prefix,
    count), plus one test device for the warm-up drill; returns the seconds it took."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        geo_service.import_boundaries(s, load_boundaries(BOUNDARIES, prefecture="39"), source=str(BOUNDARIES))
    pool = [SubscriberKeys.generate() for _ in range(16)]  # every message is still encrypted on its own
    t0 = time.perf_counter()
    chunk = 5000
    first = 1
    with engine.begin() as conn:
        for code, prefix, count in groups or [("39201", "b", n)]:
            for start in range(first, first + count, chunk):
                insert_residents(
                    conn,
                    range(start, min(first + count, start + chunk)),
                    codes=[code],
                    pool=pool,
                    endpoint=lambda i, prefix=prefix: f"{push_base}/push/{prefix}{i}",
                )
            first += count
        # One test device: the warm-up drill goes only to it, proving the workers are up and connected.
        insert_residents(
            conn,
            range(first, first + 1),
            codes=["39201"],
            pool=pool[:1],
            test_device=True,
            label="庁舎",
            endpoint=lambda _: f"{push_base}/push/warmup",
        )
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('subscriptions', 'id'), :n)"), {"n": first})
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"bare pywebpush WebPusher.encode (aes128gcm), one core: {encode_rate(ece.pywebpush_encrypt):,.0f} msg/s")
    print(f"our ece.encrypt (the hot path), one core: {encode_rate(ece.encrypt):,.0f} msg/s")

    with throwaway_database(args.pg) as db:
        run(db.url, args)


def run(url: str, args: argparse.Namespace) -> None:
    database = make_url(url).database or ""
    key, value = RUN_MARKER.decode().split("=", 1)
    os.environ[key] = value  # inherited by the push service, the API and the workers
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, spawn_devpush("count") as push_base:
            took = populate(url, push_base, args.n)
            print(f"{args.n:,} subscribers in 高知市 inserted in {took:.1f} s")
            print(
                "push service: count mode (counts each request per endpoint and answers 201; "
                "does not check VAPID or decrypt)"
            )
            env = {
                "PUSHSVC_DATABASE_URL": url,
                "PUSHSVC_VAPID_KEY_FILE": str(Path(tmp) / "vapid.pem"),
                "PUSHSVC_VAPID_SUBJECT": SUBJECT,
                "PUSHSVC_PUSH_ALLOWED_HOSTS": "127.0.0.1",
                "PUSHSVC_ADMIN_TOKEN": ADMIN,
                "PUSHSVC_LOG_LEVEL": "WARNING",
            }
            with serve(env) as api:
                for _ in range(args.workers):
                    procs.append(
                        subprocess.Popen([sys.executable, "-m", "pushsvc.cli", "worker"], env={**os.environ, **env})
                    )
                stats_url = f"{push_base}/control/stats"
                auth = {"Authorization": f"Bearer {ADMIN}"}
                assert httpx.post(f"{api}/api/v1/notifications", headers=auth, json=DRILL).status_code == 202
                while httpx.get(stats_url).json()["counters"].get("accepted", 0) < 1:
                    time.sleep(0.1)
                httpx.post(f"{push_base}/control/reset")
                cpu_before = cpu_by_role(database)
                t0 = time.time()
                r = httpx.post(
                    f"{api}/api/v1/notifications",
                    headers=auth,
                    json={
                        "title": {"ja": "避難指示"},
                        "body": {"ja": "高知市全域に避難指示"},
                        "category": "evacuation",
                        "severity": "emergency",
                        "target": {"municipality_codes": ["39201"]},
                    },
                    timeout=120,
                )
                accepted = time.time()
                assert r.status_code == 202, r.text
                nid = r.json()["id"]
                stats: dict = {}
                while time.time() - t0 < args.timeout:
                    stats = httpx.get(stats_url).json()
                    if stats["counters"].get("accepted", 0) >= args.n:
                        break
                    time.sleep(0.1)
                cpu_after = cpu_by_role(database)
                status = httpx.get(f"{api}/api/v1/notifications/{nid}", headers=auth).json()
        got = stats["counters"].get("accepted", 0)
        first, last = stats["first_at"] - t0, stats["last_at"] - t0
        print(f"API call accepted in {accepted - t0:.2f} s (targeted {status['targeted']:,})")
        print(f"first receipt {first:.2f} s after the call ({stats['first_at'] - accepted:.2f} s after acceptance)")
        print(f"last receipt {last:.2f} s after the call: {got:,} messages, {stats['duplicates']} duplicates")
        print(
            f"end to end: {got / last:,.0f} messages/s; sending phase: {got / max(1e-9, last - first):,.0f}/s "
            f"with {args.workers} workers"
        )
        used = {role: cpu_after[role] - cpu_before[role] for role in cpu_after}
        per = ", ".join(f"{role} {secs / max(got, 1) * 1e6:,.0f} µs" for role, secs in used.items())
        total = sum(used.values()) / max(got, 1) * 1e6
        print(f"CPU per message: {per}; total {total:,.0f} µs (2 cores give 2,000,000 µs/s)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)


if __name__ == "__main__":
    main()
