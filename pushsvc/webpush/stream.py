"""A lean HTTP/1.1 keep-alive client for the one request the sender makes: POST, small answer.

Why not only aiohttp: measured on this project's 2-core machines, aiohttp costs 250–380 µs of CPU per
push request, more than the encryption itself, and the worker's CPU per message is what bounds
fan-out speed (bench/fanout.py prints it per process). This client does only what a push service
needs — a pooled connection per origin, Content-Length or chunked answers, ``Connection: close``,
TLS with the system's trust store, timeouts — on a bare ``asyncio.Protocol``.

Per request it does as little as it can: what depends on the origin (connection key, ``Host``) and on
the header set (the same for every message of a notification) is encoded once and cached, and
timeouts are one deadline per connection checked by a sweep rather than an ``asyncio.timeout`` per
request (~8 µs each, plus a cancelled timer left in the loop's heap per request).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import defaultdict
from collections.abc import Mapping

from pushsvc.webpush.hosts import origin_prefix, split_endpoint
from pushsvc.webpush.transport import Limits, TransportError, TransportResponse

MAX_ANSWER_BYTES = 64 * 1024  # push services answer with a few bytes; never buffer a huge body
_REASON_BYTES = 512
_UNSAFE_URL = re.compile(r"[\r\n\t ]")
_MAX_CACHED = 1024  # header blocks and routes kept encoded; far more than a real deployment has


class _Answer:
    """Incremental parser for one HTTP/1.1 response."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.keep_alive = True
        self._length: int | None = None
        self._chunked = False
        self._head_done = False

    def feed(self, buf: bytearray) -> bool:
        """Consume what it can from ``buf``; True once the whole response is in."""
        while not self._head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_ANSWER_BYTES:
                    raise TransportError("response head too large")
                return False
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[: end + 4]
            version, _, rest = lines[0].partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise TransportError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
            if code == "100":
                continue  # interim answer: the real one follows
            self.status = int(code)
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
            self.keep_alive = version == "HTTP/1.1" and self.headers.get("connection", "").lower() != "close"
            self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
            if not self._chunked:
                if "content-length" in self.headers:
                    try:
                        self._length = int(self.headers["content-length"])
                    except ValueError as exc:
                        raise TransportError("bad Content-Length") from exc
                elif self.status in (204, 304):
                    self._length = 0
                else:
                    self._length = None  # until the server closes
                    self.keep_alive = False
            if self._length is not None and self._length > MAX_ANSWER_BYTES:
                raise TransportError("response body too large")
            self._head_done = True
        if self._chunked:
            return self._feed_chunks(buf)
        if self._length is None:
            self.body += buf
            buf.clear()
            if len(self.body) > MAX_ANSWER_BYTES:
                raise TransportError("response body too large")
            return False
        take = min(len(buf), self._length - len(self.body))
        self.body += buf[:take]
        del buf[:take]
        return len(self.body) >= self._length

    def _feed_chunks(self, buf: bytearray) -> bool:
        while True:
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                return False
            size_text = bytes(buf[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise TransportError("bad chunk size") from exc
            if size == 0:  # last chunk: then an empty line, or trailer lines ending with one
                rest = bytes(buf[line_end + 2:])
                if not (rest.startswith(b"\r\n") or b"\r\n\r\n" in rest):
                    return False
                buf.clear()
                return True
            if len(buf) < line_end + 2 + size + 2:
                return False
            self.body += buf[line_end + 2: line_end + 2 + size]
            del buf[: line_end + 2 + size + 2]
            if len(self.body) > MAX_ANSWER_BYTES:
                raise TransportError("response body too large")


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.answer: _Answer | None = None
        self.waiter: asyncio.Future[_Answer] | None = None
        self.closed = False
        self.got_bytes = False
        self.deadline = 0.0  # loop time by which the answer must be in (while ``waiter`` is pending)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.buf += data
        if self.answer is None or self.waiter is None or self.waiter.done():
            return
        try:
            if self.answer.feed(self.buf):
                self.waiter.set_result(self.answer)
        except TransportError as exc:
            self.waiter.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            answer = self.answer
            if answer is not None and answer.status and answer._length is None and not answer._chunked:
                self.waiter.set_result(answer)  # body delimited by the close
            else:
                self.waiter.set_exception(ConnectionResetError("connection closed before a full answer"))

    def exchange(self, request: bytes, loop: asyncio.AbstractEventLoop, deadline: float) -> asyncio.Future[_Answer]:
        """Send the request; the future gets the answer (or TimeoutError from ``expire`` after ``deadline``)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the connection was closed while idle")
        self.answer = _Answer()
        self.got_bytes = False
        self.deadline = deadline
        self.waiter = loop.create_future()
        self.transport.write(request)
        return self.waiter

    def expire(self, now: float) -> bool:
        """Fail the pending exchange with TimeoutError if its deadline has passed; True if it did."""
        if self.waiter is None or self.waiter.done() or now < self.deadline:
            return False
        self.waiter.set_exception(TimeoutError())
        return True

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class StreamTransport:
    """Keep-alive connections per origin; the sender's per-origin semaphore caps how many."""

    def __init__(self, limits: Limits = Limits(), ssl_context: ssl.SSLContext | None = None) -> None:
        self.limits = limits
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = defaultdict(list)
        self._all: set[_Connection] = set()
        self._busy: set[_Connection] = set()
        self._routes: dict[str, tuple[tuple[str, str, int], bytes]] = {}
        self._heads: dict[tuple[tuple[str, str], ...], bytes] = {}
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._sweep_loop: asyncio.AbstractEventLoop | None = None  # a transport may outlive a loop (tests)
        # Timeouts fire up to a tenth late (at most 1 s): one sweep for all requests instead of a timer each.
        self._sweep_every = min(1.0, max(0.02, limits.timeout_s / 10))

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            tls = self._ssl = self._ssl or ssl.create_default_context()
        async with asyncio.timeout(self.limits.connect_timeout_s):
            _, conn = await loop.create_connection(_Connection, host, port, ssl=tls,
                                                   server_hostname=host if tls else None)
        self._all.add(conn)
        return conn

    def _route(self, prefix: str) -> tuple[tuple[str, str, int], bytes]:
        """The pool key and the ``Host`` line for ``scheme://netloc``, parsed once."""
        route = self._routes.get(prefix)
        if route is None:
            parts = split_endpoint(prefix)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise TransportError("refusing to send to a malformed URL")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            route = (parts.scheme, parts.hostname, port), f"Host: {parts.netloc}\r\n".encode("latin-1")
            if len(self._routes) >= _MAX_CACHED:
                self._routes.clear()
            self._routes[prefix] = route
        return route

    def _head(self, headers: Mapping[str, str]) -> bytes:
        """The header lines, encoded (and checked for injection) once per distinct header set."""
        key = tuple(headers.items())
        head = self._heads.get(key)
        if head is None:
            lines = []
            for name, value in key:
                if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                    raise TransportError(f"refusing a header with a line break: {name}")
                lines.append(f"{name}: {value}\r\n")
            head = "".join(lines).encode("latin-1")
            if len(self._heads) >= _MAX_CACHED:
                self._heads.clear()
            self._heads[key] = head
        return head

    def _sweep(self) -> None:
        """Fail the requests past their deadline; re-arm while any are in flight."""
        self._sweep_handle = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for conn in [c for c in self._busy if c.expire(now)]:
            self._busy.discard(conn)
        if self._busy:
            self._sweep_handle = loop.call_later(self._sweep_every, self._sweep)

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> TransportResponse:
        prefix, rest = origin_prefix(url)
        if not prefix or _UNSAFE_URL.search(url):
            raise TransportError("refusing to send to a malformed URL")
        key, host = self._route(prefix)
        rest = rest.partition("#")[0]
        try:
            target = (rest if rest.startswith("/") else "/" + rest).encode("latin-1")
        except UnicodeEncodeError as exc:
            raise TransportError("refusing to send to a malformed URL") from exc
        request = b"".join((b"POST ", target, b" HTTP/1.1\r\n", host, self._head(headers),
                            b"Content-Length: %d\r\n\r\n" % len(body), body))
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            idle = self._idle[key]
            while idle and idle[-1].closed:  # the server hung up on these while they waited
                self._drop(idle[-1])
            reused = bool(idle)
            conn: _Connection | None = None
            try:
                conn = idle.pop() if reused else await self._connect(*key)
                waiter = conn.exchange(request, loop, loop.time() + self.limits.timeout_s)
                self._busy.add(conn)
                if self._sweep_handle is None or self._sweep_loop is not loop:
                    self._sweep_handle, self._sweep_loop = loop.call_later(self._sweep_every, self._sweep), loop
                try:
                    answer = await waiter
                finally:
                    self._busy.discard(conn)
            except TimeoutError as exc:
                self._drop(conn)
                raise TransportError(f"timed out after {self.limits.timeout_s:g} s") from exc
            except (OSError, ssl.SSLError) as exc:
                self._drop(conn)
                # A kept-alive connection the server closed while idle fails before any byte of an
                # answer: the request was never read, so one retry on a fresh connection is safe.
                if reused and attempt == 1 and conn is not None and not conn.got_bytes:
                    continue
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc
            except TransportError:
                self._drop(conn)
                raise
            if answer.keep_alive and not conn.closed:
                idle.append(conn)
            else:
                self._drop(conn)
            text = bytes(answer.body[:_REASON_BYTES]).decode("utf-8", "replace") if answer.body else ""
            return TransportResponse(answer.status, answer.headers.get("retry-after"), text)
        raise TransportError("unreachable")  # pragma: no cover

    def _drop(self, conn: _Connection | None) -> None:
        if conn is not None:
            conn.close()
            self._all.discard(conn)
            for idle in self._idle.values():
                if conn in idle:
                    idle.remove(conn)

    async def aclose(self) -> None:
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()
