"""Feed pollers: one asyncio task per configured source, run by ``pushsvc poll`` (or ``pushsvc worker --poll``).

Each poll is: conditional GET (ETag / Last-Modified, with a timeout) → adapter parses (no database) → one
transaction applies it (alerts, notifications, engine state, source state). Any failure — connection refused,
timeout, 5xx, a body that does not parse, a bug — is recorded on the source and the next poll waits the
interval doubled per consecutive failure (capped), so a broken publisher is not hammered and the poller never
dies. Database steps run in threads so a slow commit never stalls the other sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from pushsvc import __version__
from pushsvc.config import Settings
from pushsvc.db import session_scope
from pushsvc.feeds import service
from pushsvc.feeds.adapters import Adapter, FeedFormatError, make_adapter
from pushsvc.feeds.service import SentAlert
from pushsvc.feeds.sources import HostNotAllowed, SourceConfig, host_allowed

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 20 * 1024 * 1024
USER_AGENT = f"pushsvc/{__version__} (disaster-alert feed poller)"


class FetchError(Exception):
    """The source did not give us a document (network, timeout, HTTP status, oversize)."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200 or 304
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


MAX_REDIRECTS = 5


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout_s: float,
    etag: str | None = None,
    last_modified: str | None = None,
    allowed_hosts: Collection[str] | None = None,
) -> Fetched:
    """GET with validators; 304 → ``Fetched(304)``; anything but 200/304 raises ``FetchError``.

    Redirects are followed here, hop by hop, and only to ``allowed_hosts``: a feed (or a hijacked link in
    it) cannot make the poller fetch from anywhere else.
    """
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout_s):  # total time: a server that trickles bytes still times out
            for _ in range(MAX_REDIRECTS + 1):
                if not host_allowed(url, allowed_hosts):
                    raise HostNotAllowed(f"host of {url[:200]} is not in this source's allowed_hosts")
                r = await client.get(url, headers=headers, timeout=timeout_s, follow_redirects=False)
                if not r.has_redirect_location:
                    break
                url = str(r.url.join(r.headers.get("Location", "")))
            else:
                raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError as exc:
        raise FetchError(f"no complete answer within {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}".strip()) from exc
    if r.status_code == 304:
        return Fetched(304, etag=etag, last_modified=last_modified)
    if r.status_code != 200:
        raise FetchError(f"HTTP {r.status_code}")
    if len(r.content) > MAX_FEED_BYTES:
        raise FetchError(f"document of {len(r.content)} bytes is over the {MAX_FEED_BYTES} byte limit")
    return Fetched(200, r.content, r.headers.get("ETag"), r.headers.get("Last-Modified"))


@dataclass
class PollResult:
    source: str
    ok: bool
    changed: bool = False
    sent: list[SentAlert] = field(default_factory=list)
    error: str | None = None
    next_poll_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class SourcePoller:
    """Polls one source; ``poll_once`` is the whole unit (tests and the demo call it directly)."""

    def __init__(
        self,
        cfg: SourceConfig,
        settings: Settings,
        factory: sessionmaker[Session],
        client: httpx.AsyncClient,
        adapter: Adapter | None = None,
    ) -> None:
        self.cfg, self.settings, self.factory, self.client = cfg, settings, factory, client
        self.adapter = adapter or make_adapter(cfg, settings)

    def _load(self) -> tuple[str | None, str | None, dict[str, Any], datetime | None]:
        with session_scope(self.factory) as s:
            row = service.get_source(s, self.cfg, now=_now())
            return row.etag, row.last_modified, dict(row.state), row.next_poll_at

    def next_poll_at(self) -> datetime | None:
        return self._load()[3]

    async def _get(self, url: str) -> bytes:
        return (await fetch(self.client, url, timeout_s=self.cfg.timeout_s, allowed_hosts=self.cfg.allowed_hosts)).body

    def _apply(self, fetched: Fetched, prepared: Any) -> PollResult:
        now = _now()
        with session_scope(self.factory) as s:
            row = service.get_source(s, self.cfg, now=now, lock=True)
            sent = self.adapter.apply(s, row, prepared, now=now) if prepared is not None else []
            service.record_success(
                s,
                row,
                self.cfg,
                now=now,
                changed=fetched.status == 200,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
            )
            service.source_heard(s, row.name)
            return PollResult(self.cfg.name, True, fetched.status == 200, sent, next_poll_at=row.next_poll_at)

    def _fail(self, error: str) -> PollResult:
        with session_scope(self.factory) as s:
            now = _now()
            row = service.record_failure(s, self.cfg, error, now=now, max_backoff_s=self.settings.feed_max_backoff_s)
            service.source_silent(s, row, now=now, unhealthy_after_s=self.settings.feed_unhealthy_after_s)
            return PollResult(self.cfg.name, False, error=error, next_poll_at=row.next_poll_at)

    async def poll_once(self) -> PollResult:
        try:
            etag, last_modified, state, _ = await asyncio.to_thread(self._load)
            fetched = await fetch(
                self.client,
                self.cfg.url,
                timeout_s=self.cfg.timeout_s,
                etag=etag,
                last_modified=last_modified,
                allowed_hosts=self.cfg.allowed_hosts,
            )
            prepared = (
                await self.adapter.prepare(fetched.body, state, self._get)
                if fetched.status == 200
                else await self.adapter.unchanged(state, self._get)
            )
            return await asyncio.to_thread(self._apply, fetched, prepared)
        except Exception as exc:  # the poller must outlive anything a publisher (or a bug) throws at it
            expected = isinstance(exc, FetchError | FeedFormatError | HostNotAllowed)
            error = str(exc) if expected else f"{type(exc).__name__}: {exc}"
            log.warning("feed %s failed: %s", self.cfg.name, error, exc_info=not expected)
            try:
                return await asyncio.to_thread(self._fail, error)
            except Exception:
                log.exception("feed %s: could not record the failure", self.cfg.name)
                return PollResult(self.cfg.name, False, error=error)


class Poller:
    """Every enabled source on its own schedule, until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        sources: Sequence[SourceConfig],
        *,
        on_result: Callable[[PollResult], None] | None = None,
    ) -> None:
        self.settings, self.factory = settings, factory
        self.sources = [s for s in sources if s.enabled]
        self.on_result = on_result
        self.pollers: dict[str, SourcePoller] = {}

    @staticmethod
    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT}, follow_redirects=False, limits=httpx.Limits(max_connections=8)
        )

    async def _loop(self, poller: SourcePoller, stop: asyncio.Event) -> None:
        next_at = await asyncio.to_thread(poller.next_poll_at)  # a restart honours a running backoff
        while not stop.is_set():
            wait = (next_at - _now()).total_seconds() if next_at else 0.0
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                if stop.is_set():
                    return
            result = await poller.poll_once()
            if self.on_result:
                self.on_result(result)
            next_at = result.next_poll_at or _now()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        if not self.sources:
            log.info("no feed sources configured (PUSHSVC_FEEDS_FILE); the poller idles")
            await stop.wait()
            return
        async with self.client() as client:
            for cfg in self.sources:
                self.pollers[cfg.name] = SourcePoller(cfg, self.settings, self.factory, client)
            log.info("polling %s", ", ".join(f"{c.name} every {c.interval_s:g} s" for c in self.sources))
            await asyncio.gather(*(self._loop(p, stop) for p in self.pollers.values()))
