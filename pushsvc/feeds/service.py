"""Feeds service: poll state and health per source, river stations, and alerts → notifications, exactly once.

Every function takes ``db_session`` and never commits: the poller commits one poll (engine state, alerts,
notifications, source state) as one transaction, so a crash repeats a whole poll or none of it, and the
deterministic alert keys in ``feed_alerts`` stop a repeated poll from sending anything twice.

This module is the domain's public face, what other domains import; the work is done in ``health`` (poll
state and health per source), ``gauges`` (river stations, snapshots and readings) and ``notify`` (alerts →
notifications, once). JMA telegrams are routed here, earthquakes and tsunami to ``seismic``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from pushsvc.alerts import service as alerts
from pushsvc.config import Settings
from pushsvc.feeds import seismic
from pushsvc.feeds.gauges import (
    RIVER_TTL_S,
    ingest_river_snapshot,
    list_stations,
    prune_readings,
    readings_since,
    record_readings,
    river_states,
    stations_for_municipalities,
    sync_stations,
)
from pushsvc.feeds.health import (
    SILENT_EXPIRY_FACTOR,
    backoff_s,
    get_source,
    list_health,
    problems_of,
    record_failure,
    record_success,
    source_health,
    source_heard,
    source_silent,
)
from pushsvc.feeds.jma import AreaResolver, Telegram
from pushsvc.feeds.jma.statements import statement_of
from pushsvc.feeds.models import FeedSource
from pushsvc.feeds.notify import (
    JMA,
    JMA_ATTRIBUTION,
    JMA_TTL_S,
    KIND_OF_CHANGE,
    Origin,
    SentAlert,
    alert_seen,
    known_municipalities,
    notify_transitions,
    send_alert,
)

__all__ = [
    "JMA",
    "JMA_ATTRIBUTION",
    "JMA_TTL_S",
    "KIND_OF_CHANGE",
    "RIVER_TTL_S",
    "SILENT_EXPIRY_FACTOR",
    "Origin",
    "SentAlert",
    "alert_seen",
    "backoff_s",
    "get_source",
    "ingest_jma_telegram",
    "ingest_river_snapshot",
    "known_municipalities",
    "list_health",
    "list_stations",
    "notify_transitions",
    "problems_of",
    "prune_readings",
    "readings_since",
    "record_failure",
    "record_readings",
    "record_success",
    "river_states",
    "send_alert",
    "source_health",
    "source_heard",
    "source_silent",
    "stations_for_municipalities",
    "sync_stations",
]

log = logging.getLogger(__name__)


def ingest_jma_telegram(
    db_session: Session,
    row: FeedSource,
    telegram: Telegram,
    resolver: AreaResolver,
    *,
    settings: Settings,
    now: datetime,
) -> list[SentAlert]:
    """Apply what this telegram states to the alert state and notify each real change.

    A 取消 withdraws exactly the telegram with the same office, InfoKind, ReportDateTime and EventID and
    reaches exactly the recipients of what it produced; a 訂正 tells only those whose situation changed.
    Earthquake reports, 緊急地震速報, 南海トラフ and 津波情報 go to ``seismic`` (per resident or per event);
    tsunami changes are worded there too (one message per 予報区, the action first).
    """
    handled = seismic.ingest(db_session, row, telegram, resolver, settings=settings, now=now)
    if handled is not None:
        db_session.flush()
        return handled
    js = statement_of(telegram, resolver, source=row.name)
    if js.mode == "skip":
        log.info("%s: telegram %s skipped: %s", row.name, telegram.telegram_id, js.skipped)
        return []
    st = js.statement
    if js.mode == "cancel":
        transitions = alerts.cancel_statement(db_session, source=row.name, ref=st.ref, at=st.at, now=now)
        if not transitions:
            log.info("%s: 取消 %s matches nothing we stated", row.name, st.ref)
    elif js.mode == "correction":
        transitions = alerts.correct_statement(db_session, st, now=now)
    else:
        transitions = alerts.apply_statement(db_session, st, now=now)
    extra = {
        "telegram_id": telegram.telegram_id,
        "event_id": telegram.head.event_id,
        "correction": js.mode == "correction",
    }
    tsunami = [t for t in transitions if t.phenomenon == "tsunami" and t.change in seismic.TSUNAMI_CHANGES]
    sent = seismic.notify_tsunami(db_session, row, st.ref, tsunami, settings=settings, now=now, extra=extra)
    sent += notify_transitions(
        db_session,
        JMA,
        source=row.name,
        ref=st.ref,
        transitions=[t for t in transitions if t not in tsunami],
        name=resolver.name,
        settings=settings,
        now=now,
        extra=extra,
    )
    db_session.flush()
    return sent
