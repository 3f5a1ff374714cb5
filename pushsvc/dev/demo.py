"""``pushsvc demo``: the main job, shown end to end on the embedded default (a SQLite file, nothing to install).

It starts the API, a delivery worker, the feed poller and the local push service in one process, registers
simulated residents across Kochi through the public API (each phone with its own Web Push keys), then serves
the real 2026-06-02 rain event as the live k.river feed on an accelerated clock. As gauges cross their
levels it prints which gauge crossed what and how many residents of each municipality decrypted the alert at
the push service; it ends with a summary and exits 0 when every targeted resident got every alert once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from pushsvc.config import Settings
from pushsvc.db import make_engine, make_sessionmaker
from pushsvc.delivery.models import Notification
from pushsvc.delivery.service import FINAL_STATUSES
from pushsvc.delivery.worker import Worker
from pushsvc.dev.devpush import DevPush, run_devpush
from pushsvc.dev.localfeed import AREA_INFO_PATH, KriverReplay, LocalFeedServer
from pushsvc.feeds.poller import Poller, SourcePoller
from pushsvc.feeds.service import SentAlert
from pushsvc.feeds.sources import SourceConfig
from pushsvc.geo import service as geo_service
from pushsvc.main import create_app
from pushsvc.timeutil import JST
from pushsvc.webpush.sender import PushSender

SUBJECT = "mailto:bousai@pref.kochi.lg.jp"
EVENT_SERIES = Path("samples/river/series/kochi_event_2026-06-02_k_river_crisis_gauges.csv")
GAUGES = Path("samples/river/stations/kochi_crisis_gauges_k_river_area_info.csv")
BOUNDARIES = Path("municipal_boundaries/N03-21_39_210101.json")


@dataclass
class DemoOptions:
    shared: Path = Path("../shared")
    residents: int = 300
    speed: float = 8000.0  # the ~91 h event in ~41 s
    seed: int = 39
    workdir: Path | None = None  # default: a temporary directory, removed afterwards
    echo: Callable[[str], None] = print


@dataclass
class Phone:
    device_id: str
    municipalities: tuple[str, ...]


@dataclass
class Summary:
    residents: int = 0
    municipalities_with_residents: int = 0
    snapshots: int = 0
    rises: Counter[str] = field(default_factory=Counter)  # station → danger crossings
    danger_towns: set[str] = field(default_factory=set)
    notifications: int = 0
    targeted: int = 0
    decrypted: int = 0
    missing: int = 0  # targeted residents who did not get an alert
    duplicates: int = 0
    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    setup_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.notifications > 0 and self.missing == 0 and self.duplicates == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "residents": self.residents,
            "snapshots": self.snapshots,
            "danger_crossings": sum(self.rises.values()),
            "gauges": len(self.rises),
            "danger_municipalities": sorted(self.danger_towns),
            "notifications": self.notifications,
            "targeted": self.targeted,
            "decrypted": self.decrypted,
            "missing": self.missing,
            "duplicates": self.duplicates,
            "ok": self.ok,
        }


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


@contextlib.contextmanager
def _serve_api(settings: Settings, sock: socket.socket) -> Iterator[Any]:
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="demo-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(10)


def _register(api: str, push: DevPush, vapid_key: str, towns: list[str], n: int, rng: random.Random) -> list[Phone]:
    """``n`` phones spread over every municipality (round robin), a quarter with a second or third place."""
    phones = []
    with httpx.Client(base_url=api, timeout=30) as client:
        for i in range(n):
            home = towns[i % len(towns)]
            extra = rng.sample(towns, rng.choice((1, 2))) if rng.random() < 0.25 else []
            places = list(dict.fromkeys([home, *extra]))
            device = push.subscribe(vapid_key=vapid_key)
            r = client.post(
                "/api/v1/subscriptions",
                json={
                    "endpoint": push.endpoint(device),
                    "keys": {"p256dh": device.keys.p256dh, "auth": device.keys.auth},
                    "places": [{"label": f"place {j + 1}", "municipality_code": c} for j, c in enumerate(places)],
                    "lang": "en" if i % 10 == 9 else "ja",
                },
            )
            r.raise_for_status()
            phones.append(Phone(device.id, tuple(places)))
    return phones


class Demo:
    def __init__(self, opts: DemoOptions, workdir: Path) -> None:
        self.opts, self.echo = opts, opts.echo
        self.workdir = workdir
        self.api_sock = _free_socket()
        api = f"http://127.0.0.1:{self.api_sock.getsockname()[1]}"
        self.replay = KriverReplay(opts.shared / EVENT_SERIES, opts.shared / GAUGES)
        self.feed = LocalFeedServer({AREA_INFO_PATH: self.replay.document})
        self.settings = Settings(
            database_url=f"sqlite:///{workdir / 'demo.db'}",
            boundaries=opts.shared / BOUNDARIES,
            vapid_key_file=workdir / "vapid.pem",
            vapid_subject=SUBJECT,
            push_allowed_hosts="127.0.0.1",
            public_base_url=api,
            feeds_file=workdir / "feeds.toml",
            worker_poll_s=0.05,
            push_timeout_s=5.0,
            jma_codes_dir=opts.shared / "samples/jma/codes",
        )
        self.api = api
        self.factory = make_sessionmaker(make_engine(self.settings.database_url))
        self.summary = Summary()
        self.names: dict[str, str] = {}
        self.phones: list[Phone] = []
        self.open: dict[int, SentAlert] = {}

    def source(self) -> SourceConfig:
        return SourceConfig(
            name="kochi-kriver-replay",
            kind="kriver_area",
            url=self.feed.url + AREA_INFO_PATH,
            interval_s=0.1,
            timeout_s=5.0,
            options={"stations_file": str(self.opts.shared / GAUGES)},
        )

    def _write_feeds_file(self) -> None:
        cfg = self.source()
        self.settings.feeds_file.write_text(  # type: ignore[union-attr]
            f'[[source]]\nname = "{cfg.name}"\nkind = "kriver_area"\nurl = "{cfg.url}"\ninterval_s = {cfg.interval_s}\n'
            f'stations_file = "{cfg.options["stations_file"]}"\n',
            encoding="utf-8",
        )

    # -- reporting ------------------------------------------------------------------------------------------
    def _town(self, code: str) -> str:
        return self.names.get(code, code)

    def _announce(self, alert: SentAlert) -> None:
        at = alert.detail.get("observed_at")
        when = f"{datetime.fromisoformat(at).astimezone(JST):%m-%d %H:%M} JST" if at else ""
        towns = "、".join(self._town(m) for m in alert.municipalities)
        mark = "▲" if alert.kind == "rise" else "▽"
        self.echo(f"{mark} {when} {alert.summary} → {towns}: {alert.targeted} residents targeted")
        if alert.kind == "rise" and alert.detail.get("stage") == "danger":
            self.summary.rises[str(alert.detail["station_code"])] += 1
            self.summary.danger_towns.update(alert.municipalities)

    def _receipts(self, nid: int) -> tuple[int, Counter[str]]:
        """How many phones decrypted notification ``nid``, and those residents per municipality."""
        phones, by_town = 0, Counter[str]()
        for phone in self.phones:
            hits = [m for m in self.push.state.received(phone.device_id) if m.json().get("id") == str(nid)]
            self.summary.duplicates += max(0, len(hits) - 1)
            if hits:
                phones += 1
                by_town.update(phone.municipalities)
        return phones, by_town

    def _finish(self, n: Notification, alert: SentAlert) -> None:
        decrypted, got = self._receipts(n.id)
        self.summary.notifications += 1
        self.summary.targeted += n.targeted
        self.summary.decrypted += decrypted
        self.summary.missing += max(0, n.targeted - decrypted)
        if n.last_sent_at:
            self.summary.latencies_s.append((n.last_sent_at - n.created_at).total_seconds())
        parts = ", ".join(f"{got[m]} in {self._town(m)}" for m in alert.municipalities)
        self.echo(f"    ✓ notification #{n.id}: decrypted by {decrypted}/{n.targeted} residents ({parts})")

    def _check_finished(self) -> None:
        if not self.open:
            return
        with self.factory() as s:
            rows = s.execute(select(Notification).where(Notification.id.in_(list(self.open)))).scalars().all()
            for n in rows:
                if n.status in FINAL_STATUSES:
                    self._finish(n, self.open.pop(n.id))

    # -- the run --------------------------------------------------------------------------------------------
    async def _poll_and_watch(self, stop: asyncio.Event) -> None:
        async with Poller.client() as client:
            poller = SourcePoller(self.source(), self.settings, self.factory, client)
            while True:
                result = await poller.poll_once()
                if not result.ok:
                    self.echo(f"  ! feed poll failed: {result.error}")
                for alert in result.sent:
                    self._announce(alert)
                    if alert.notification_id is not None:
                        self.open[alert.notification_id] = alert
                await asyncio.to_thread(self._check_finished)
                if self.replay.finished and result.ok and not result.changed and not self.open:
                    break
                await asyncio.sleep(min(0.1, max(0.02, self.replay.seconds_until_next())))
        stop.set()

    async def _run_async(self, vapid: Any) -> None:
        stop = asyncio.Event()
        async with PushSender.from_settings(self.settings, vapid) as sender:
            worker = Worker(self.settings, self.factory, sender)
            self.replay.start(self.opts.speed)
            await asyncio.gather(worker.run(stop), self._poll_and_watch(stop))

    def run(self) -> Summary:
        started = time.monotonic()
        with run_devpush() as push, self.feed.running(), _serve_api(self.settings, self.api_sock) as app:
            self._write_feeds_file()
            self.push = push
            with self.factory() as s:
                self.names = {p.code: p.name for p in geo_service.list_places(s)}
            towns = sorted(self.names)
            self.echo(f"pushsvc demo: API {self.api}, local push service {push.url}, feed {self.feed.url}")
            self.echo(f"registering {self.opts.residents} simulated residents across {len(towns)} municipalities …")
            self.phones = _register(
                self.api,
                push,
                app.state.vapid.public_key_b64url,
                towns,
                self.opts.residents,
                random.Random(self.opts.seed),
            )
            self.summary.residents = len(self.phones)
            self.summary.municipalities_with_residents = len({m for p in self.phones for m in p.municipalities})
            self.summary.setup_s = time.monotonic() - started
            hours = (self.replay.times[-1] - self.replay.times[0]).total_seconds() / 3600
            self.echo(
                f"replaying the 2026-06-02 Kochi rain event: {len(self.replay)} crawls over {hours:.0f} h "
                f"at {self.opts.speed:g}× (≈{hours * 3600 / self.opts.speed:.0f} s)"
            )
            asyncio.run(self._run_async(app.state.vapid))
            self.summary.snapshots = self.replay.position + 1
            health = httpx.get(f"{self.api}/api/v1/feeds", timeout=10).json()
            self.echo(f"feed health: {[(s['name'], s['status']) for s in health['sources']]}")
        self.summary.wall_s = time.monotonic() - started
        return self.summary


def report(summary: Summary, names: dict[str, str], echo: Callable[[str], None]) -> None:
    lat = sorted(summary.latencies_s)
    p50 = lat[len(lat) // 2] if lat else 0.0
    towns = "、".join(names.get(c, c) for c in sorted(summary.danger_towns))
    echo("")
    echo("summary")
    echo(f"  residents: {summary.residents} in {summary.municipalities_with_residents} municipalities")
    echo(f"  crawls replayed: {summary.snapshots}")
    echo(
        f"  danger-level crossings: {sum(summary.rises.values())} at {len(summary.rises)} gauges, "
        f"alerting {len(summary.danger_towns)} municipalities: {towns}"
    )
    echo(f"  notifications: {summary.notifications} (danger alerts and 'back below' messages)")
    echo(
        f"  deliveries: {summary.decrypted} decrypted of {summary.targeted} targeted, {summary.missing} missing, "
        f"{summary.duplicates} duplicates"
    )
    echo(f"  alert → last phone: median {p50:.2f} s, max {max(lat, default=0.0):.2f} s")
    echo(f"  time: {summary.wall_s:.1f} s ({summary.setup_s:.1f} s setup)")
    echo("  出典：国土交通省「川の防災情報」; 「国土数値情報（行政区域データ）」（国土交通省）を加工して作成")
    echo("  result: OK" if summary.ok else "  result: FAILED (see above)")


def run_demo(opts: DemoOptions) -> Summary:
    for rel in (EVENT_SERIES, GAUGES, BOUNDARIES):
        if not (opts.shared / rel).exists():
            raise FileNotFoundError(f"{opts.shared / rel} not found: point --shared at the shared data directory")
    opts.shared = opts.shared.resolve()
    with contextlib.ExitStack() as stack:
        workdir = opts.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pushsvc-demo-")))
        demo = Demo(opts, workdir)
        summary = demo.run()
        report(summary, demo.names, opts.echo)
        return summary
