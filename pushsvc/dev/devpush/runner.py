"""Running the local push service: in a background thread (tests), or as its own process (benches).

A benchmark wants it in another process so receiving does not compete for the sender's GIL; a test
wants it in-process so it can read ``state`` directly. Both bind a free loopback port themselves,
so parallel test runs never collide.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from pushsvc.dev.devpush.app import create_app
from pushsvc.dev.devpush.keys import SubscriberKeys
from pushsvc.dev.devpush.server import DevPushServer
from pushsvc.dev.devpush.state import DevPushState, Fault, Mode, Received, Subscriber

READY_PREFIX = "devpush listening on "


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _base_url(sock: socket.socket, host: str, scheme: str = "http") -> str:
    port = sock.getsockname()[1]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _server(state: DevPushState, tls: ssl.SSLContext | None = None) -> DevPushServer:
    return DevPushServer(state, create_app(state), tls)


@dataclass
class DevPush:
    """A running local push service, as a test sees it."""

    url: str
    state: DevPushState

    def subscribe(self, keys: SubscriberKeys | None = None, *, vapid_key: str | None = None) -> Subscriber:
        """A new simulated browser; ``vapid_key`` restricts it to that applicationServerKey."""
        return self.state.add_subscriber(keys, vapid_key=vapid_key)

    def endpoint(self, sub: Subscriber) -> str:
        return self.state.endpoint(sub.id)

    def fault(self, sub: Subscriber | str, fault: Fault | None) -> None:
        self.state.set_fault(sub if isinstance(sub, str) else sub.id, fault)

    def received(self, sub: Subscriber) -> list[Received]:
        return self.state.received(sub.id)


@contextlib.contextmanager
def run_devpush(
    mode: Mode = "full", host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None
) -> Iterator[DevPush]:
    """Serve on a free port in a daemon thread for the duration of the ``with`` block (https with ``tls``)."""
    sock = _bind(host, 0)
    state = DevPushState(mode, base_url=_base_url(sock, host, "https" if tls else "http"))
    server = _server(state, tls)
    thread = threading.Thread(target=server.run, args=(sock,), name="devpush", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local push service did not start")
            time.sleep(0.01)
        yield DevPush(state.base_url, state)
    finally:
        server.stop()
        thread.join(10)
        sock.close()


def serve(host: str, port: int, mode: Mode, latency_ms: float = 0.0) -> None:
    """The ``pushsvc devpush`` command: prints its URL (port 0 = any free one), then serves."""
    sock = _bind(host, port)
    state = DevPushState(mode, base_url=_base_url(sock, host), latency_s=latency_ms / 1000)
    print(f"{READY_PREFIX}{state.base_url} (mode {mode}, latency {latency_ms:g} ms)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the command quietly
        _server(state).run(sock)


@contextlib.contextmanager
def spawn_devpush(
    mode: Mode = "count", host: str = "127.0.0.1", latency_ms: float = 0.0, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``pushsvc devpush`` as a child process on a free port; yields its base URL.

    ``env``: the child's environment (a bench comparing an older checkout runs today's push service)."""
    cmd = [sys.executable, "-m", "pushsvc.cli", "devpush", "--host", host, "--port", "0", "--mode", mode]
    if latency_ms:
        cmd += ["--latency-ms", f"{latency_ms:g}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"pushsvc devpush did not start: {line!r}")
        yield line[len(READY_PREFIX) :].split()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
