"""What every seismic telegram kind shares: the draft, earlier notifications of an event, the 取消."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma import Telegram
from pushsvc.feeds.jma.normalise import event_key
from pushsvc.feeds.models import FeedAlert, FeedSource
from pushsvc.feeds.notify import SentAlert, send_alert

JST = timezone(timedelta(hours=9))
CATEGORY = "quake_tsunami"
QUAKE_TTL_S = 6 * 3600
EEW_TTL_S = delivery.TTL_EEW_S
NANKAI_TTL_S = 12 * 3600
TSUNAMI_TTL_S = 6 * 3600
SEVERITY_ORDER = ("info", "advisory", "warning", "emergency")


def _hhmm(dt: datetime | None) -> str:
    return dt.astimezone(JST).strftime("%H時%M分") if dt else ""


def _clock(dt: datetime) -> dict[str, str]:
    """A time of day as a catalogue parameter: 10時20分 in Japanese, 10:20 in the other languages (JST)."""
    return {"ja": _hhmm(dt), "en": f"{dt.astimezone(JST):%H:%M}"}


@cache
def attribution() -> dict[str, str]:
    """（出典：気象庁） in every language, the last sentence of every JMA-derived body."""
    return i18n.texts("source", source=i18n.Msg("source.jma"))


def _draft(
    *,
    severity: str,
    title: Mapping[str, str],
    body: Mapping[str, str],
    topic: str,
    ttl: int,
    extra: dict[str, Any],
    municipalities: Sequence[str] = (),
    recipients: Sequence[int] | None = None,
    reference: Sequence[int] = (),
    pinned: bool = False,
    priority: int | None = None,
) -> delivery.NotificationDraft:
    """One JMA-derived draft, ``{lang: text}`` as ``i18n.texts`` gives it; the attribution appended in each."""
    return delivery.NotificationDraft(
        source="jma",
        category=CATEGORY,
        severity=severity,
        title=dict(title),
        body=i18n.join(body, attribution()),
        municipality_codes=list(municipalities),
        recipient_ids=sorted(recipients) if recipients is not None else None,
        ttl_seconds=ttl,
        topic=topic[:64],
        extra={"jma": extra, **({"pinned": True} if pinned else {})},
        reference_id=reference[0] if reference else None,
        also_references=list(reference[1:]),
        priority=priority,
        first_batch_early=priority == delivery.PRIORITY_LIFE,  # its first push within half a second
    )


def _earlier(db_session: Session, source: str, event_id: str, topic: str) -> list[FeedAlert]:
    return list(
        db_session.execute(
            select(FeedAlert)
            .where(
                FeedAlert.source == source,
                FeedAlert.event_id == event_id,
                FeedAlert.topic == topic,
                FeedAlert.kind != "cancel",
                FeedAlert.notification_id.is_not(None),
            )
            .order_by(FeedAlert.id)
        ).scalars()
    )


def _withdraw(
    db_session: Session,
    row: FeedSource,
    t: Telegram,
    topic: str,
    what: str,
    *,
    settings: Settings,
    now: datetime,
    ref: str | None = None,
) -> list[SentAlert]:
    """A 取消: stop what is still queued and tell exactly those who received it, once each.

    ``what`` names the telegram kind in the catalogue (``seismic.what.eew`` …); ``ref`` (JMA's telegram
    identity) limits it to what that one telegram sent; without it, the whole event.
    """
    event_id = event_key(t)
    originals = [
        a.notification_id
        for a in _earlier(db_session, row.name, event_id, topic)
        if a.notification_id is not None and (ref is None or a.detail.get("ref") == ref)
    ]
    recipients: set[int] = set()
    for nid in originals:
        recipients.update(delivery.recipients_who_received(db_session, nid))
        delivery.cancel_notification(db_session, nid, now=now)
    name = i18n.Msg(f"seismic.what.{what}")
    draft = (
        _draft(
            severity="warning",
            title=i18n.texts("seismic.cancel.title", what=name),
            body=i18n.texts("seismic.cancel.body", what=name),
            topic=f"jma-{topic}",
            ttl=QUAKE_TTL_S,
            recipients=sorted(recipients),
            reference=originals,
            extra={"event_id": event_id, "telegram_id": t.telegram_id, "change": "cancel", "corrects": originals},
        )
        if originals
        else None
    )
    done = send_alert(
        db_session,
        source=row.name,
        key=f"jma:{t.telegram_id}:cancel:{topic}"[:255],
        kind="cancel",
        topic=topic,
        event_id=event_id,
        draft=draft,
        municipalities=(),
        summary=f"{name.text(i18n.SOURCE)} 取消",
        settings=settings,
        now=now,
        detail={"corrects": originals},
    )
    return [done] if done else []
