"""Send one encrypted, VAPID-signed Web Push message and say what the push service made of it.

The sender makes exactly one attempt and classifies the answer; retrying across attempts (and
deleting gone subscriptions) is the delivery worker's job, with ``backoff_delay`` as its clock.
What the sender does own is politeness: a cap on concurrent requests per push-service origin, and a
"not before" time after a 429 for exactly what the service said is throttled — the one subscription
(endpoint), or, only when the answer says our whole sender is over quota, the origin for at most
``MAX_ORIGIN_PAUSE_S``. One resident's throttled phone never delays anyone else. ``Retry-After`` is
parsed defensively (seconds or HTTP-date, capped at ``MAX_RETRY_AFTER_S``), and a pause never makes a
message expire untried: when the pause outlasts the message's TTL, it is sent anyway, as its last
chance.

HTTP client: our lean keep-alive client (``stream.py``) by default, aiohttp or httpx by setting.
``bench/push_client.py`` on this 2-core machine (docs/BENCHMARKS.md), 64 in flight to the local push
service in another process: raw POSTs 4,432/s with aiohttp vs 147/s with httpx.AsyncClient (222 vs
5,626 µs of client CPU each, encode/httpx#3215); the full send path (encrypt + VAPID + POST) 1,908/s
vs 117/s. In the same conditions the full send cost 319–439 µs of CPU with ``stream`` against
630–653 µs with aiohttp (a no-op transport: 258–304 µs), so the client, not the crypto, was the
bottleneck of fan-out; ``stream`` roughly halves the sender's CPU per message.

What depends only on the endpoint's ``scheme://netloc`` (allowlist verdict, VAPID audience, slots) is
worked out once per origin, and one headers dict serves every message of a notification to an origin,
so the transport encodes it once: every recipient has its own endpoint, but FCM is one origin. With the
stream client's cached header bytes and swept timeouts, a send went from 211–215 to 173–178 µs of CPU
(4,000–5,000 sends/s in a worker-shaped loop against the local push service; ~140 µs of it encryption).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, get_args

from pushsvc.webpush import ece
from pushsvc.webpush.auth import VapidSigner, origin_of
from pushsvc.webpush.hosts import endpoint_problem, origin_prefix, plain
from pushsvc.webpush.payload import topic_for
from pushsvc.webpush.slots import Slots
from pushsvc.webpush.transport import ClientName, Limits, Transport, TransportError, make_transport
from pushsvc.webpush.vapid import VapidIdentity

if TYPE_CHECKING:
    from pushsvc.config import Settings

log = logging.getLogger(__name__)

Urgency = Literal["very-low", "low", "normal", "high"]
URGENCIES: frozenset[str] = frozenset(get_args(Urgency))


@dataclass(frozen=True)
class PushTarget:
    """Where and to whom: a browser's PushSubscription (keys as base64url strings)."""

    endpoint: str
    p256dh: str
    auth: str


class Outcome(StrEnum):
    SENT = "sent"  # 201/202: the push service took it
    GONE = "gone"  # 404/410: the subscription is dead; delete it
    PAYLOAD_ERROR = "payload_error"  # 413: retrying cannot help
    RATE_LIMITED = "rate_limited"  # 429 (or this origin is still paused): retry after ``retry_after``
    RETRY = "retry"  # 5xx, timeout, connection error: retry with backoff
    REJECTED = "rejected"  # other 4xx (bad VAPID, bad request): record, do not retry
    REFUSED = "refused"  # never sent: endpoint not allowlisted or subscription keys unusable


RETRYABLE = frozenset({Outcome.RATE_LIMITED, Outcome.RETRY})


@dataclass(frozen=True)
class PushResult:
    outcome: Outcome
    status: int | None  # None when no HTTP answer came (or no request was made)
    reason: str
    retry_after: float | None = None  # seconds, from Retry-After or the origin's pause

    @property
    def retryable(self) -> bool:
        return self.outcome in RETRYABLE


MAX_RETRY_AFTER_S = 3600.0  # no push service gets to park a message longer than this on one answer
MAX_ORIGIN_PAUSE_S = 60.0  # a whole push service is paused at most this long (then tried again)
# Phrases with which push services say the *sender* (our VAPID key / project), not one subscription, is
# over its quota: FCM's QUOTA_EXCEEDED, and the wording Mozilla autopush and WNS use. Anything else is
# taken as a per-subscription limit, which pauses only that endpoint.
_SENDER_WIDE = ("quota_exceeded", "quota exceeded", "sender", "project", "too many requests from this client")


def parse_retry_after(
    value: str | None, *, now: datetime | None = None, cap_s: float = MAX_RETRY_AFTER_S
) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date, at most ``cap_s``;
    None if unusable. Never raises: the header is the push service's, whatever it holds."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(cap_s, float(value))  # a thousand digits is inf, then the cap
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    except OverflowError:
        return cap_s
    return min(cap_s, max(0.0, seconds))


def sender_wide(text: str) -> bool:
    """Whether a 429 says our whole sender is throttled (pause the origin) rather than one subscription."""
    lowered = text.lower()
    return any(marker in lowered for marker in _SENDER_WIDE)


def classify(status: int, text: str = "", retry_after: str | None = None) -> PushResult:
    reason = f"{status} {text.strip()[:200]}".strip()
    if 200 <= status < 300:
        return PushResult(Outcome.SENT, status, reason)
    if status in (404, 410):
        return PushResult(Outcome.GONE, status, reason)
    if status == 413:
        return PushResult(Outcome.PAYLOAD_ERROR, status, reason)
    if status == 429:
        return PushResult(Outcome.RATE_LIMITED, status, reason, parse_retry_after(retry_after))
    if status >= 500 or status == 408:  # 408: the service dropped the request unread; safe to send again
        return PushResult(Outcome.RETRY, status, reason, parse_retry_after(retry_after))
    return PushResult(Outcome.REJECTED, status, reason)


def backoff_delay(
    attempt: int, *, base_s: float = 2.0, cap_s: float = 900.0, rng: random.Random | None = None
) -> float:
    """Delay before retry number ``attempt`` (1, 2, …): exponential, capped, half of it jittered.

    The jitter keeps a batch of failures from coming back at the push service in one burst.
    """
    ceiling = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
    jitter = rng.uniform(0, ceiling / 2) if rng is not None else random.uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


@dataclass(frozen=True)
class _Origin:
    """What a send needs that depends only on the endpoint's ``scheme://netloc``, worked out once."""

    problem: str | None  # why the allowlist refuses it, or None
    origin: str  # VAPID audience, and the key of pauses and slots
    slots: Slots


_MAX_CACHED = 1024  # distinct origins or header sets; far more than a real deployment has


def encrypt(target: PushTarget, payload: bytes) -> bytes:
    """RFC 8291 aes128gcm ciphertext for this subscriber (fresh ephemeral key and salt each time)."""
    return ece.encrypt(payload, target.p256dh, target.auth)


class PushSender:
    """One per worker process: owns the pooled client, the JWT cache and the per-origin pauses."""

    def __init__(
        self,
        identity: VapidIdentity,
        subject: str,
        *,
        allowed_hosts: Sequence[str],
        limits: Limits = Limits(),
        client: ClientName = "stream",
        transport: Transport | None = None,
        max_wait_s: float = 30.0,
        default_retry_after_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.signer = VapidSigner(identity, subject)
        self.allowed_hosts = list(allowed_hosts)
        self.limits = limits
        self.transport = transport or make_transport(client, limits)
        self.max_wait_s = max_wait_s
        self.default_retry_after_s = default_retry_after_s
        self._monotonic = monotonic
        self._not_before: dict[str, float] = {}  # origin or endpoint -> monotonic time it may be sent to
        self._slots: dict[str, Slots] = {}
        self._origins: dict[str, _Origin] = {}
        self._headers: dict[tuple[str, int, str, str | None], dict[str, str]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, identity: VapidIdentity, **kwargs: object) -> PushSender:
        if not settings.vapid_subject:
            raise ValueError("PUSHSVC_VAPID_SUBJECT must be set (a real mailto: or https: contact) to send")
        limits = Limits(
            timeout_s=settings.push_timeout_s,
            connect_timeout_s=min(settings.push_timeout_s, 5.0),
            per_origin=settings.push_per_origin_concurrency,
        )
        return cls(
            identity,
            settings.vapid_subject,
            allowed_hosts=settings.allowed_push_hosts,
            limits=limits,
            max_wait_s=settings.push_max_rate_limit_wait_s,
            **{"client": settings.push_client, **kwargs},  # type: ignore[arg-type]
        )

    async def __aenter__(self) -> PushSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    def paused_for(self, endpoint: str) -> float:
        """Seconds until this endpoint may be sent to again, by its own pause or its origin's (0 = now)."""
        return max(self._paused(endpoint), self._paused(origin_of(endpoint)))

    def _paused(self, key: str) -> float:
        until = self._not_before.get(key)
        if until is None:
            return 0.0
        left = until - self._monotonic()
        if left <= 0:
            del self._not_before[key]
            return 0.0
        return left

    def pause_origin(self, endpoint: str, seconds: float) -> None:
        self._pause(origin_of(endpoint), min(seconds, MAX_ORIGIN_PAUSE_S))

    def _pause(self, key: str, seconds: float) -> None:
        if len(self._not_before) >= 100_000:  # a flood of throttled endpoints: forget the ones that ran out
            now = self._monotonic()
            self._not_before = {k: t for k, t in self._not_before.items() if t > now}
        until = self._monotonic() + seconds
        self._not_before[key] = max(until, self._not_before.get(key, 0.0))

    def _origin(self, endpoint: str) -> _Origin:
        prefix, _ = origin_prefix(endpoint)
        # The origin's verdict stands for every URL under it that is plain ASCII within the length limit;
        # any other URL gets the full check of ``hosts.canonical_endpoint``, the parser sign-up uses.
        cacheable = bool(prefix) and len(endpoint) <= 2048 and plain(endpoint)
        info = self._origins.get(prefix) if cacheable else None
        if info is None:
            problem = endpoint_problem(prefix if cacheable else endpoint, self.allowed_hosts)
            origin = "" if problem else origin_of(prefix)
            slots = self._slots.get(origin)
            if slots is None:
                slots = self._slots[origin] = Slots(self.limits.per_origin)
            info = _Origin(problem, origin, slots)
            if cacheable:
                if len(self._origins) >= _MAX_CACHED:
                    self._origins.clear()
                self._origins[prefix] = info
        return info

    def _headers_for(self, origin: str, ttl: int, urgency: str, topic: str | None) -> dict[str, str]:
        """The same dict for every message of a notification to one origin: the transport caches its bytes."""
        authorization = self.signer.for_origin(origin)
        key = (authorization, ttl, urgency, topic)
        headers = self._headers.get(key)
        if headers is None:
            headers = {
                "Authorization": authorization,
                "TTL": str(ttl),
                "Urgency": urgency,
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
            }
            if topic is not None:
                headers["Topic"] = topic_for(topic)
            if len(self._headers) >= _MAX_CACHED:
                self._headers.clear()
            self._headers[key] = headers
        return headers

    async def send(
        self,
        target: PushTarget,
        payload: bytes,
        *,
        ttl: int,
        urgency: Urgency = "normal",
        topic: str | None = None,
        priority: int = 3,
    ) -> PushResult:
        """One attempt. ``ttl`` is required: pywebpush's default of 0 drops messages to offline phones.

        ``priority``: the message's lane (0 first): who gets the next free connection to the origin."""
        if ttl < 0:
            raise ValueError("ttl must be >= 0 seconds")
        if urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {sorted(URGENCIES)}")
        info = self._origin(target.endpoint)
        if info.problem is not None:
            return PushResult(Outcome.REFUSED, None, info.problem)
        origin = info.origin
        wait = max(self._paused(origin), self._paused(target.endpoint)) if self._not_before else 0.0
        if wait >= ttl > 0 or (wait > 0 and ttl == 0):
            wait = 0.0  # paused past the message's lifetime: send now, its last chance, rather than never
        if wait > self.max_wait_s:
            return PushResult(Outcome.RATE_LIMITED, None, f"{origin} is rate limiting this endpoint", wait)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            body = encrypt(target, payload)
        except ValueError as exc:
            return PushResult(Outcome.REFUSED, None, f"unusable subscription keys: {exc}")
        headers = self._headers_for(origin, ttl, urgency, topic)
        await info.slots.acquire(priority)
        answered_in: float | None = None
        try:
            started = time.monotonic()
            resp = await self.transport.post(target.endpoint, headers, body)
            if resp.status < 300:  # a refusal may come back at once, before any work: it says nothing of the wait
                answered_in = time.monotonic() - started
        except TransportError as exc:
            return PushResult(Outcome.RETRY, None, str(exc))
        finally:
            info.slots.release(answered_in)
        result = classify(resp.status, resp.text, resp.retry_after)
        if result.outcome is Outcome.RATE_LIMITED:
            return self._throttled(result, resp.text, origin, target.endpoint)
        return result

    def _throttled(self, result: PushResult, text: str, origin: str, endpoint: str) -> PushResult:
        """A 429: pause what it throttles (the origin, when it says our whole sender is over quota, or else
        the one endpoint) and say for how long, the service's own delay or our default."""
        delay = result.retry_after if result.retry_after is not None else self.default_retry_after_s
        if sender_wide(text):
            delay = min(delay, MAX_ORIGIN_PAUSE_S)
            self._pause(origin, delay)
            log.info("push service %s throttles our sender; pausing it for %.0f s", origin, delay)
        else:
            self._pause(endpoint, delay)
        if result.retry_after is None:
            result = PushResult(result.outcome, result.status, result.reason, delay)
        return result
