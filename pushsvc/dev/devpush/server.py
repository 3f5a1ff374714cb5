"""The local push service's HTTP/1.1 server: count-mode pushes answered in the protocol, the rest over ASGI.

Why not uvicorn: in the fan-out benchmark the push service shares the two cores with the workers, and
uvicorn (httptools, a bare ASGI fast path) cost it 34–45 µs of CPU per push, a tenth of the whole
per-message budget, for what is test and bench infrastructure (in production the push service is
someone else's machine). In count mode with no fault set, a push here is: parse the request, count it
per endpoint, write a fixed 201. That path does not check VAPID or decrypt — count mode never did; full
mode does both for every message. Every other request (full-mode pushes, faults, ``/control``) goes to
the Starlette app through a minimal ASGI bridge, one request at a time per connection.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message

from pushsvc.dev.devpush.state import DevPushState

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024  # the push route refuses more than 4 KiB itself; this only bounds buffering
_CREATED = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n"
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
}


class _Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "target", "version")

    def __init__(self, method: str, target: str, version: str, headers: list[tuple[bytes, bytes]]) -> None:
        self.method, self.target, self.version, self.headers = method, target, version, headers
        self.body = b""
        connection = next((v.lower() for k, v in headers if k == b"connection"), b"")
        self.keep_alive = connection != b"close" if version == "HTTP/1.1" else connection == b"keep-alive"


def _parse_head(head: bytes) -> tuple[_Request, int]:
    """The request line and header fields; raises ValueError on anything that is not HTTP/1.x."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    if not version.startswith("HTTP/1.") or not method.isalpha() or not target.startswith("/"):
        raise ValueError("not an HTTP/1.x request")
    headers = []
    length = 0
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ValueError("bad header line")
        key = name.lower().encode("latin-1")
        value = value.strip()
        if key == b"content-length":
            length = int(value)
            if not 0 <= length <= MAX_BODY:
                raise ValueError("bad Content-Length")
        elif key == b"transfer-encoding":
            raise ValueError("chunked request bodies are not supported")  # no client of ours sends them
        headers.append((key, value.encode("latin-1")))
    return _Request(method, target, version, headers), length


class _Connection(asyncio.Protocol):
    def __init__(self, server: DevPushServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False  # an ASGI request is in progress: later bytes wait in ``buf``
        self.gone: asyncio.Future[None] = server.loop.create_future()
        self.answered = 0  # requests answered on this connection
        self.idle_since = server.loop.time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.gone.done():
            self.gone.set_result(None)

    def data_received(self, data: bytes) -> None:
        idle_408 = self.server.state.idle_408_s
        if (
            idle_408 is not None
            and self.answered
            and not self.buf
            and not self.busy
            and self.server.loop.time() - self.idle_since >= idle_408
        ):
            assert self.transport is not None  # our idle timer "fired" as the request arrived: never read it
            self.server.state.count("status_408")
            self.transport.write(_TIMED_OUT)
            self.transport.close()
            return
        self.buf += data
        if not self.busy:
            self._drain()

    def _answered(self) -> None:
        self.answered += 1
        self.idle_since = self.server.loop.time()

    def _later(self, delay: float, response: bytes, close: bool) -> None:
        """Answer after the configured latency, as a push service across the internet does."""

        def write() -> None:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(response)
                self._answered()
                if close:
                    self.transport.close()

        self.server.loop.call_later(delay, write)

    def _drain(self) -> None:
        """Answer every whole request in the buffer, in order, until one needs the ASGI app."""
        transport, buf, state = self.transport, self.buf, self.server.state
        assert transport is not None
        while not transport.is_closing():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._fail(431, "request head too large")
                return
            try:
                request, length = _parse_head(bytes(buf[:end]))
            except ValueError as exc:
                self._fail(400, str(exc))
                return
            if len(buf) < end + 4 + length:
                return
            request.body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            if (
                request.method == "POST"
                and request.target.startswith("/push/")
                and state.mode == "count"
                and not state.faults
            ):
                state.accept(request.target[6:].partition("?")[0], count_request=True)
                if state.latency_s:
                    self._later(state.latency_s, _CREATED, not request.keep_alive)
                    continue
                transport.write(_CREATED)
                self._answered()
                if not request.keep_alive:
                    transport.close()
                continue
            self.busy = True
            task = self.server.loop.create_task(self._asgi(request))
            self.server.tasks.add(task)
            task.add_done_callback(self.server.tasks.discard)
            return

    def _fail(self, status: int, reason: str) -> None:
        assert self.transport is not None
        body = reason.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS.get(status, "Error").encode(), len(body), body)
        )
        self.transport.close()

    async def _asgi(self, request: _Request) -> None:
        assert self.transport is not None
        path, _, query = request.target.partition("?")
        host, port = self.server.address
        peer = self.transport.get_extra_info("peername") or ("127.0.0.1", 0)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.version[5:],
            "method": request.method,
            "scheme": self.server.scheme,
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": request.headers,
            "client": (peer[0], peer[1]),
            "server": (host, port),
        }
        sent_body = False
        status, headers, chunks = 500, [], []

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            await self.gone
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.server.app(scope, receive, send)
        except Exception:
            log.exception("devpush: %s %s failed", request.method, path)
            status, headers, chunks = 500, [], [b"internal error"]
        if self.transport.is_closing():
            return
        body = b"".join(chunks)
        lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, "Status").encode())]
        lines += [b"%s: %s" % (bytes(k), bytes(v)) for k, v in headers if bytes(k).lower() != b"content-length"]
        lines.append(b"content-length: %d" % len(body))
        if not request.keep_alive:
            lines.append(b"connection: close")
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self._answered()
        if not request.keep_alive:
            self.transport.close()
            return
        self.busy = False
        self._drain()


class DevPushServer:
    """Serves ``state`` on an already bound, listening socket until ``stop`` is called (from any thread)."""

    def __init__(self, state: DevPushState, app: ASGIApp, tls: ssl.SSLContext | None = None) -> None:
        self.state = state
        self.app = app
        self.tls = tls
        self.scheme = "https" if tls is not None else "http"
        self.loop = asyncio.get_event_loop_policy().new_event_loop()
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._stopping: asyncio.Event | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # requests in the ASGI app (a stall fault can be long)

    def run(self, sock: Any) -> None:
        """Blocking: serve on ``sock`` in this thread's new event loop."""
        self.address = sock.getsockname()[:2]
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve(sock))
        finally:
            self.loop.close()

    async def _serve(self, sock: Any) -> None:
        self._stopping = asyncio.Event()
        server = await self.loop.create_server(lambda: _Connection(self), sock=sock, backlog=2048, ssl=self.tls)
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    @property
    def started(self) -> bool:
        return self._stopping is not None

    def stop(self) -> None:
        if self._stopping is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stopping.set)
