"""A loopback HTTP server that plays a feed publisher: for the demo and for tests, never for production.

It serves whatever documents it is given (bytes, or a callable producing them per request) with a strong
ETag and Last-Modified, answers conditional GETs with 304, and can misbehave on request (500s, hanging,
garbage) so pollers are tested against real sockets. ``KriverReplay`` turns the crawled k.river event series
into the ``area_info`` documents the live feed would have served, one snapshot after another.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pushsvc.feeds.river.records import parse_time

Body = bytes | Callable[[], bytes]


@dataclass
class Misbehaviour:
    """Instead of the document: answer ``status``, stall ``hang_s`` first, send ``garbage`` with 200, or
    redirect (302) to ``redirect``."""

    status: int | None = None
    hang_s: float = 0.0
    garbage: bytes | None = None
    redirect: str | None = None


class LocalFeedServer:
    """Serves ``routes`` (path → body) on 127.0.0.1 at a free port, in a daemon thread."""

    def __init__(self, routes: dict[str, Body] | None = None, *, content_type: str = "application/json") -> None:
        self.routes: dict[str, Body] = dict(routes or {})
        self.content_type = content_type
        self.misbehaviour: Misbehaviour | None = None
        self.route_misbehaviour: dict[str, Misbehaviour] = {}  # path → trouble on that path only
        self.requests = 0
        self.not_modified = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._modified: dict[str, tuple[str, str]] = {}  # path → (etag, Last-Modified) of the last body

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        with self.lock:
            self.requests += 1
            trouble = self.route_misbehaviour.get(path) or self.misbehaviour
        if trouble and trouble.hang_s:
            time.sleep(trouble.hang_s)
        if trouble and trouble.redirect:
            handler.send_response(302)
            handler.send_header("Location", trouble.redirect)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if trouble and trouble.status:
            handler.send_response(trouble.status)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        route = self.routes.get(path)
        if route is None:
            handler.send_error(404)
            return
        body = trouble.garbage if trouble and trouble.garbage is not None else route() if callable(route) else route
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        with self.lock:
            if self._modified.get(path, ("", ""))[0] != etag:
                self._modified[path] = (etag, format_datetime(datetime.now(UTC), usegmt=True))
            last_modified = self._modified[path][1]
        if handler.headers.get("If-None-Match") == etag:
            with self.lock:
                self.not_modified += 1
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", etag)
        handler.send_header("Last-Modified", last_modified)
        handler.end_headers()
        handler.wfile.write(body)

    def start(self) -> LocalFeedServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    outer._respond(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the demo print their own
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="localfeed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextlib.contextmanager
    def running(self) -> Iterator[LocalFeedServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


AREA_INFO_PATH = "/swin/files/area_info/current/39000.json"
_KEEP = ("code", "name", "obsTime", "level", "over", "qt")


class KriverReplay:
    """The 2026-06-02 event (or any crawled series) served back as the live ``area_info`` JSON.

    The series rows lack the master fields the live feed carries (townCode, prefCode), so they come from the
    gauge list. ``position`` is the snapshot being served (-1 = none yet: an empty feed). With ``speed`` set,
    the replay follows an accelerated clock from ``start()`` but never skips a snapshot: each request moves
    at most one snapshot on, so a slow poller sees every crawl, only later.
    """

    def __init__(self, series_csv: Path, gauges_csv: Path, *, pref_code: str = "39000") -> None:
        with gauges_csv.open(encoding="utf-8-sig", newline="") as fh:
            gauges = {r["code"]: r for r in csv.DictReader(fh)}
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with series_csv.open(encoding="utf-8-sig", newline="") as fh:
            for r in csv.DictReader(fh):
                g = gauges.get(r["code"], {})
                item: dict[str, Any] = {k: r[k] for k in _KEEP if k in r}
                item.update(
                    level=float(r["level"]),
                    townCode=g.get("townCode") or r.get("townCode"),
                    prefCode=pref_code,
                    startLevel=_num(r.get("startLevel")),
                    warnLevel=_num(r.get("warnLevel")),
                    fladLevel=_num(r.get("fladLevel")),
                    lat=_num(r.get("latitude")),
                    lon=_num(r.get("longitude")),
                )
                groups[r["snapshot_path"]].append(item)
        self.labels = sorted(groups)
        self.snapshots = [groups[k] for k in self.labels]
        self.times = [max(parse_time(i["obsTime"]) for i in items) for items in self.snapshots]
        self.position = -1
        self.speed: float | None = None
        self._started = 0.0
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.snapshots)

    @property
    def finished(self) -> bool:
        return self.position >= len(self.snapshots) - 1

    def start(self, speed: float) -> None:
        """Follow the event's own clock, ``speed`` times faster, from the first snapshot on."""
        self.speed, self._started = speed, time.monotonic()

    def due(self) -> int:
        if self.speed is None:
            return self.position
        elapsed = (time.monotonic() - self._started) * self.speed
        t0 = self.times[0]
        return max(i for i, t in enumerate(self.times) if (t - t0).total_seconds() <= elapsed)

    def seconds_until_next(self) -> float:
        """Real seconds until the next snapshot is due (0 when it already is)."""
        if self.speed is None or self.finished:
            return 0.0
        gap = (self.times[self.position + 1] - self.times[0]).total_seconds() / self.speed
        return max(0.0, self._started + gap - time.monotonic())

    def document(self) -> bytes:
        """What the feed says now (advancing the clocked replay by at most one snapshot)."""
        with self.lock:
            if self.due() > self.position:
                self.position += 1
            items = self.snapshots[self.position] if self.position >= 0 else []
        return json.dumps(items, ensure_ascii=False).encode("utf-8")

    def taken_at(self, index: int) -> datetime:
        return self.times[index]


def _num(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None
