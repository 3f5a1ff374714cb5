"""The push-service side of RFC 8292: verify a ``vapid t=…, k=…`` header the way FCM or Mozilla would.

Written against ``cryptography`` alone so a bug in our signing cannot hide itself by being mirrored here.
"""

from __future__ import annotations

import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pushsvc.webpush.vapid import b64url_decode

MAX_EXP_AHEAD_S = 24 * 3600
CLOCK_SKEW_S = 60


class VapidRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_header(value: str | None) -> tuple[str, str]:
    """(jwt, k) from ``vapid t=<jwt>, k=<key>``; 401 when absent or another scheme."""
    if not value:
        raise VapidRefused(401, "missing Authorization")
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise VapidRefused(401, f"unsupported Authorization scheme {scheme!r}")
    parts: dict[str, str] = {}
    for item in params.split(","):
        name, _, val = item.strip().partition("=")
        parts[name.strip().lower()] = val.strip()
    if not parts.get("t") or not parts.get("k"):
        raise VapidRefused(401, "vapid Authorization needs t= and k=")
    return parts["t"], parts["k"]


def _check_signature(token: str, raw_key: bytes) -> dict[str, object]:
    """The claims of an ES256 JWT signed by ``raw_key``; 401 when malformed, 403 when signed by another key."""
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_key)
        head_b64, body_b64, sig_b64 = token.split(".")
        head = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(body_b64))
        sig = b64url_decode(sig_b64)
    except ValueError as exc:
        raise VapidRefused(401, f"malformed VAPID token: {exc}") from exc
    if head.get("alg") != "ES256" or len(sig) != 64 or not isinstance(claims, dict):
        raise VapidRefused(401, "VAPID token is not an ES256 JWT")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public.verify(der, f"{head_b64}.{body_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise VapidRefused(403, "VAPID signature does not match k") from exc
    return claims


def _check_claims(claims: dict[str, object], *, origin: str, now: float) -> None:
    """RFC 8292's claims: ``aud`` this push service, ``exp`` within 24 h, ``sub`` a contact."""
    if claims.get("aud") != origin:
        raise VapidRefused(403, f"aud {claims.get('aud')!r} is not this push service ({origin})")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise VapidRefused(403, "VAPID token has expired (or has no integer exp)")
    if exp > now + MAX_EXP_AHEAD_S + CLOCK_SKEW_S:
        raise VapidRefused(403, "VAPID exp is more than 24 h ahead")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not (sub.startswith("mailto:") or sub.startswith("https://")):
        raise VapidRefused(403, "VAPID sub must be a mailto: or https: contact")


def verify(header: str | None, *, origin: str, bound_key: str | None = None, now: float | None = None) -> str:
    """Check signature and claims; returns the ``k`` key. ``bound_key``: the key the subscriber chose."""
    token, key = parse_header(header)
    try:
        raw_key = b64url_decode(key)
    except ValueError as exc:
        raise VapidRefused(401, f"malformed VAPID token: {exc}") from exc
    claims = _check_signature(token, raw_key)
    if bound_key is not None and raw_key != b64url_decode(bound_key):
        raise VapidRefused(403, "k is not the applicationServerKey this subscription was made with")
    _check_claims(claims, origin=origin, now=time.time() if now is None else now)
    return key
