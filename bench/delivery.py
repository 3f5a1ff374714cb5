"""Delivery under pressure, before and after in one run, on PostgreSQL with 2 workers (issue 13).

    .venv/bin/python -m bench.delivery --before /path/to/old/checkout [--scenarios latency,lanes,kill]
        [--n 10000] [--backlog 100000] [--emergency 10000] [--kill-n 20000] [--repeat 5]
        [--append docs/BENCHMARKS.md]

For each scenario the old checkout's code ("before") and this one's ("after") run back to back, each in
a fresh throwaway database, with the same local push service (this checkout's, in count mode: it
counts each request per endpoint and answers 201) and the same bench code (copied into the old
checkout's bench/); only ``pushsvc`` differs. Scenarios:

- latency: one notification to ``--n`` residents with the push service answering after 0, 30 and 100 ms
  (FCM, Mozilla and Apple answer in tens of ms): messages/s and worker CPU per message;
- lanes: ``--backlog`` ordinary messages queued and being sent, then an emergency to ``--emergency``
  residents of another town: its first and last receipt against the backlog's last;
- kill: a ``--kill-n`` fan-out undisturbed, then again with one of the 2 workers SIGKILLed a fifth of the
  way through: residents never reached, duplicates, last receipt against the undisturbed run;
- instructions: one ``pushsvc worker --until-idle`` under valgrind's callgrind, once for a fan-out of
  ``--instr-small`` residents and once for ``--instr-large``: the difference in instructions over the
  difference in messages is the worker's instructions per message, start-up cancelled out. Unlike CPU
  seconds it does not move with what else the shared machine runs (the same count twice in a row), so it
  settles what "worker CPU per message" drifts on; it leaves out the kernel's share (system calls).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from bench._common import ROOT, machine, publish, serve, throwaway_database
from bench.fanout import ADMIN, DRILL, RUN_MARKER, SUBJECT, cpu_by_role, populate
from pushsvc.dev.devpush.runner import spawn_devpush

RESULT = "RESULT "
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@contextmanager
def stack(url: str, groups: list[tuple[str, str, int]], workers: int = 2) -> Iterator[dict[str, Any]]:
    """Push service (today's), API and workers (the checkout's) on a populated database."""
    key, value = RUN_MARKER.decode().split("=", 1)
    os.environ[key] = value
    devpush_env = {**os.environ, "PYTHONPATH": os.environ.get("PUSHSVC_BENCH_DEVPUSH_ROOT", str(ROOT))}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp, spawn_devpush("count", env=devpush_env) as push:
        took = populate(url, push, 0, groups)
        env = {
            "PUSHSVC_DATABASE_URL": url,
            "PUSHSVC_VAPID_KEY_FILE": str(Path(tmp) / "vapid.pem"),
            "PUSHSVC_VAPID_SUBJECT": SUBJECT,
            "PUSHSVC_PUSH_ALLOWED_HOSTS": "127.0.0.1",
            "PUSHSVC_ADMIN_TOKEN": ADMIN,
            "PUSHSVC_LOG_LEVEL": "ERROR",
        }
        try:
            with serve(env) as api:
                for _ in range(workers):
                    procs.append(
                        subprocess.Popen([sys.executable, "-m", "pushsvc.cli", "worker"], env={**os.environ, **env})
                    )
                if workers:  # a drill to the test device: the workers are up and connected
                    assert httpx.post(f"{api}/api/v1/notifications", headers=AUTH, json=DRILL).status_code == 202
                    until(lambda: stats(push)["counters"].get("accepted", 0) >= 1, 60)
                    httpx.post(f"{push}/control/reset")
                yield {
                    "api": api,
                    "push": push,
                    "procs": procs,
                    "populate_s": took,
                    "database": make_url(url).database or "",
                    "env": env,
                }
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                p.wait(10)


def stats(push: str) -> dict[str, Any]:
    return dict(httpx.get(f"{push}/control/stats", timeout=30).json())


def until(predicate: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def notify(api: str, code: str, severity: str, category: str, title: str) -> float:
    """Post a notification; returns when the call was made (``LAST_ACCEPTED[0]``: when it was answered)."""
    t0 = time.time()
    r = httpx.post(
        f"{api}/api/v1/notifications",
        headers=AUTH,
        timeout=300,
        json={
            "title": {"ja": title},
            "body": {"ja": title},
            "category": category,
            "severity": severity,
            "target": {"municipality_codes": [code]},
        },
    )
    assert r.status_code == 202, r.text
    LAST_ACCEPTED[0] = time.time()
    return t0


LAST_ACCEPTED = [0.0]


def scenario_latency(url: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with stack(url, [("39201", "b", args.n)]) as s:
        # 0 ms first opens the connections (cold); the last run at 0 ms, on kept-alive connections, is the
        # steady state that "0" reports.
        for key, ms in (("0", 0), ("30", 30), ("100", 100), ("0 warm", 0)):
            httpx.put(f"{s['push']}/control/latency", json={"ms": ms})
            httpx.post(f"{s['push']}/control/reset")
            cpu0 = cpu_by_role(s["database"])
            t0 = notify(s["api"], "39201", "emergency", "evacuation", "避難指示")
            until(lambda: stats(s["push"])["counters"].get("accepted", 0) >= args.n, args.timeout, 0.1)
            cpu1 = cpu_by_role(s["database"])
            st = stats(s["push"])
            got = st["counters"].get("accepted", 0)
            out[key] = {
                "got": got,
                "first_s": st["first_at"] - t0,
                "last_s": st["last_at"] - t0,
                "rate": got / max(1e-9, st["last_at"] - st["first_at"]),
                "worker_cpu_us": (cpu1["worker"] - cpu0["worker"]) / max(got, 1) * 1e6,
                "postgres_cpu_us": (cpu1["postgres"] - cpu0["postgres"]) / max(got, 1) * 1e6,
                "total_cpu_us": sum(cpu1[r] - cpu0[r] for r in cpu1) / max(got, 1) * 1e6,
            }
    out["0 cold"], out["0"] = out["0"], out.pop("0 warm")
    return out


def scenario_lanes(url: str, args: argparse.Namespace) -> dict[str, Any]:
    with stack(url, [("39201", "b", args.backlog), ("39202", "e", args.emergency)]) as s:
        t_backlog = notify(s["api"], "39201", "info", "area_info", "お知らせ")
        until(lambda: stats(s["push"])["groups"].get("b", {}).get("accepted", 0) >= args.backlog // 20, 120)
        t_emergency = notify(s["api"], "39202", "emergency", "evacuation", "避難指示")
        accepted = LAST_ACCEPTED[0]
        until(
            lambda: stats(s["push"])["counters"].get("accepted", 0) >= args.backlog + args.emergency, args.timeout, 0.1
        )
        st = stats(s["push"])
    b, e = st["groups"].get("b", {}), st["groups"].get("e", {})
    return {
        "emergency_got": e.get("accepted", 0),
        "backlog_got": b.get("accepted", 0),
        "emergency_first_s": e.get("first_at", 0) - t_emergency,
        "accepted_s": accepted - t_emergency,
        "emergency_last_s": e.get("last_at", 0) - t_emergency,
        "backlog_last_s": b.get("last_at", 0) - t_emergency,
        "backlog_total_s": b.get("last_at", 0) - t_backlog,
    }


def scenario_kill(url: str, args: argparse.Namespace) -> dict[str, Any]:
    n = args.kill_n
    out: dict[str, Any] = {}
    with stack(url, [("39201", "b", n)]) as s:
        for run in ("undisturbed", "killed"):
            httpx.post(f"{s['push']}/control/reset")
            t0 = notify(s["api"], "39201", "emergency", "evacuation", "避難指示")
            if run == "killed":
                until(lambda: stats(s["push"])["counters"].get("accepted", 0) >= n // 5, 60, 0.01)
                s["procs"][0].send_signal(signal.SIGKILL)
            until(lambda: stats(s["push"])["endpoints_reached"] >= n + 1, args.timeout, 0.1)
            time.sleep(1.0)  # late duplicates still count
            st = stats(s["push"])
            # n residents plus the warm-up's test device, which real notifications reach as well
            out[run] = {
                "reached": st["endpoints_reached"],
                "lost": n + 1 - st["endpoints_reached"],
                "duplicates": st["duplicates"],
                "last_s": st["last_at"] - t0,
            }
    return out


def scenario_instructions(url: str, args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("valgrind") is None:
        raise SystemExit("the instructions scenario needs valgrind (Debian package valgrind)")
    small, large = args.instr_small, args.instr_large
    out: dict[str, Any] = {}
    # A long lease: under callgrind a batch takes ~50 times as long, and no renewal may fall due in it.
    env = {"PUSHSVC_WORKER_LEASE_S": "3600", "PYTHONHASHSEED": "0"}
    with stack(url, [("39201", "s", small), ("39202", "l", large)], workers=0) as s:
        for name, code in (("small", "39201"), ("large", "39202")):
            httpx.post(f"{s['push']}/control/reset")
            notify(s["api"], code, "emergency", "evacuation", "避難指示")
            cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
            run = subprocess.run(
                [*cmd, "-m", "pushsvc.cli", "worker", "--until-idle"],
                env={**os.environ, **s["env"], **env},
                capture_output=True,
                text=True,
                check=False,
            )
            collected = re.search(r"Collected : (\d+)", run.stderr)
            if run.returncode or collected is None:
                raise RuntimeError(f"the worker under callgrind failed:\n{run.stderr[-3000:]}")
            out[name] = {
                "instructions": int(collected.group(1)),
                "got": stats(s["push"])["counters"].get("accepted", 0),
            }
    out["per_message"] = (out["large"]["instructions"] - out["small"]["instructions"]) / max(
        1, out["large"]["got"] - out["small"]["got"]
    )
    return out


SCENARIOS = {
    "latency": scenario_latency,
    "lanes": scenario_lanes,
    "kill": scenario_kill,
    "instructions": scenario_instructions,
}


def inner(args: argparse.Namespace) -> None:
    with throwaway_database(args.pg) as db:
        result = SCENARIOS[args.inner](db.url, args)
    print(RESULT + json.dumps(result), flush=True)


def run_tree(tree: Path, scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    if tree.resolve() != ROOT.resolve():  # today's bench code and push service, the checkout's pushsvc
        for f in ("_common.py", "fanout.py", "delivery.py"):
            shutil.copy(ROOT / "bench" / f, tree / "bench" / f)
        if not (tree / "pushsvc" / "dev").exists() and (tree / "pushsvc" / "devpush").exists():
            # a checkout from before pushsvc/dev: its `pushsvc devpush` command must run today's push service
            shutil.copytree(ROOT / "pushsvc" / "dev" / "devpush", tree / "pushsvc" / "devpush", dirs_exist_ok=True)
        shutil.copytree(ROOT / "pushsvc" / "dev", tree / "pushsvc" / "dev", dirs_exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "bench.delivery",
        "--inner",
        scenario,
        "--pg",
        args.pg,
        "--n",
        str(args.n),
        "--backlog",
        str(args.backlog),
        "--emergency",
        str(args.emergency),
        "--kill-n",
        str(args.kill_n),
        "--instr-small",
        str(args.instr_small),
        "--instr-large",
        str(args.instr_large),
        "--timeout",
        str(args.timeout),
    ]
    env = {**os.environ, "PYTHONPATH": str(tree), "PUSHSVC_BENCH_DEVPUSH_ROOT": str(ROOT)}
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith(RESULT)), None)
    if line is None:
        raise RuntimeError(f"{scenario} on {tree} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return dict(json.loads(line[len(RESULT) :]))


def cpu_ratios(latency: dict[str, dict[str, Any]]) -> list[float]:
    """After/before worker CPU per message at 0 ms, one per pair of runs ("before", "after", "before #2", …)."""
    out = []
    for label in latency:
        if label.startswith("before"):
            after = latency.get(label.replace("before", "after"))
            if after:
                out.append(after["0"]["worker_cpu_us"] / latency[label]["0"]["worker_cpu_us"])
    return out


def report(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace, started: str) -> str:
    lines = [
        f"\n## Delivery under pressure, before and after (issue 13; `bench/delivery.py`, {started})\n",
        f"Machine: {machine()}; PostgreSQL, 2 workers, push service in count mode in its own process. "
        f"Load average (1 min) at the start {args.load[0]:.1f}, at the end {os.getloadavg()[0]:.1f}: absolute "
        'figures are noisy on a shared machine, compare before/after within this run. "before" = `pushsvc` of '
        'the old checkout, "after" = this branch; the bench code and the push service are the same for both.\n',
    ]
    if "latency" in results:
        lines += [
            f"\n### Fan-out to {args.n:,} residents at push-service latency 0 / 30 / 100 ms\n",
            "| code | latency | messages/s (sending phase) | first receipt | last receipt | "
            "worker CPU/message | PostgreSQL CPU/message | all CPU/message |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, res in results["latency"].items():
            for ms, r in res.items():
                lines.append(
                    f"| {label} | {ms} ms | {r['rate']:,.0f} | {r['first_s']:.2f} s | {r['last_s']:.2f} s | "
                    f"{r['worker_cpu_us']:,.0f} µs | {r['postgres_cpu_us']:,.0f} µs | "
                    f"{r['total_cpu_us']:,.0f} µs |"
                )
        for label, res in results["latency"].items():
            ratio = res["30"]["rate"] / max(1e-9, res["0"]["rate"])
            lines.append(
                f"\n{label}: throughput at 30 ms = {ratio:.0%} of 0 ms; at 100 ms = "
                f"{res['100']['rate'] / max(1e-9, res['0']['rate']):.0%}."
            )
        ratios = cpu_ratios(results["latency"])
        if ratios:
            lines.append(
                "\nWorker CPU per message at 0 ms, after/before, each pair run back to back: "
                + ", ".join(f"{r:.2f}×" for r in ratios)
                + f"; median {statistics.median(ratios):.2f}×.\n"
            )
    if "instructions" in results:
        res = results["instructions"]
        lines += [
            f"\n### Worker instructions per message (callgrind; fan-outs of {args.instr_small:,} and "
            f"{args.instr_large:,})\n",
            "| code | instructions, smaller fan-out | instructions, larger fan-out | per message |",
            "|---|---|---|---|",
        ]
        for label, r in res.items():
            lines.append(
                f"| {label} | {r['small']['instructions']:,} | {r['large']['instructions']:,} | "
                f"{r['per_message']:,.0f} |"
            )
        if "before" in res and "after" in res:
            lines.append(
                f"\nAfter/before: {res['after']['per_message'] / res['before']['per_message']:.3f}× "
                "(user-space instructions; the kernel's share is not counted).\n"
            )
    if "lanes" in results:
        lines += [
            f"\n### An emergency to {args.emergency:,} residents while {args.backlog:,} ordinary messages "
            "are being sent\n",
            "| code | API call answered | emergency first receipt (after the answer) | "
            "emergency last receipt | backlog last receipt | emergency done before backlog |",
            "|---|---|---|---|---|---|",
        ]
        for label, r in results["lanes"].items():
            first = r["emergency_last_s"] < r["backlog_last_s"]
            acc = r.get("accepted_s", 0.0)
            lines.append(
                f"| {label} | {acc:.2f} s | {r['emergency_first_s']:.2f} s "
                f"({r['emergency_first_s'] - acc:.2f} s) | {r['emergency_last_s']:.2f} s | "
                f"{r['backlog_last_s']:.2f} s | {'yes' if first else 'no'} |"
            )
        lines.append("\n(times after the emergency's API call; the backlog's call came first and was being sent)\n")
    if "kill" in results:
        lines += [
            f"\n### SIGKILL of one of 2 workers a fifth into a {args.kill_n:,} fan-out\n",
            "| code | run | reached | lost | duplicates | last receipt |",
            "|---|---|---|---|---|---|",
        ]
        for label, res in results["kill"].items():
            for run, r in res.items():
                lines.append(
                    f"| {label} | {run} | {r['reached']:,} | {r['lost']:,} | {r['duplicates']:,} | "
                    f"{r['last_s']:.2f} s |"
                )
        for label, res in results["kill"].items():
            lines.append(
                f"\n{label}: last receipt {res['killed']['last_s'] - res['undisturbed']['last_s']:+.1f} s "
                "against the undisturbed run."
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, help="an older checkout to compare (its pushsvc is used)")
    ap.add_argument("--scenarios", default="latency,lanes,kill")
    ap.add_argument("--inner", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--emergency", type=int, default=10_000)
    ap.add_argument("--kill-n", type=int, default=20_000)
    ap.add_argument("--timeout", type=float, default=240)
    ap.add_argument("--instr-small", type=int, default=500, help="instructions: the smaller fan-out")
    ap.add_argument("--instr-large", type=int, default=2000, help="instructions: the larger fan-out")
    ap.add_argument("--append", type=Path)
    ap.add_argument("--repeat", type=int, default=1, help="pairs of latency runs (worker CPU is noisy)")
    args = ap.parse_args()
    if args.inner:
        inner(args)
        return
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    trees = ([("before", args.before)] if args.before else []) + [("after", ROOT)]
    results: dict[str, dict[str, dict[str, Any]]] = {}
    args.load = os.getloadavg()
    for scenario in args.scenarios.split(","):
        # latency (worker CPU) repeats in pairs, the order alternating, so drift on a shared machine
        # shows as spread between pairs instead of as a difference between the trees
        for i in range(args.repeat if scenario == "latency" else 1):
            for label, tree in trees if i % 2 == 0 else trees[::-1]:
                key = label if i == 0 else f"{label} #{i + 1}"
                print(f"{scenario}: {key} ({tree}) …", file=sys.stderr, flush=True)
                results.setdefault(scenario, {})[key] = run_tree(tree, scenario, args)
                print(json.dumps(results[scenario][key]), file=sys.stderr, flush=True)
    publish(report(results, args, started), args.append)


if __name__ == "__main__":
    main()
