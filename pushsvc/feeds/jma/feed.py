"""JMA Atom feeds (extra.xml, eqvol.xml, …): list entries, and pick the ones not seen yet, oldest first."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from pushsvc.feeds.jma.common import parse_datetime
from pushsvc.feeds.jma.xmlsafe import MAX_BYTES, NS_ATOM, TelegramError, children, parse_xml, q, text

# Data-file names: 20220714061025_0_VPWW54_390000.xml → data type VPWW54, office 390000
_FILE_RE = re.compile(r"/\d{14}_\d+_([A-Z0-9]+)_(\d{6})\.xml$")


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    updated: datetime
    author: str
    link: str  # telegram URL
    content: str

    @property
    def data_type(self) -> str:
        """VPWW54, VXSE53, … from the file name; ``""`` for old-style (``urn:uuid``) links."""
        m = _FILE_RE.search(self.link)
        return m.group(1) if m else ""

    @property
    def office_code(self) -> str:
        m = _FILE_RE.search(self.link)
        return m.group(2) if m else ""


@dataclass(frozen=True)
class Feed:
    title: str
    updated: datetime
    entries: tuple[FeedEntry, ...]  # as published: newest first


def parse_feed(data: bytes | str, *, max_bytes: int = MAX_BYTES) -> Feed:
    root = parse_xml(data, max_bytes=max_bytes)
    if root.tag != q(NS_ATOM, "feed"):
        raise TelegramError(f"not an Atom feed: root element {root.tag!r}")
    entries = []
    for e in children(root, NS_ATOM, "entry"):
        link = next((ln.get("href", "") for ln in children(e, NS_ATOM, "link")), "")
        entries.append(
            FeedEntry(
                id=text(e, NS_ATOM, "id"),
                title=text(e, NS_ATOM, "title"),
                updated=parse_datetime(text(e, NS_ATOM, "updated"), "entry/updated"),
                author=text(e, NS_ATOM, "author", "name"),
                link=link,
                content=text(e, NS_ATOM, "content"),
            )
        )
    return Feed(
        text(root, NS_ATOM, "title"), parse_datetime(text(root, NS_ATOM, "updated"), "feed/updated"), tuple(entries)
    )


def new_entries(
    entries: Sequence[FeedEntry], seen_ids: Collection[str] = (), last_updated: datetime | None = None
) -> list[FeedEntry]:
    """Entries not in ``seen_ids`` and not older than ``last_updated``, oldest first (processing order).

    Entries updated exactly at ``last_updated`` are kept unless seen: JMA stamps several files per second.
    """
    fresh = [e for e in entries if e.id not in seen_ids and (last_updated is None or e.updated >= last_updated)]
    unique = {e.id: e for e in reversed(fresh)}  # a repeated id keeps its latest version
    return sorted(unique.values(), key=lambda e: (e.updated, e.id))


def for_office(
    entries: Sequence[FeedEntry], office_code: str, data_types: Collection[str] | None = None
) -> list[FeedEntry]:
    """Entries published by one office (390000 = 高知地方気象台), optionally of some data types only."""
    return [e for e in entries if e.office_code == office_code and (data_types is None or e.data_type in data_types)]
