"""JMA 防災情報XML: safe parsing, area mapping and change detection, pure and database-free.

Typical poller loop: ``parse_feed`` → ``new_entries`` → fetch → ``parse_telegram`` →
``detect_changes(state, telegram, resolver)`` → send ``ChangeSet.events``, persist ``ChangeSet.state``.
"""

from pushsvc.feeds.jma.areas import AreaResolver, load_area_codes, load_area_dir
from pushsvc.feeds.jma.changes import ChangeSet, State, detect_changes
from pushsvc.feeds.jma.common import Control, Head, Telegram
from pushsvc.feeds.jma.eew import EewTelegram
from pushsvc.feeds.jma.feed import Feed, FeedEntry, for_office, new_entries, parse_feed
from pushsvc.feeds.jma.flood import FloodForecastTelegram
from pushsvc.feeds.jma.model import AreaEvent, AreaStatus, Snapshot
from pushsvc.feeds.jma.nankai import NankaiTelegram
from pushsvc.feeds.jma.normalise import snapshot
from pushsvc.feeds.jma.parse import parse_telegram
from pushsvc.feeds.jma.quake import QuakeTelegram
from pushsvc.feeds.jma.tsunami import TsunamiTelegram
from pushsvc.feeds.jma.warnings import LandslideTelegram, WeatherWarningTelegram
from pushsvc.feeds.jma.xmlsafe import TelegramError

__all__ = [
    "AreaEvent", "AreaResolver", "AreaStatus", "ChangeSet", "Control", "EewTelegram", "Feed", "FeedEntry",
    "FloodForecastTelegram", "Head", "LandslideTelegram", "NankaiTelegram", "QuakeTelegram", "Snapshot", "State",
    "Telegram",
    "TelegramError", "TsunamiTelegram", "WeatherWarningTelegram", "detect_changes", "for_office",
    "load_area_codes", "load_area_dir", "new_entries", "parse_feed", "parse_telegram", "snapshot",
]
