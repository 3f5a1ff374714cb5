"""CI's wheel-install smoke test: what a prefecture's container does, on a machine with no ../shared.

Builds a wheel from a fresh clone, installs it (not editable) into a clean venv, fetches the data files
over local HTTP (``pushsvc data fetch`` from a mirror of ../shared), then starts ``pushsvc serve``,
``worker`` and ``poll`` on a throwaway PostgreSQL database from a directory with no ../shared beside it,
and checks /healthz, /, /console/, /docs (assets served locally) and one alert page. Then runs the README's
``scripts/run`` in that clone (it fetches the data first, as there is no ../shared). Exits non-zero with the
failing check named; prints "N passed, 0 failed" at the end.

    python3 .ci/wheel_smoke.py [--shared ../shared] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

STATIONS = "samples/river/stations/kochi_crisis_gauges_k_river_area_info.csv"
ROOT = Path(__file__).resolve().parent.parent
passed: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    if not ok:
        print(f"FAILED {name} {detail}", flush=True)
        print(f"{len(passed)} passed, 1 failed")
        raise SystemExit(1)
    passed.append(name)
    print(f"ok     {name}", flush=True)


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload,no-any-return]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, str, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers.get("content-type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read().decode()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("PUSHSVC_SHARED", ROOT.parent / "shared")))
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--skip-readme", action="store_true", help="skip running scripts/run in the fresh clone")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pushsvc-smoke-"))
    db_name = f"pushsvc_smoke_{uuid.uuid4().hex[:8]}"
    procs: list[subprocess.Popen[bytes]] = []
    mirror = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(args.shared)))
    threading.Thread(target=mirror.serve_forever, daemon=True).start()
    mirror_url = f"http://127.0.0.1:{mirror.server_address[1]}"
    try:
        # 1. A fresh clone (tracked files only), a wheel from it, installed into a clean venv.
        run(["git", "clone", "-q", str(ROOT), str(tmp / "clone")])
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(tmp / "clone")])
        wheels = list((tmp / "dist").glob("pushsvc-*.whl"))
        check("wheel built", len(wheels) == 1, str(wheels))
        run([sys.executable, "-m", "venv", str(tmp / "venv")])
        run([str(tmp / "venv/bin/pip"), "install", "-q", str(wheels[0])])
        site = tmp / "site" / "app"  # where the service runs: nothing beside it, no ../shared
        site.mkdir(parents=True)
        where = run([str(tmp / "venv/bin/python"), "-c", "import pushsvc; print(pushsvc.__file__)"], cwd=site)
        check("installed non-editable", str(tmp / "venv") in where.stdout, where.stdout)
        pushsvc = str(tmp / "venv/bin/pushsvc")

        # 2. Data over HTTP, checked against the pinned sums.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
        port = free_port()
        admin_db = args.pg
        run(["psql", admin_db, "-qc", f'CREATE DATABASE "{db_name}"'])
        db_url = admin_db.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + db_name
        data = site / "var" / "data"
        (site / "feeds.toml").write_text(
            '[[source]]\nname = "kochi-kriver"\nkind = "kriver_area"\n'
            f'url = "{mirror_url}/samples/river/formats/k_river_area_info_crawler_snapshot_2026-06-02T22JST.json"\n'
            f'interval_s = 2\nstations_file = "{data}/{STATIONS}"\n')
        env.update({
            "PUSHSVC_DATABASE_URL": db_url, "PUSHSVC_DATA_BASE_URL": mirror_url,
            "PUSHSVC_BOUNDARIES": str(data / "municipal_boundaries/N03-21_39_210101.json"),
            "PUSHSVC_JMA_CODES_DIR": str(data / "samples/jma/codes"),
            "PUSHSVC_VAPID_KEY_FILE": str(site / "keys" / "vapid.pem"),
            "PUSHSVC_VAPID_SUBJECT": "mailto:bousai@pref.kochi.lg.jp", "PUSHSVC_ADMIN_TOKEN": "smoke-admin-token",
            "PUSHSVC_FEEDS_FILE": str(site / "feeds.toml"), "PUSHSVC_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        })
        fetched = subprocess.run([pushsvc, "data", "fetch"], cwd=site, env=env, text=True, capture_output=True)
        check("pushsvc data fetch over HTTP", fetched.returncode == 0, fetched.stderr)
        version = run([pushsvc, "--version"], cwd=site, env=env)
        check("pushsvc --version", version.stdout.startswith("pushsvc, version "), version.stdout)

        # 3. serve, worker, poll.
        logs = tmp / "logs"
        logs.mkdir()
        for name, cmd in (("serve", ["serve", "--port", str(port)]), ("worker", ["worker"]), ("poll", ["poll"])):
            log = (logs / f"{name}.log").open("wb")
            procs.append(subprocess.Popen([pushsvc, *cmd], cwd=site, env=env, stdout=log, stderr=subprocess.STDOUT))
            if name == "serve":  # the API migrates and loads the boundaries; the others start after it
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 90
                health: tuple[int, str, str] = (0, "", "")
                while time.monotonic() < deadline and procs[0].poll() is None:
                    try:
                        health = get(f"{base}/healthz")
                        if health[0] == 200:
                            break
                    except OSError:
                        pass
                    time.sleep(0.5)
                check("/healthz", health[0] == 200 and json.loads(health[2]).get("municipalities") == 34,
                      f"{health} {(logs / 'serve.log').read_text()[-2000:]}")
        status, ctype, body = get(f"{base}/")
        check("/ (resident page)", status == 200 and ctype.startswith("text/html"), f"{status} {ctype}")
        status, ctype, body = get(f"{base}/console/")
        check("/console/", status == 200 and ctype.startswith("text/html"), f"{status} {ctype}")
        status, ctype, body = get(f"{base}/docs")
        check("/docs with local assets", status == 200 and "cdn." not in body and "/docs-assets/" in body, body[:300])
        status, ctype, body = get(f"{base}/docs-assets/swagger-ui-bundle.js")
        check("Swagger UI bundle served", status == 200 and len(body) > 100_000, str(status))
        note = json.dumps({"title": {"ja": "スモークテスト：避難所開設"}, "body": {"ja": "避難所を開設しました。"},
                           "category": "evacuation", "severity": "info",
                           "target": {"municipality_codes": ["39201"]}}).encode()
        status, _, body = get(f"{base}/api/v1/notifications", data=note, headers={
            "Authorization": "Bearer smoke-admin-token", "Content-Type": "application/json"})
        check("notification accepted", status == 202, body)
        alert_id = json.loads(body)["id"]
        status, ctype, body = get(f"{base}/alerts/{alert_id}", headers={"Accept": "text/html"})
        check("alert page", status == 200 and ctype.startswith("text/html") and "スモークテスト" in body, f"{status}")
        status, ctype, body = get(f"{base}/alerts/999999", headers={"Accept": "text/html"})
        check("unknown alert page is HTML 404", status == 404 and ctype.startswith("text/html"), f"{status} {ctype}")
        time.sleep(5)  # the poller polls the mirror (interval 2 s) and the worker sends
        for name, p in zip(("serve", "worker", "poll"), procs, strict=True):
            check(f"{name} still running", p.poll() is None, (logs / f"{name}.log").read_text()[-2000:])
        polled = run(["psql", args.pg.rsplit("/", 1)[0] + "/" + db_name, "-tAc",
                      "SELECT count(*) FROM feed_sources WHERE last_success_at IS NOT NULL"])
        check("poller polled the feed", polled.stdout.strip() == "1", polled.stdout + (logs / "poll.log").read_text())
        for name in ("serve", "worker", "poll"):
            text = (logs / f"{name}.log").read_text()
            check(f"{name}: no traceback, no alembic INFO", "Traceback" not in text and "alembic" not in text,
                  text[-2000:])

        # 4. The README's run command in the same clone (no ../shared beside it): fetch first, then the demo.
        if not args.skip_readme:
            readme_env = {**{k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")},
                          "PUSHSVC_DATA_BASE_URL": mirror_url}
            demo = subprocess.run(["scripts/run", "--residents", "60"], cwd=tmp / "clone", env=readme_env,
                                  text=True, capture_output=True, timeout=900)
            check("README: scripts/run in a clone without ../shared",
                  demo.returncode == 0 and "fetching the data files" in demo.stderr and "result: OK" in demo.stdout,
                  demo.stdout[-3000:] + demo.stderr[-3000:])
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        mirror.shutdown()
        subprocess.run(["psql", args.pg, "-qc", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(passed)} passed, 0 failed")


if __name__ == "__main__":
    main()
