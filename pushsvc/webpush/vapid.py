"""The server's VAPID identity (RFC 8292): one P-256 key pair, kept in a 0600 file or given by env.

Every subscription is bound to the public key the browser saw when it subscribed, so losing or
changing this key silently breaks every subscriber. Callers persist ``fingerprint`` and refuse to start
when it changes without an explicit rotation (see subscriptions).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ValueError on anything else.

    The one decoder for keys, secrets and JWT parts (subscription validation, RFC 8291 encryption on
    the send hot path, the local push service): a compiled pattern rather than a loop over the
    characters, so encryption's two decodes cost ~1-2 µs a message (ece.py had its own for that reason).
    """
    s = text.strip()
    if not _B64URL.fullmatch(s):
        raise ValueError("not base64url")
    s = s.rstrip("=")
    return base64.b64decode(s + "=" * (-len(s) % 4), altchars=b"-_", validate=True)  # bad length: binascii.Error


@dataclass(frozen=True)
class VapidIdentity:
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> VapidIdentity:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_text(cls, text: str) -> VapidIdentity:
        """A PEM private key, or the raw 32-byte private scalar in base64url (as web-push tools print)."""
        text = text.strip()
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) != 32:
                raise ValueError("a raw VAPID private key is 32 bytes")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("the VAPID key must be an EC P-256 private key")
        return cls(key)

    @property
    def public_key_bytes(self) -> bytes:
        """Uncompressed point (65 bytes): what browsers take as ``applicationServerKey``."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def public_key_b64url(self) -> str:
        return b64url(self.public_key_bytes)

    @property
    def private_key_b64url(self) -> str:
        return b64url(self.private_key.private_numbers().private_value.to_bytes(32, "big"))

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.public_key_bytes).hexdigest()[:32]

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def load_or_create(path: Path) -> tuple[VapidIdentity, bool]:
    """Load the key file, or create it (mode 0600) on first start. Returns (identity, created)."""
    if path.exists():
        return VapidIdentity.from_text(path.read_text()), False
    identity = VapidIdentity.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(identity.private_pem())
    return identity, True
