"""Every push client (the lean ``stream`` one, aiohttp, httpx) against scripted servers: the answers real push
services give, and their faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pushsvc.webpush.stream import StreamTransport
from pushsvc.webpush.transport import ClientName, Limits, Transport, TransportError, make_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LIMITS = Limits(timeout_s=1.0, connect_timeout_s=1.0)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


async def _serve(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int, list[int]]:
    connections: list[int] = []

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1], connections


def _answers(*responses: bytes, close_after: bool = False) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            await _read_request(reader)
            writer.write(response)
            await writer.drain()
        if not close_after:
            await reader.read()  # keep the connection open until the client leaves

    return handler


@pytest.fixture(params=["stream", "aiohttp", "httpx"])
def client(request: pytest.FixtureRequest) -> ClientName:
    return request.param  # type: ignore[no-any-return]


def _transport(client: ClientName, limits: Limits = LIMITS, ssl_context: ssl.SSLContext | None = None) -> Transport:
    return make_transport(client, limits, ssl_context)


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_keep_alive_reuses_one_connection_and_reads_retry_after(client: ClientName) -> None:
    async def go() -> None:
        created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        limited = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nslow"
        server, port, conns = await _serve(_answers(created, limited))
        t = _transport(client)
        first = await t.post(f"http://127.0.0.1:{port}/push/a", {"TTL": "60"}, b"x" * 10)
        second = await t.post(f"http://127.0.0.1:{port}/push/b", {"TTL": "60"}, b"y")
        assert (first.status, second.status, second.retry_after, second.text) == (201, 429, "7", "slow")
        assert len(conns) == 1
        await t.aclose()
        server.close()

    run(go())


def test_chunked_and_close_delimited_answers_are_read_whole(client: ClientName) -> None:
    async def go() -> None:
        chunked = b"HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        server, port, _ = await _serve(_answers(chunked))
        t = _transport(client)
        r = await t.post(f"http://127.0.0.1:{port}/p", {}, b"")
        assert (r.status, r.text) == (410, "hello world")
        server.close()
        until_close = b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nbroken"
        server, port, _ = await _serve(_answers(until_close, close_after=True))
        r = await t.post(f"http://127.0.0.1:{port}/p", {}, b"")
        assert (r.status, r.text) == (500, "broken")
        await t.aclose()
        server.close()

    run(go())


def test_a_connection_the_server_closed_while_idle_is_replaced_transparently(client: ClientName) -> None:
    async def go() -> None:
        created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        server, port, conns = await _serve(_answers(created, close_after=True))
        t = _transport(client)
        assert (await t.post(f"http://127.0.0.1:{port}/p", {}, b"1")).status == 201
        await asyncio.sleep(0.05)  # the server has closed the kept-alive connection
        assert (await t.post(f"http://127.0.0.1:{port}/p", {}, b"2")).status == 201
        assert len(conns) == 2
        await t.aclose()
        server.close()

    run(go())


@pytest.mark.parametrize("reply", [b"garbage\r\n\r\n", b"HTTP/1.1 20x Nope\r\n\r\n"])
def test_garbage_is_a_transport_error(reply: bytes, client: ClientName) -> None:
    async def go() -> None:
        server, port, _ = await _serve(_answers(reply))
        t = _transport(client)
        with pytest.raises(TransportError):
            await t.post(f"http://127.0.0.1:{port}/p", {}, b"")
        await t.aclose()
        server.close()

    run(go())


def test_a_stalled_server_times_out_and_an_unreachable_one_fails(client: ClientName) -> None:
    async def go() -> None:
        async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            await asyncio.sleep(5)

        server, port, _ = await _serve(stall)
        t = _transport(client, Limits(timeout_s=0.3, connect_timeout_s=0.3))
        with pytest.raises(TransportError, match="timed out"):
            await t.post(f"http://127.0.0.1:{port}/p", {}, b"")
        server.close()
        await server.wait_closed()
        with pytest.raises(TransportError):
            await t.post(f"http://127.0.0.1:{port}/p", {}, b"")
        await t.aclose()

    run(go())


def test_timeouts_still_fire_when_the_transport_outlives_an_event_loop() -> None:
    t = StreamTransport(Limits(timeout_s=0.3, connect_timeout_s=0.3))

    async def stalled_post() -> None:
        async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            await asyncio.sleep(5)

        server, port, _ = await _serve(stall)
        started = asyncio.get_running_loop().time()
        with pytest.raises(TransportError, match="timed out"):
            await t.post(f"http://127.0.0.1:{port}/p", {}, b"")
        assert asyncio.get_running_loop().time() - started < 1.0  # the sweep fires at most a tenth late
        server.close()

    run(stalled_post())
    run(stalled_post())  # the first loop's sweep is gone with it; this one must arm its own
    run(t.aclose())


def test_the_request_line_keeps_the_query_and_drops_the_fragment(client: ClientName) -> None:
    async def go() -> None:
        seen: list[bytes] = []

        async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                seen.append((await _read_request(reader)).split(b"\r\n", 1)[0])
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()

        server, port, _ = await _serve(record)
        t = _transport(client)
        for url in (
            f"http://127.0.0.1:{port}/push/a?x=1#frag",
            f"http://127.0.0.1:{port}?y=2",
            f"http://127.0.0.1:{port}",
        ):
            assert (await t.post(url, {"TTL": "1"}, b"")).status == 201
        assert seen == [b"POST /push/a?x=1 HTTP/1.1", b"POST /?y=2 HTTP/1.1", b"POST / HTTP/1.1"]
        await t.aclose()
        server.close()

    run(go())


def test_header_injection_and_malformed_urls_are_refused_before_sending(client: ClientName) -> None:
    async def go() -> None:
        t = _transport(client)
        with pytest.raises(TransportError, match="line break"):
            await t.post("http://127.0.0.1:9/p", {"Topic": "a\r\nX-Evil: 1"}, b"")
        for url in (
            "http://127.0.0.1:9/p q",
            "http://127.0.0.1:9/p\r\nX: 1",
            "127.0.0.1:9/p",
            "ftp://127.0.0.1/p",
            "http://127.0.0.1:9/プッシュ",
        ):
            with pytest.raises(TransportError, match="malformed"):
                await t.post(url, {}, b"")

    run(go())


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_verifies_the_certificate(tmp_path: Path, client: ClientName) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def go() -> None:
        created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        server, port, _ = await _serve(_answers(created, created), tls=server_tls)
        trusting = ssl.create_default_context(cafile=str(cert))
        t = _transport(client, LIMITS, trusting)
        assert (await t.post(f"https://127.0.0.1:{port}/p", {}, b"secret")).status == 201
        await t.aclose()
        untrusting = _transport(client)  # the system trust store does not know this certificate
        with pytest.raises(TransportError):
            await untrusting.post(f"https://127.0.0.1:{port}/p", {}, b"secret")
        await untrusting.aclose()
        server.close()

    run(go())
