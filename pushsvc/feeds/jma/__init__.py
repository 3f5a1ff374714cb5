"""JMA 防災情報XML: safe parsing, area mapping and change detection, pure and database-free.

Typical poller loop: ``parse_feed`` → ``new_entries`` → fetch → ``parse_telegram`` →
``statement_of(telegram, resolver, source=…)`` → ``pushsvc.alerts.service`` applies, cancels or corrects it
and returns the transitions to notify.
"""

from pushsvc.feeds.jma.areas import AreaResolver, load_area_codes, load_area_dir
from pushsvc.feeds.jma.common import Control, Head, Telegram
from pushsvc.feeds.jma.eew import EewTelegram
from pushsvc.feeds.jma.feed import Feed, FeedEntry, for_office, new_entries, parse_feed
from pushsvc.feeds.jma.flood import FloodForecastTelegram
from pushsvc.feeds.jma.nankai import NankaiTelegram
from pushsvc.feeds.jma.normalise import snapshot
from pushsvc.feeds.jma.parse import parse_telegram
from pushsvc.feeds.jma.quake import QuakeTelegram
from pushsvc.feeds.jma.records import AreaStatus, Snapshot
from pushsvc.feeds.jma.statements import JmaStatement, statement_of, telegram_ref
from pushsvc.feeds.jma.tsunami import TsunamiTelegram
from pushsvc.feeds.jma.warnings import LandslideTelegram, WeatherWarningTelegram
from pushsvc.feeds.jma.xmlsafe import TelegramError

__all__ = [
    "AreaResolver",
    "AreaStatus",
    "Control",
    "EewTelegram",
    "Feed",
    "FeedEntry",
    "FloodForecastTelegram",
    "Head",
    "JmaStatement",
    "LandslideTelegram",
    "NankaiTelegram",
    "QuakeTelegram",
    "Snapshot",
    "Telegram",
    "TelegramError",
    "TsunamiTelegram",
    "WeatherWarningTelegram",
    "for_office",
    "load_area_codes",
    "load_area_dir",
    "new_entries",
    "parse_feed",
    "parse_telegram",
    "snapshot",
    "statement_of",
    "telegram_ref",
]
