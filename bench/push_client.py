"""Which HTTP client should carry Web Push? aiohttp vs httpx.AsyncClient on the real send path.

The local push service runs in its own process in count mode (accepts, counts, nothing else), so
what is measured here is our side: encryption + VAPID + the client, on one event loop, as in a
worker. Per client (and event loop): the raw POST rate (pre-encrypted body, so only the client
differs), the full ``PushSender.send`` rate, and client-process CPU per message. The bare
single-core encryption rates (pywebpush's ``WebPusher.encode`` and our ``ece.encrypt``) are the
ceiling one worker process could reach.

    .venv/bin/python bench/push_client.py [--n 2000] [--concurrency 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
import uvloop

from bench._common import machine
from pushsvc.dev.devpush import SubscriberKeys
from pushsvc.dev.devpush.runner import spawn_devpush
from pushsvc.webpush import ece
from pushsvc.webpush.payload import build_payload
from pushsvc.webpush.sender import Outcome, PushSender, PushTarget, encrypt
from pushsvc.webpush.transport import ClientName, Limits, make_transport
from pushsvc.webpush.vapid import VapidIdentity

RUNS: tuple[tuple[ClientName, str], ...] = (("aiohttp", "asyncio"), ("aiohttp", "uvloop"), ("httpx", "asyncio"))
SUBJECT = "mailto:bousai@pref.kochi.lg.jp"
PAYLOAD = build_payload(
    id="bench-1",
    title="【避難指示】高知市",
    body="高知市に避難指示を発令しました。直ちに避難してください。" * 4,
    category="evacuation",
    severity="emergency",
    url="https://bousai.example.jp/alerts/bench-1",
    lang="ja",
)


def encode_rate(encrypt: Callable[[bytes, str, str], bytes], n: int) -> float:
    """Messages/s that one core can encrypt (ephemeral ECDH + HKDF + AES-GCM per message)."""
    keys = SubscriberKeys.generate()
    start = time.perf_counter()
    for _ in range(n):
        encrypt(PAYLOAD, keys.p256dh, keys.auth)
    return n / (time.perf_counter() - start)


async def run_pool(n: int, concurrency: int, one: Callable[[int], Awaitable[bool]]) -> tuple[float, float, int]:
    """(messages/s, client CPU µs per message, failures) for n calls, ``concurrency`` at a time."""
    failures = 0
    next_i = iter(range(n))

    async def worker() -> None:
        nonlocal failures
        for i in next_i:
            if not await one(i):
                failures += 1

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, cpu / n * 1e6, failures


async def bench_client(
    client: ClientName, url: str, identity: VapidIdentity, n: int, concurrency: int
) -> dict[str, tuple[float, float, int]]:
    limits = Limits(timeout_s=30, per_origin=concurrency, total=concurrency)
    subscribers = [SubscriberKeys.generate() for _ in range(64)]
    targets = [PushTarget(f"{url}/push/s{i}", k.p256dh, k.auth) for i, k in enumerate(subscribers)]
    results: dict[str, tuple[float, float, int]] = {}

    transport = make_transport(client, limits)
    body = encrypt(targets[0], PAYLOAD)
    headers = {"TTL": "60", "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream"}

    async def raw(i: int) -> bool:
        return (await transport.post(targets[i % len(targets)].endpoint, headers, body)).status == 201

    await run_pool(min(n, 200), concurrency, raw)  # warm the pool
    results["raw POST"] = await run_pool(n, concurrency, raw)
    await transport.aclose()

    async with PushSender(identity, SUBJECT, allowed_hosts=["127.0.0.1"], limits=limits, client=client) as sender:

        async def full(i: int) -> bool:
            result = await sender.send(targets[i % len(targets)], PAYLOAD, ttl=600, urgency="high", topic="bench")
            return result.outcome is Outcome.SENT

        await run_pool(min(n, 200), concurrency, full)
        results["full send"] = await run_pool(n, concurrency, full)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per measurement (max 100000)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="repeat and report the median (max 10)")
    args = parser.parse_args()
    n, rounds = min(args.n, 100_000), max(1, min(args.rounds, 10))

    print(machine())
    for name, fn in [("pywebpush WebPusher.encode", ece.pywebpush_encrypt), ("pushsvc ece.encrypt", ece.encrypt)]:
        rate = statistics.median(encode_rate(fn, min(n, 3000)) for _ in range(rounds))
        print(f"bare {name} (1 core): {rate:,.0f} msg/s ({1e6 / rate:.0f} µs each)")
    identity = VapidIdentity.generate()
    table: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    with spawn_devpush(mode="count") as url:
        for _ in range(rounds):
            for client, loop in RUNS:  # interleaved so background load hits all alike
                factory = uvloop.new_event_loop if loop == "uvloop" else None
                with asyncio.Runner(loop_factory=factory) as runner:
                    measured = runner.run(bench_client(client, url, identity, n, args.concurrency))
                for kind, value in measured.items():
                    table.setdefault((f"{client} ({loop})", kind), []).append(value)
        accepted = httpx.get(f"{url}/control/stats").json()["counters"].get("accepted", 0)
    print(
        f"\nn={n} per run, concurrency {args.concurrency}, {rounds} rounds (median), push service accepted "
        f"{accepted} in total"
    )
    print("| client | path | msg/s | client CPU µs/msg | failures |")
    print("|---|---|---:|---:|---:|")
    for (client, kind), values in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rate = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"| {client} | {kind} | {rate:,.0f} | {cpu:,.0f} | {sum(v[2] for v in values)} |")


if __name__ == "__main__":
    main()
