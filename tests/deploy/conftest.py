"""Fixtures for deployment tests: the shared data served over local HTTP, as a mirror or upstream would."""

from __future__ import annotations

import functools
import http.server
import socketserver
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import SHARED


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args: object) -> None:
        self.requested.append(self.path)


@contextmanager
def serve_directory(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``root`` read-only over HTTP on a free loopback port; yields (base URL, paths requested)."""
    requested: list[str] = []
    handler = type("Handler", (_Quiet,), {"requested": requested})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def shared_mirror() -> Iterator[tuple[str, list[str]]]:
    if not SHARED.is_dir():
        pytest.skip(f"the shared data directory {SHARED} is missing (set PUSHSVC_SHARED)")
    with serve_directory(SHARED) as served:
        yield served


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy for plain-HTTP URLs that records what it relayed (what a prefecture's proxy does)."""

    relayed: list[str]

    def do_GET(self) -> None:
        self.relayed.append(self.path)  # absolute-form URL: proof the client came through the proxy
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(self.path) as upstream:  # the proxy itself goes direct
            body = upstream.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    relayed: list[str] = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), type("P", (_Proxy,), {"relayed": relayed}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", relayed
    finally:
        server.shutdown()
        server.server_close()
