"""Earthquakes, 緊急地震速報 and 南海トラフ地震臨時情報 → notifications, one per resident per report.

Weather warnings are states per municipality (``jma.changes``); earthquake reports are not: each report is
news for the people it shook, so it is sent once to each resident, for the strongest intensity among all
their places and naming that place, and the 震源・震度情報 that follows a 震度速報 goes (same Topic, so it
replaces the first on the device) to everyone the first reached, with their own town's intensity. Residents
choose the lowest 震度 they want to hear about (``min_quake_intensity``, default 震度3).

Like the rest of the feeds service: functions take ``db_session``, never commit, and every notification
is keyed in ``feed_alerts`` so a telegram delivered twice (poller and push-in, or a relay's retry) sends once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.feeds.jma import AreaResolver, EewTelegram, NankaiTelegram, QuakeTelegram, Telegram, TsunamiTelegram
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.notify import SentAlert
from pushsvc.feeds.seismic.common import CATEGORY, EEW_TTL_S, NANKAI_TTL_S, QUAKE_TTL_S, TSUNAMI_TTL_S
from pushsvc.feeds.seismic.eew import ingest_eew
from pushsvc.feeds.seismic.nankai import NankaiConfig, ingest_nankai, load_nankai_config, nankai_status
from pushsvc.feeds.seismic.quake import ingest_quake
from pushsvc.feeds.seismic.tsunami import TSUNAMI_CHANGES, notify_tsunami, record_tsunami_info, tsunami_info_text

__all__ = [
    "CATEGORY",
    "EEW_TTL_S",
    "NANKAI_TTL_S",
    "QUAKE_TTL_S",
    "TSUNAMI_CHANGES",
    "TSUNAMI_TTL_S",
    "NankaiConfig",
    "ingest",
    "ingest_eew",
    "ingest_nankai",
    "ingest_quake",
    "load_nankai_config",
    "nankai_status",
    "notify_tsunami",
    "record_tsunami_info",
    "tsunami_info_text",
]

log = logging.getLogger(__name__)


def ingest(
    db_session: Session, row: FeedSource, t: Telegram, resolver: AreaResolver, *, settings: Settings, now: datetime
) -> list[SentAlert] | None:
    """The kinds handled here; ``None`` for the others (``service.ingest_jma_telegram`` diffs those)."""
    if not isinstance(t, QuakeTelegram | EewTelegram | NankaiTelegram) and not (
        isinstance(t, TsunamiTelegram) and t.info_only
    ):
        return None
    if not t.is_actual:
        log.info("%s: telegram %s skipped: Control/Status %s", row.name, t.telegram_id, t.control.status)
        return []
    if isinstance(t, QuakeTelegram):
        return ingest_quake(db_session, row, t, resolver, settings=settings, now=now)
    if isinstance(t, EewTelegram):
        return ingest_eew(db_session, row, t, resolver, settings=settings, now=now)
    if isinstance(t, NankaiTelegram):
        return ingest_nankai(db_session, row, t, resolver, settings=settings, now=now)
    record_tsunami_info(db_session, row, t, resolver)
    return []
