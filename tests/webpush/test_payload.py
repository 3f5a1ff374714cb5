"""The JSON a phone gets stays under 3,000 bytes; the body is cut, never the id or url."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from pushsvc.dev.devpush import DevPush
from pushsvc.webpush.payload import ELLIPSIS, MAX_PAYLOAD_BYTES, build_payload, topic_for
from pushsvc.webpush.sender import Outcome
from pushsvc.webpush.vapid import VapidIdentity
from tests.webpush.conftest import make_sender, target

URL = "https://bousai.pref.kochi.lg.jp/alerts/" + "x" * 200


def payload(body: str, title: str = "大雨警報", id: str = "n-42") -> bytes:
    return build_payload(
        id=id,
        title=title,
        body=body,
        category="weather",
        severity="warning",
        url=URL,
        lang="ja",
        sent_at="2026-11-23T05:00:00+09:00",
    )


def test_short_payload_is_left_whole() -> None:
    doc = json.loads(payload("土砂災害に警戒してください。"))
    assert doc == {
        "id": "n-42",
        "title": "大雨警報",
        "body": "土砂災害に警戒してください。",
        "category": "weather",
        "severity": "warning",
        "url": URL,
        "lang": "ja",
        "sent_at": "2026-11-23T05:00:00+09:00",
        "web_push": 8030,
        "mutable": True,
        "notification": {
            "title": "大雨警報",
            "body": "土砂災害に警戒してください。",
            "navigate": URL,
            "lang": "ja",
            "tag": "n-42",
        },
    }


def test_long_body_is_cut_with_an_ellipsis_keeping_id_and_url() -> None:
    body = "高知県に大雨特別警報を発表しました。" * 300  # ~16 KB of UTF-8
    data = payload(body)
    doc = json.loads(data)

    assert MAX_PAYLOAD_BYTES - 7 <= len(data) <= MAX_PAYLOAD_BYTES  # cut tight: within one 3-byte character, twice
    assert doc["id"] == "n-42" and doc["url"] == URL
    assert doc["body"].endswith(ELLIPSIS) and body.startswith(doc["body"][:-1])


def test_a_huge_title_is_cut_too_when_the_body_is_not_enough() -> None:
    doc = json.loads(payload("本文", title="題" * 2000))
    assert doc["body"] == "" and doc["title"].endswith(ELLIPSIS)
    assert doc["url"] == URL


def test_id_and_url_that_cannot_fit_are_an_error() -> None:
    with pytest.raises(ValueError):
        payload("b", id="i" * 3000)


def test_the_cut_payload_arrives_intact(devpush: DevPush, identity: VapidIdentity) -> None:
    sub = devpush.subscribe()
    data = payload("避難" * 5000)

    async def go() -> Outcome:
        async with make_sender(identity) as sender:
            return (await sender.send(target(devpush, sub), data, ttl=600)).outcome

    assert asyncio.run(go()) is Outcome.SENT
    assert devpush.received(sub)[0].payload == data


@pytest.mark.parametrize("key", ["n-42", "notification:42/ja", "高知市 大雨", "x" * 100, ""])
def test_topic_is_a_stable_rfc8030_topic(key: str) -> None:
    topic = topic_for(key)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic)
    assert topic_for(key) == topic


def test_different_keys_give_different_topics() -> None:
    assert topic_for("notification:1") != topic_for("notification:2")
