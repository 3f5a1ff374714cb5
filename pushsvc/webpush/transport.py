"""The pooled HTTP client behind the sender, in three interchangeable flavours.

``stream`` (ours, on httptools) is the default because it costs the least CPU per push (numbers in
``sender.py`` and docs/BENCHMARKS.md); aiohttp and httpx are kept as fallbacks and measured by
``bench/push_client.py``. Each turns every network failure into ``TransportError`` so the sender
classifies just one exception, and each honours ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (an HTTP
CONNECT tunnel for https), as the feed poller's httpx does: on a proxied prefecture network feeds and
pushes take the same way out. The same transport tests run against all three (tests/webpush).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
import httpx

ClientName = Literal["stream", "aiohttp", "httpx"]
_REASON_BYTES = 512  # enough of an error body to explain it; never read a huge one
UNSAFE_URL = re.compile(r"[\r\n\t ]")


@dataclass(frozen=True)
class TransportResponse:
    status: int
    retry_after: str | None
    text: str


class TransportError(Exception):
    """The request never got an HTTP answer (connect error, reset, timeout)."""


def refuse_unsafe(url: str, headers: Mapping[str, str]) -> None:
    """What no client may put on the wire, checked before sending: header injection, a URL that is
    not plain ``http(s)://host/…`` ASCII (the stream client checks the same once per origin/header set)."""
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise TransportError(f"refusing a header with a line break: {name}")
    scheme, sep, rest = url.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or UNSAFE_URL.search(url) or not url.isascii():
        raise TransportError("refusing to send to a malformed URL")


class Transport(Protocol):
    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> TransportResponse: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    per_origin: int = 256
    total: int = 1024


class AiohttpTransport:
    """One ``ClientSession`` (keep-alive pool, per-host connection cap), made lazily inside the loop."""

    def __init__(self, limits: Limits = Limits(), ssl_context: ssl.SSLContext | None = None) -> None:
        self.limits = limits
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.limits.total,
                limit_per_host=self.limits.per_origin,
                ttl_dns_cache=300,
                ssl=self._ssl if self._ssl is not None else True,
            )
            timeout = aiohttp.ClientTimeout(total=self.limits.timeout_s, connect=self.limits.connect_timeout_s)
            # trust_env: HTTPS_PROXY/HTTP_PROXY/NO_PROXY, as the other clients
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=True)
        return self._session

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> TransportResponse:
        refuse_unsafe(url, headers)
        try:
            for attempt in (1, 2):
                async with self._client().post(url, data=body, headers=dict(headers)) as resp:
                    text = (await resp.content.read(_REASON_BYTES)).decode("utf-8", "replace")
                    if resp.status == 408 and attempt == 1:
                        continue  # a stale 408 from a pooled connection: the request was not read
                    return TransportResponse(resp.status, resp.headers.get("Retry-After"), text)
            raise TransportError("unreachable")  # pragma: no cover
        except TimeoutError as exc:
            raise TransportError(f"timed out after {self.limits.timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxTransport:
    """One ``httpx.AsyncClient``; kept for the benchmark and for anyone who must avoid aiohttp."""

    def __init__(self, limits: Limits = Limits(), ssl_context: ssl.SSLContext | None = None) -> None:
        self.limits = limits
        self._ssl = ssl_context
        self._client: httpx.AsyncClient | None = None

    def _get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=self.limits.total, max_keepalive_connections=self.limits.total),
                timeout=httpx.Timeout(self.limits.timeout_s, connect=self.limits.connect_timeout_s),
                verify=self._ssl if self._ssl is not None else True,
                trust_env=True,  # HTTPS_PROXY/HTTP_PROXY/NO_PROXY, as the other clients
            )
        return self._client

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> TransportResponse:
        refuse_unsafe(url, headers)
        try:
            resp = await self._get().post(url, content=body, headers=dict(headers))
            if resp.status_code == 408:  # a stale 408 from a pooled connection: the request was not read
                resp = await self._get().post(url, content=body, headers=dict(headers))
        except httpx.TimeoutException as exc:
            raise TransportError(f"timed out after {self.limits.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return TransportResponse(resp.status_code, resp.headers.get("Retry-After"), resp.text[:_REASON_BYTES])

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def make_transport(
    name: ClientName = "stream", limits: Limits = Limits(), ssl_context: ssl.SSLContext | None = None
) -> Transport:
    """``ssl_context``: whom to trust for https push services (default: the system's store)."""
    if name == "stream":
        from pushsvc.webpush.stream import StreamTransport

        return StreamTransport(limits, ssl_context)
    if name == "aiohttp":
        return AiohttpTransport(limits, ssl_context)
    if name == "httpx":
        return HttpxTransport(limits, ssl_context)
    raise ValueError(f"unknown HTTP client {name!r}")


__all__ = [
    "AiohttpTransport",
    "ClientName",
    "HttpxTransport",
    "Limits",
    "Transport",
    "TransportError",
    "TransportResponse",
    "make_transport",
]
