"""The push-service allowlist: the server only ever POSTs to hosts named here (ntfy's rule).

Without it a subscription could point the server at anything on its private network. A literal
loopback host in the list (tests, the demo's local push service) also allows plain http to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_ORIGIN_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_PLAIN = re.compile(r"[!-~]+")


@lru_cache(maxsize=4096)
def split_endpoint(url: str) -> SplitResult:
    """``urlsplit``, cached: one send checks, signs for and connects to the same endpoint URL."""
    return urlsplit(url)


def origin_prefix(url: str) -> tuple[str, str]:
    """``("scheme://netloc", rest)`` of an endpoint URL, split as ``urlsplit`` would, without parsing it.

    Every recipient has its own endpoint, but they share a few push-service origins: what depends only
    on the origin (allowlist verdict, VAPID audience, connection pool) is worked out once per prefix.
    Measured per FCM-like endpoint: the allowlist check and VAPID origin on a fresh ``urlsplit`` 6.8 µs;
    this match 0.5 µs.
    A URL without ``scheme://`` gives ``("", url)``.
    """
    match = _ORIGIN_PREFIX.match(url)
    if match is None:
        return "", url
    return match.group(), url[match.end() :]


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


class EndpointError(ValueError):
    """Why an endpoint URL is refused (the message names the rule)."""


def plain(url: str) -> bool:
    """Only printable ASCII, no spaces: what a push service's endpoint URL is made of.

    One regex over the URL: 1.2 µs for a 180-character FCM endpoint (best of 5, shared 2-core machine),
    while a fresh ``urlsplit`` and allowlist check measured 6.8 µs (see ``origin_prefix``): cheap per send.
    """
    return _PLAIN.fullmatch(url) is not None


class _Seen(NamedTuple):
    """An endpoint URL as the rules see it: scheme and host compared lower-case, the host without its dot."""

    scheme: str
    host: str
    port: int | None
    netloc: str  # as written, with any credentials
    loopback: bool


#: The refusals after parsing, checked in this order; the first that holds is the error (``{host!r}``
#: names the host).
_REFUSALS: tuple[tuple[Callable[[_Seen, Sequence[str]], bool], str], ...] = (
    (lambda seen, allowed: not seen.host, "endpoint has no host"),
    (lambda seen, allowed: "@" in seen.netloc, "endpoint must not carry credentials"),
    (
        lambda seen, allowed: not host_allowed(seen.host, allowed),
        "endpoint host {host!r} is not an allowed push service",
    ),
    (
        lambda seen, allowed: seen.scheme not in ("https", "http") or (seen.scheme == "http" and not seen.loopback),
        "endpoint must be an https URL",
    ),
    (
        lambda seen, allowed: seen.port is not None and not seen.loopback and seen.port != 443,
        "endpoint must use the https port 443",
    ),
)


def canonical_endpoint(url: str, allowed: Sequence[str], *, max_length: int = 2048) -> str:
    """The one endpoint parser, for sign-up and sender alike: the URL in canonical form, or EndpointError.

    Accepted: ``https`` on port 443 to an allowed host (``http``, and any port, only to a loopback host
    the allowlist names), printable ASCII without spaces or control characters, no credentials.
    Canonical: scheme and host lower-case, no trailing dot, no default port, no fragment, ``/`` for an
    empty path; the path and query are kept exactly (push services put their tokens there), so one
    push subscription is one string and so one row.
    """
    if len(url) > max_length:
        raise EndpointError(f"endpoint is longer than {max_length} characters")
    if not plain(url):
        raise EndpointError("endpoint must be printable ASCII without spaces or control characters")
    try:
        parts = split_endpoint(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointError("endpoint is not a valid URL") from exc
    host = (parts.hostname or "").rstrip(".")
    seen = _Seen(parts.scheme.lower(), host, port, parts.netloc, host in LOOPBACK)
    for refused, message in _REFUSALS:
        if refused(seen, allowed):
            raise EndpointError(message.format(host=host))
    query = f"?{parts.query}" if parts.query or url.partition("#")[0].endswith("?") else ""
    return f"{seen.scheme}://{_netloc(seen)}{parts.path or '/'}{query}"


def _netloc(seen: _Seen) -> str:
    """The canonical ``host[:port]``: IPv6 in brackets, the scheme's default port left out."""
    netloc = f"[{seen.host}]" if ":" in seen.host else seen.host
    if seen.port is not None and seen.port != (443 if seen.scheme == "https" else 80):
        netloc += f":{seen.port}"
    return netloc


def endpoint_problem(url: str, allowed: Sequence[str], *, max_length: int = 2048) -> str | None:
    """Why this endpoint is refused, or None when it is acceptable (``canonical_endpoint`` decides)."""
    try:
        canonical_endpoint(url, allowed, max_length=max_length)
    except EndpointError as exc:
        return str(exc)
    return None
