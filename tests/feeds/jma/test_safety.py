"""Hostile or broken input is refused with a TelegramError; nothing else escapes to the poller."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from pushsvc.feeds.jma import FeedEntry, TelegramError, for_office, new_entries, parse_feed, parse_telegram
from tests.feeds.jma.kochi import JMA, sample

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&lol9;</Title></Control></Report>"""
EXTERNAL = """<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_entity_tricks_are_refused(data: str) -> None:
    with pytest.raises(TelegramError, match="unsafe"):
        parse_telegram(data)
    with pytest.raises(TelegramError):
        parse_feed(data)


def test_truncated_telegram_is_refused() -> None:
    whole = sample("warnings/15_16_03_241226_VPWW55.xml").encode()
    with pytest.raises(TelegramError, match="malformed"):
        parse_telegram(whole[: len(whole) // 2])


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\xff garbage", b"<html><body>503</body></html>", b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>'],
)
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(TelegramError):
        parse_telegram(data)


def test_wrong_envelope_values_are_refused() -> None:
    good = sample("warnings/15_16_03_241226_VPWW55.xml")
    with pytest.raises(TelegramError, match="Status"):
        parse_telegram(good.replace("<Status>通常</Status>", "<Status>本番</Status>", 1))
    with pytest.raises(TelegramError, match="ReportDateTime"):
        parse_telegram(good.replace("2020-06-22T23:00:00+09:00</ReportDateTime>", "soon</ReportDateTime>"))


def test_oversized_document_is_refused_before_parsing() -> None:
    with pytest.raises(TelegramError, match="limit"):
        parse_telegram(b"<a>" + b" " * 2048 + b"</a>", max_bytes=1024)


def test_telegram_error_is_a_problem_with_a_status() -> None:
    err = TelegramError("x")
    assert err.status == 422 and err.to_problem()["type"].endswith("bad-telegram")


def _entry(n: int, minute: int) -> FeedEntry:
    return FeedEntry(f"id{n}", "t", datetime(2022, 7, 14, 7, minute, tzinfo=UTC), "a", f"https://x/{n}.xml", "")


def test_new_entries_are_unseen_not_older_and_oldest_first() -> None:
    feed = [_entry(3, 30), _entry(2, 20), _entry(1, 20), _entry(0, 10)]  # newest first, as JMA publishes
    assert [e.id for e in new_entries(feed)] == ["id0", "id1", "id2", "id3"]
    fresh = new_entries(feed, seen_ids={"id1"}, last_updated=datetime(2022, 7, 14, 7, 20, tzinfo=UTC))
    assert [e.id for e in fresh] == ["id2", "id3"]
    assert new_entries(feed, seen_ids={"id0", "id1", "id2", "id3"}) == []


def test_real_feed_has_new_kochi_entries_in_order() -> None:
    feed = parse_feed((JMA / "feeds" / "extra_l.xml").read_bytes())
    kochi = for_office(new_entries(feed.entries), "390000", {"VPWW54"})
    assert kochi and all(a.updated <= b.updated for a, b in itertools.pairwise(kochi))
    seen = {e.id for e in kochi[:-1]}
    assert new_entries(kochi, seen_ids=seen) == [kochi[-1]]
