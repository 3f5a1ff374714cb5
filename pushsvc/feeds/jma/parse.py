"""One entry point from bytes to a typed telegram, choosing the body parser by Control/Title."""

from __future__ import annotations

from collections.abc import Callable
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.common import Telegram, body_of, parse_control, parse_head
from pushsvc.feeds.jma.eew import parse_eew
from pushsvc.feeds.jma.flood import parse_flood
from pushsvc.feeds.jma.nankai import parse_nankai
from pushsvc.feeds.jma.quake import parse_quake
from pushsvc.feeds.jma.tsunami import parse_tsunami
from pushsvc.feeds.jma.warnings import parse_landslide, parse_weather
from pushsvc.feeds.jma.xmlsafe import MAX_BYTES, TelegramError, parse_xml

BodyParser = Callable[[Telegram, Element | None, str], Telegram]

# Control/Title prefix → body parser. Titles not listed (気象情報, 地震回数 …) parse to a
# plain Telegram: the envelope is still useful to log and to skip.
PARSERS: tuple[tuple[str, BodyParser], ...] = (
    ("気象特別警報・警報・注意報", parse_weather),
    ("気象警報・注意報", parse_weather),
    ("土砂災害警戒情報", parse_landslide),
    ("指定河川洪水予報", parse_flood),
    ("震度速報", parse_quake),
    ("震源に関する情報", parse_quake),
    ("震源・震度に関する情報", parse_quake),
    ("津波警報・注意報・予報", parse_tsunami),
    ("津波情報", parse_tsunami),
    ("緊急地震速報", parse_eew),
    ("南海トラフ地震", parse_nankai),
)


def parser_for(control_title: str) -> BodyParser | None:
    return next((p for prefix, p in PARSERS if control_title.startswith(prefix)), None)


def parse_telegram(data: bytes | str, *, telegram_id: str = "", max_bytes: int = MAX_BYTES) -> Telegram:
    """Parse a JMA telegram. Raises only :class:`TelegramError`, so a poller can log it and move on."""
    root = parse_xml(data, max_bytes=max_bytes)
    try:
        base = Telegram(parse_control(root), parse_head(root), telegram_id)
        parser = parser_for(base.control.title)
        if parser is None:
            return base
        body, ns = body_of(root)
        return parser(base, body, ns)
    except TelegramError:
        raise
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise TelegramError(f"unexpected telegram structure: {type(exc).__name__}: {exc}") from exc
