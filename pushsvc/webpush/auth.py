"""RFC 8292 VAPID ``Authorization`` headers, one cached JWT per push-service origin.

Signing costs an ECDSA operation; a fan-out of 100,000 messages to FCM needs one JWT, not 100,000.
Push services accept a token until its ``exp`` (at most 24 h ahead), so a token lives ~12 h here and is
replaced once less than half of that is left: a message never leaves with a token about to lapse.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from pushsvc.webpush.hosts import split_endpoint
from pushsvc.webpush.vapid import VapidIdentity, b64url

JWT_LIFETIME_S = 12 * 3600
RENEW_WHEN_LEFT_S = 6 * 3600
_JWT_HEADER = b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` as VAPID ``aud`` wants it (default ports dropped, host lower-cased)."""
    parts = split_endpoint(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    scheme = parts.scheme.lower()
    if port is None or (scheme, port) in {("https", 443), ("http", 80)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def sign_jwt(identity: VapidIdentity, claims: dict[str, object]) -> str:
    """An ES256 JWT (raw r||s signature, as JOSE wants, not DER)."""
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{_JWT_HEADER}.{body}".encode("ascii")
    der = identity.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{_JWT_HEADER}.{body}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@dataclass(frozen=True)
class _Token:
    header: str
    expires_at: float


class VapidSigner:
    """Hands out ``vapid t=…, k=…`` header values, re-signing per origin only when needed."""

    def __init__(
        self,
        identity: VapidIdentity,
        subject: str,
        *,
        lifetime_s: int = JWT_LIFETIME_S,
        renew_when_left_s: int = RENEW_WHEN_LEFT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (subject.startswith("mailto:") or subject.startswith("https://")):
            raise ValueError("the VAPID subject must be a mailto: or https: contact")
        if not 0 < renew_when_left_s < lifetime_s <= 24 * 3600:
            raise ValueError("need 0 < renew_when_left_s < lifetime_s <= 24 h")
        self.identity = identity
        self.subject = subject
        self.lifetime_s = lifetime_s
        self.renew_when_left_s = renew_when_left_s
        self.clock = clock
        self.signed = 0  # how many JWTs were made: lets tests see the cache work
        self._tokens: dict[str, _Token] = {}
        self._key = identity.public_key_b64url

    def authorization(self, endpoint: str) -> str:
        return self.for_origin(origin_of(endpoint))

    def for_origin(self, origin: str) -> str:
        now = self.clock()
        token = self._tokens.get(origin)
        if token is None or token.expires_at - now < self.renew_when_left_s:
            expires_at = int(now) + self.lifetime_s
            # A fresh dict per origin and signature: nothing shared can be mutated under us.
            claims: dict[str, object] = {"aud": origin, "exp": expires_at, "sub": self.subject}
            token = _Token(f"vapid t={sign_jwt(self.identity, claims)}, k={self._key}", expires_at)
            self._tokens[origin] = token
            self.signed += 1
        return token.header
