"""A simulated browser's push keys, usable without any HTTP (tests and benches make thousands)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec

from pushsvc.webpush.vapid import VapidIdentity, b64url, b64url_decode


@dataclass(frozen=True)
class SubscriberKeys:
    """The P-256 key pair and 16-byte auth secret a browser makes when it subscribes."""

    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> SubscriberKeys:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @classmethod
    def from_b64url(cls, private_key: str, auth: str) -> SubscriberKeys:
        """From the raw 32-byte private scalar and the auth secret, both base64url."""
        scalar = int.from_bytes(b64url_decode(private_key), "big")
        return cls(ec.derive_private_key(scalar, ec.SECP256R1()), b64url_decode(auth))

    @property
    def p256dh(self) -> str:
        # Same encoding as the server's VAPID key: both are plain P-256 keys.
        return VapidIdentity(self.private_key).public_key_b64url

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    @property
    def private_b64url(self) -> str:
        return VapidIdentity(self.private_key).private_key_b64url

    def subscription(self, endpoint: str) -> dict[str, object]:
        """The JSON ``PushSubscription.toJSON()`` gives a page."""
        return {"endpoint": endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def decrypt(self, body: bytes) -> bytes:
        """What the browser does on arrival (RFC 8291 aes128gcm); raises on a bad message."""
        data: bytes = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return data
