"""Declarative Web Push (Safari/iOS 18.4+): the payload is a valid ``web_push: 8030`` message that Safari can
show with no service worker running, stays under the size limit in every language, and arrives encrypted
(RFC 8291) and decrypts to exactly that shape."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from pushsvc import i18n
from pushsvc.dev.devpush import DevPush
from pushsvc.types import LANGUAGES
from pushsvc.webpush.payload import MAX_PAYLOAD_BYTES, build_payload
from pushsvc.webpush.sender import Outcome
from pushsvc.webpush.vapid import VapidIdentity
from tests.webpush.conftest import make_sender, target

URL = "https://bousai.pref.kochi.lg.jp/alerts/1234"


def check_declarative(doc: dict[str, Any]) -> dict[str, Any]:
    """What WebKit requires of a declarative message (WebKit's explainer and Safari 18.4 notes): the magic
    number, a notification with a non-empty title and an absolute https ``navigate`` URL; optional string
    body/lang/tag; ``mutable`` a boolean."""
    assert doc["web_push"] == 8030
    n = doc["notification"]
    assert isinstance(n["title"], str) and n["title"].strip()
    assert urlsplit(n["navigate"]).scheme == "https" and urlsplit(n["navigate"]).netloc
    for key in ("body", "lang", "tag"):
        assert isinstance(n.get(key, ""), str)
    assert set(n) <= {"title", "body", "navigate", "lang", "dir", "tag", "silent", "app_badge", "data"}
    assert isinstance(doc.get("mutable", False), bool)
    return n


def _payload(lang: str, title: str, body: str) -> bytes:
    return build_payload(
        id="1234",
        title=title,
        body=body,
        category="quake_tsunami",
        severity="emergency",
        url=URL,
        lang=lang,
        sent_at="2026-12-01T18:00:00+09:00",
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_long_tsunami_warning_fits_in_every_language_and_keeps_its_declarative_shape(lang: str) -> None:
    title = i18n.text("kind.tsunami.4", lang)
    body = " ".join([i18n.text("tsunami.action", lang)] * 60)  # far more than fits
    data = _payload(lang, title, body)
    assert len(data) <= MAX_PAYLOAD_BYTES
    doc = json.loads(data)
    n = check_declarative(doc)
    assert n["title"] == title and n["lang"] == lang and n["navigate"] == URL
    assert n["body"].endswith("…") and body.startswith(n["body"][:-1])
    # The service-worker fields say the same, so either path shows the same words.
    assert (doc["title"], doc["body"], doc["url"], doc["lang"]) == (n["title"], n["body"], n["navigate"], lang)


def test_a_short_message_is_whole() -> None:
    n = check_declarative(json.loads(_payload("en", "Tsunami warning", "Go to high ground now.")))
    assert (n["title"], n["body"], n["tag"]) == ("Tsunami warning", "Go to high ground now.", "1234")


def test_the_declarative_message_decrypts_to_the_documented_shape(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    data = _payload("ko", i18n.text("kind.tsunami.3", "ko"), i18n.text("tsunami.action", "ko"))

    async def go() -> Outcome:
        async with make_sender(identity) as sender:
            return (await sender.send(target(devpush, sub), data, ttl=600)).outcome

    assert asyncio.run(go()) is Outcome.SENT
    got = devpush.received(sub)[0]
    assert got.payload == data  # decrypted by the push service with the subscriber's key
    n = check_declarative(json.loads(got.payload))
    assert n["title"] == "쓰나미 경보" and "높은 곳" in n["body"]
