"""Every push client (stream, aiohttp, httpx) against the faults real networks have: a push service that
times out idle connections with 408, bytes on an idle connection, and a prefecture network that only
lets traffic out through an HTTP CONNECT proxy."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pushsvc.dev.devpush import DevPush
from pushsvc.dev.devpush.runner import run_devpush
from pushsvc.webpush.sender import Outcome, PushResult
from pushsvc.webpush.stream import StreamTransport
from pushsvc.webpush.transport import ClientName, Limits, Transport, make_transport
from pushsvc.webpush.vapid import VapidIdentity
from tests.webpush.conftest import make_sender, target
from tests.webpush.test_stream import _self_signed

CLIENTS: tuple[ClientName, ...] = ("stream", "aiohttp", "httpx")
LIMITS = Limits(timeout_s=2.0, connect_timeout_s=1.0, per_origin=4)


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


async def _send_until_final(sender: object, tgt: object, tries: int = 3) -> list[PushResult]:
    """What a worker does across attempts: send again while the answer says it may be retried."""
    results: list[PushResult] = []
    for _ in range(tries):
        result = await sender.send(tgt, b'{"n":1}', ttl=60)  # type: ignore[attr-defined]
        results.append(result)
        if not result.retryable:
            break
    return results


@pytest.mark.parametrize("client", CLIENTS)
def test_a_408_on_an_idle_connection_is_retried_and_delivered_once(
    client: ClientName, devpush: DevPush, identity: VapidIdentity
) -> None:
    devpush.state.idle_408_s = 0.2
    sub = devpush.subscribe()
    try:

        async def go() -> tuple[list[PushResult], list[PushResult]]:
            async with make_sender(identity, transport=make_transport(client, LIMITS)) as sender:
                first = await _send_until_final(sender, target(devpush, sub))
                await asyncio.sleep(0.35)  # the kept-alive connection is now past the service's idle timeout
                second = await _send_until_final(sender, target(devpush, sub))
                return first, second

        first, second = asyncio.run(go())
    finally:
        devpush.state.idle_408_s = None
    assert first[-1].outcome is Outcome.SENT and second[-1].outcome is Outcome.SENT
    assert all(r.outcome in (Outcome.SENT, Outcome.RETRY) for r in second)
    assert devpush.state.stats()["counters"].get("status_408", 0) >= 1  # type: ignore[attr-defined]
    assert len(devpush.received(sub)) == 2  # each message exactly once


@pytest.mark.parametrize("client", CLIENTS)
def test_bytes_that_arrive_on_an_idle_connection_are_never_read_as_the_next_answer(client: ClientName) -> None:
    created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    stale = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    async def go() -> tuple[int, int, int]:
        connections: list[int] = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(1)
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(1)
                writer.write(created)
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(stale)  # spoken while the client holds the connection idle; not closed
                await writer.drain()
                await reader.readuntil(b"\r\n\r\n")  # a client that reuses it anyway gets the stale 408 first
                await reader.readexactly(1)
                writer.write(created)
                await writer.drain()
                await reader.read()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        t = make_transport(client, LIMITS)
        try:
            first = await t.post(f"http://127.0.0.1:{port}/p", {"TTL": "60"}, b"1")
            await asyncio.sleep(0.2)
            second = await t.post(f"http://127.0.0.1:{port}/p", {"TTL": "60"}, b"2")
        finally:
            await t.aclose()
            server.close()
        return first.status, second.status, len(connections)

    first, second, connections = asyncio.run(go())
    assert (first, second) == (201, 201)
    assert connections == 2


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback that remembers every tunnel it opened."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, authority, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = authority.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
            self.tunnels.append(authority)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                with contextlib.suppress(ConnectionError):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                dst.close()

            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ConnectProxy]:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()


@pytest.fixture(scope="module")
def tls_devpush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevPush, ssl.SSLContext]]:
    """The local push service over https, as every real one is, and a client context trusting it."""
    cert, key = _self_signed(Path(tmp_path_factory.mktemp("tls")))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with run_devpush(tls=server_tls) as push:
        yield push, ssl.create_default_context(cafile=str(cert))


def _trusting(client: ClientName, trust: ssl.SSLContext) -> Transport:
    if client == "stream":  # (the stream client took a trust context before the others did)
        return StreamTransport(LIMITS, ssl_context=trust)
    return make_transport(client, LIMITS, trust)


@pytest.mark.parametrize("client", CLIENTS)
def test_pushes_go_through_the_https_proxy_and_no_proxy_bypasses_it(
    client: ClientName,
    tls_devpush: tuple[DevPush, ssl.SSLContext],
    identity: VapidIdentity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    push, trust = tls_devpush
    push.state.reset()
    sub = push.subscribe()
    proxy = ConnectProxy()

    async def go(proxied: bool) -> PushResult:
        async with proxy.running():
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
            if not proxied:
                monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            async with make_sender(identity, transport=_trusting(client, trust)) as sender:
                return await sender.send(target(push, sub), b'{"via":"proxy"}', ttl=60)

    through = asyncio.run(go(proxied=True))
    assert through.outcome is Outcome.SENT, through
    port = push.url.rsplit(":", 1)[1]
    assert proxy.tunnels == [f"127.0.0.1:{port}"]
    assert [m.json() for m in push.received(sub)] == [{"via": "proxy"}]  # decrypted at the far end

    proxy.tunnels.clear()
    direct = asyncio.run(go(proxied=False))
    assert direct.outcome is Outcome.SENT and proxy.tunnels == []
    assert len(push.received(sub)) == 2
