"""A tiny JMA over loopback HTTP: an Atom feed listing telegram URLs, newest first, and the telegrams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from pushsvc.dev.localfeed import LocalFeedServer
from pushsvc.feeds.sources import SourceConfig
from tests.feeds.jma.kochi import CODES

T0 = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


class JmaPublisher:
    """Publishes telegrams as JMA does: each at its own URL, listed in the Atom feed."""

    def __init__(self) -> None:
        self.server = LocalFeedServer({"/feed.xml": self.feed}, content_type="application/atom+xml")
        self.entries: list[tuple[str, str, datetime]] = []

    def path_for(self, data_type: str, office: str = "390000") -> str:
        at = T0 + timedelta(minutes=len(self.entries))
        return f"/data/{at:%Y%m%d%H%M%S}_{len(self.entries)}_{data_type}_{office}.xml"

    def publish(
        self,
        data: bytes | None,
        data_type: str,
        office: str = "390000",
        title: str = "telegram",
        *,
        link: str | None = None,
    ) -> str:
        """Serve ``data`` (None: list it but serve nothing, a 404) and list it; returns its path."""
        at = T0 + timedelta(minutes=len(self.entries))
        path = self.path_for(data_type, office)
        if data is not None:
            self.server.routes[path] = data
        self.entries.append((title, link or self.server.url + path, at))
        return path

    def feed(self) -> bytes:
        items = "".join(
            f"<entry><title>{escape(t)}</title><id>{escape(u)}</id><updated>{at:%Y-%m-%dT%H:%M:%SZ}</updated>"
            f'<author><name>高知地方気象台</name></author><link type="application/xml" href="{escape(u)}"/>'
            f'<content type="text">{escape(t)}</content></entry>'
            for t, u, at in reversed(self.entries)
        )
        updated = max((at for _, _, at in self.entries), default=T0)
        return (
            f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" lang="ja">'
            f"<title>随時</title><id>urn:test</id><updated>{updated:%Y-%m-%dT%H:%M:%SZ}</updated>"
            f"{items}</feed>"
        ).encode()

    def source(self, name: str = "jma-extra", **options: object) -> SourceConfig:
        return SourceConfig(
            name=name,
            kind="jma_atom",
            url=self.server.url + "/feed.xml",
            interval_s=0.05,
            timeout_s=1.0,
            options={"codes_dir": str(CODES), **options},
        )
