"""What a phone receives: a small JSON document and the RFC 8030 ``Topic`` that collapses updates.

Push services take about 4 KB of ciphertext; we stay under 3,000 bytes of plaintext so every service
and every padding scheme fits. The body is what gets cut: the id and url must survive so the
notification still opens the full alert page.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from pushsvc.webpush.vapid import b64url

MAX_PAYLOAD_BYTES = 3000
ELLIPSIS = "…"
_TOPIC_OK = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def topic_for(key: str) -> str:
    """An RFC 8030 Topic (≤ 32 URL-safe base64 characters) for any string, the same every time.

    A key that already is a valid topic is kept readable; anything else is hashed (192 bits left).
    """
    if _TOPIC_OK.match(key):
        return key
    return b64url(hashlib.sha256(key.encode("utf-8")).digest())[:32]


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fit(doc: dict[str, Any], field: str, max_bytes: int) -> bool:
    """Shorten ``doc[field]`` (keeping an ellipsis) until the document fits; False if it cannot."""
    text = doc[field]
    if len(_encode(doc)) <= max_bytes:
        return True
    lo, hi = 0, len(text)  # the longest prefix that fits is in [lo, hi)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        doc[field] = text[:mid].rstrip() + ELLIPSIS
        if len(_encode(doc)) <= max_bytes:
            lo = mid
        else:
            hi = mid - 1
    doc[field] = text[:lo].rstrip() + ELLIPSIS if lo else ""
    return len(_encode(doc)) <= max_bytes


def build_payload(
    *,
    id: str,
    title: str,
    body: str,
    category: str,
    severity: str,
    url: str,
    lang: str,
    sent_at: datetime | str | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    silent: bool = False,
) -> bytes:
    """The UTF-8 JSON a service worker shows; body (then title) cut with an ellipsis to fit.

    ``silent``: the resident is within their quiet hours and this is not a warning: show it without a
    sound (``"silent": true``; the key is left out otherwise).
    """
    if sent_at is None:
        sent_at = datetime.now(UTC)
    stamp = sent_at if isinstance(sent_at, str) else sent_at.isoformat(timespec="seconds")
    doc: dict[str, Any] = {
        "id": id,
        "title": title,
        "body": body,
        "category": category,
        "severity": severity,
        "url": url,
        "lang": lang,
        "sent_at": stamp,
    }
    if silent:
        doc["silent"] = True
    if _fit(doc, "body", max_bytes) or _fit(doc, "title", max_bytes):
        return _encode(doc)
    raise ValueError(f"id and url alone do not fit in {max_bytes} bytes")
