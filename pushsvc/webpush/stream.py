"""A lean HTTP/1.1 keep-alive client for the one request the sender makes: POST, small answer.

Why not only aiohttp: measured on this project's 2-core machines, aiohttp costs 250–380 µs of CPU per
push request, more than the encryption itself, and the worker's CPU per message is what bounds
fan-out speed (bench/fanout.py prints it per process). This client does only what a push service
needs — a pooled connection per origin, TLS with the system's trust store, timeouts, an HTTP CONNECT
tunnel through ``HTTPS_PROXY``/``HTTP_PROXY`` (``NO_PROXY`` honoured) — on a bare ``asyncio.Protocol``.
The HTTP/1.1 answer itself is parsed by ``httptools`` (llhttp, the parser of Node.js and uvicorn), not
by us: framing (Content-Length, chunked, close-delimited, 1xx) is where a hand-written parser goes
wrong (docs/adr/0010-push-client-on-httptools-with-proxies.md).

Two rules keep a kept-alive connection honest: bytes that arrive while a connection sits idle (a
push service's ``408 Request Timeout`` before it hangs up, or anything else) mark it unusable, so the
next request never reads them as its own answer; and a ``408`` on a reused connection means the
service dropped the request unread, so it is sent once more on a fresh connection.

Per request it does as little as it can: what depends on the origin (connection key, ``Host``, proxy)
and on the header set (the same for every message of a notification) is encoded once and cached, and
timeouts are one deadline per connection checked by a sweep rather than an ``asyncio.timeout`` per
request (~8 µs each, plus a cancelled timer left in the loop's heap per request).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import httptools

from pushsvc.webpush.hosts import origin_prefix, split_endpoint
from pushsvc.webpush.transport import UNSAFE_URL, Limits, TransportError, TransportResponse

MAX_ANSWER_BYTES = 64 * 1024  # push services answer with a few bytes; never buffer a huge body
_REASON_BYTES = 512
_MAX_CACHED = 1024  # header blocks and routes kept encoded; far more than a real deployment has

Key = tuple[str, str, int]
Proxy = tuple[str, int, bytes] | None  # proxy host, port, Proxy-Authorization line (or b"")


def proxy_for(scheme: str, host: str, port: int) -> Proxy:
    """The proxy the environment names for this origin (``HTTPS_PROXY``/``HTTP_PROXY``), unless ``NO_PROXY``
    covers it; read the way urllib, httpx and aiohttp read it, so every push client agrees."""
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(scheme)
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not url or bypass(f"{host}:{port}", proxies) or bypass(host, proxies):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        return None
    auth = b""
    if parts.username is not None:
        token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
        auth = f"Proxy-Authorization: Basic {token}\r\n".encode("latin-1")
    return parts.hostname, parts.port or 80, auth


class _Answer:
    """One HTTP/1.1 response as httptools hands it over (callbacks), kept to what the sender needs."""

    __slots__ = ("body", "complete", "framed", "keep_alive", "retry_after", "size", "status")

    def __init__(self) -> None:
        self.status = 0
        self.retry_after: str | None = None
        self.body = bytearray()
        self.size = 0
        self.complete = False
        self.keep_alive = True
        self.framed = False  # Content-Length or chunked: the body does not end with the connection


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: _Answer | None = None
        self.waiter: asyncio.Future[_Answer] | None = None
        self.closed = False
        self.got_bytes = False
        self.deadline = 0.0  # loop time by which the answer must be in (while ``waiter`` is pending)

    # -- httptools callbacks ----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.answer is not None
        lower = name.lower()
        if lower == b"retry-after":
            self.answer.retry_after = value.decode("latin-1").strip()
        elif lower in (b"content-length", b"transfer-encoding"):
            self.answer.framed = True

    def on_headers_complete(self) -> None:
        assert self.answer is not None
        self.answer.status = self.parser.get_status_code()
        self.answer.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        assert self.answer is not None
        self.answer.size += len(body)
        if len(self.answer.body) < _REASON_BYTES:
            self.answer.body += body[: _REASON_BYTES - len(self.answer.body)]

    def on_message_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        if answer.status < 200:  # interim answer (100 Continue): the real one follows
            self.answer = _Answer()
            return
        answer.complete = True
        answer.keep_alive = answer.keep_alive and self.parser.should_keep_alive()

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.close()  # bytes while idle (a 408 before hanging up, junk): never reuse this connection
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            waiter.set_exception(TransportError(f"not a valid HTTP/1.1 answer: {exc}"))
            return
        answer = self.answer
        assert answer is not None
        if answer.size > MAX_ANSWER_BYTES:
            waiter.set_exception(TransportError("response body too large"))
        elif answer.complete:
            waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, answer = self.waiter, self.answer
        if waiter is not None and not waiter.done():
            if answer is not None and answer.status >= 200 and not answer.framed:
                answer.keep_alive = False
                waiter.set_result(answer)  # body delimited by the close
            else:
                waiter.set_exception(ConnectionResetError("connection closed before a full answer"))

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


async def _tunnel(proxy: tuple[str, int, bytes], host: str, port: int) -> socket.socket:
    """A socket connected to ``host:port`` through an HTTP CONNECT proxy, before any TLS."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(proxy[0], proxy[1], type=socket.SOCK_STREAM)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        await loop.sock_sendall(
            sock, f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n".encode("latin-1") + proxy[2] + b"\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:  # the proxy says nothing past its answer until we speak TLS/HTTP
            chunk = await loop.sock_recv(sock, 1)
            if not chunk or len(head) > 8192:
                raise ConnectionResetError("the proxy closed the tunnel before answering")
            head += chunk
        status = head.split(b" ", 2)[1] if b" " in head else b""
        if not status.startswith(b"2"):
            raise TransportError(f"proxy {proxy[0]}:{proxy[1]} refused CONNECT {authority}: {head[:80]!r}")
    except BaseException:
        sock.close()
        raise
    return sock


def _origin(url: str) -> tuple[str, str]:
    """``origin_prefix`` of an endpoint URL, refused if it has no origin or a character that could split
    the request line."""
    parts = origin_prefix(url)
    if not parts[0] or UNSAFE_URL.search(url):
        raise TransportError("refusing to send to a malformed URL")
    return parts


def _target(rest: str) -> bytes:
    """The request target: the URL's path and query (never its fragment), or refused if not latin-1."""
    rest = rest.partition("#")[0]
    try:
        return (rest if rest.startswith("/") else "/" + rest).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise TransportError("refusing to send to a malformed URL") from exc


def _unread(conn: _Connection | None, reused: bool, attempt: int) -> bool:
    """Whether a request that failed with a connection error may be sent once more on a fresh connection.

    A kept-alive connection the server closed while idle fails before any byte of an answer: the
    request was never read, so one retry is safe."""
    return reused and attempt == 1 and conn is not None and not conn.got_bytes


class StreamTransport:
    """Keep-alive connections per origin; the sender's per-origin semaphore caps how many."""

    def __init__(self, limits: Limits = Limits(), ssl_context: ssl.SSLContext | None = None) -> None:
        self.limits = limits
        self._ssl = ssl_context
        self._idle: dict[Key, list[_Connection]] = defaultdict(list)
        self._all: set[_Connection] = set()
        self._busy: set[_Connection] = set()
        self._routes: dict[str, tuple[Key, bytes]] = {}
        self._proxies: dict[Key, Proxy] = {}
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
        key = (scheme, host, port)
        if key not in self._proxies:
            self._proxies[key] = proxy_for(scheme, host, port)
        proxy = self._proxies[key]
        async with asyncio.timeout(self.limits.connect_timeout_s):
            if proxy is None:
                _, conn = await loop.create_connection(
                    _Connection, host, port, ssl=tls, server_hostname=host if tls else None
                )
            else:
                _, conn = await loop.create_connection(
                    _Connection, sock=await _tunnel(proxy, host, port), ssl=tls, server_hostname=host if tls else None
                )
        self._all.add(conn)
        return conn

    def _route(self, prefix: str) -> tuple[Key, bytes]:
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

    def _watch(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Count the connection as in flight, where the sweep times it out; arm the sweep if it is not."""
        self._busy.add(conn)
        if self._sweep_handle is None or self._sweep_loop is not loop:
            self._sweep_handle, self._sweep_loop = loop.call_later(self._sweep_every, self._sweep), loop

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> TransportResponse:
        prefix, rest = _origin(url)
        key, host = self._route(prefix)
        request = b"".join(
            (
                b"POST ",
                _target(rest),
                b" HTTP/1.1\r\n",
                host,
                self._head(headers),
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            idle = self._idle[key]
            while idle and idle[-1].closed:  # the server hung up on these (or spoke out of turn) while idle
                self._drop(idle[-1])
            reused = bool(idle)
            conn: _Connection | None = None
            try:
                conn = idle.pop() if reused else await self._connect(*key)
                waiter = conn.exchange(request, loop, loop.time() + self.limits.timeout_s)
                self._watch(conn, loop)
                try:
                    answer = await waiter
                finally:
                    self._busy.discard(conn)
            except TimeoutError as exc:
                self._drop(conn)
                raise TransportError(f"timed out after {self.limits.timeout_s:g} s") from exc
            except (OSError, ssl.SSLError) as exc:
                self._drop(conn)
                if _unread(conn, reused, attempt):
                    continue
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc
            except TransportError:
                self._drop(conn)
                raise
            if answer.keep_alive and not conn.closed:
                idle.append(conn)
            else:
                self._drop(conn)
            if answer.status == 408 and reused and attempt == 1:
                continue  # the service timed the idle connection out and never read the request
            text = bytes(answer.body).decode("utf-8", "replace") if answer.body else ""
            return TransportResponse(answer.status, answer.retry_after, text)
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
