"""Alerts → notifications, exactly once: the deterministic keys in ``feed_alerts``, and the wording and
addressing of alert-state transitions (JMA, river gauges) as notifications.

Like the rest of the feeds service: functions take ``db_session`` and never commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.alerts import messages, texts
from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import Transition
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.feeds.jma.statements import category_of
from pushsvc.feeds.models import FeedAlert
from pushsvc.geo import service as geo_service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentAlert:
    """What one alert became: its notification (None = already sent before, or nobody to target)."""

    key: str
    notification_id: int | None
    targeted: int
    municipalities: tuple[str, ...]
    kind: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


def alert_seen(db_session: Session, key: str) -> bool:
    return db_session.execute(select(FeedAlert.id).where(FeedAlert.alert_key == key)).first() is not None


def known_municipalities(db_session: Session, codes: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(codes))
    known = geo_service.places_by_code(db_session, wanted)
    missing = [c for c in wanted if c not in known]
    if missing:
        log.warning("feed alert names municipalities not loaded here, left out: %s", ", ".join(missing))
    return tuple(c for c in wanted if c in known)


def send_alert(
    db_session: Session,
    *,
    source: str,
    key: str,
    kind: str,
    topic: str,
    event_id: str | None,
    draft: delivery.NotificationDraft | None,
    municipalities: Sequence[str],
    summary: str,
    settings: Settings,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> SentAlert | None:
    """Create the notification and remember the key; ``None`` when this key was handled before."""
    if alert_seen(db_session, key):
        return None
    n = delivery.create_notification(db_session, draft, settings=settings, now=now) if draft else None
    db_session.add(
        FeedAlert(
            alert_key=key,
            source=source,
            kind=kind,
            event_id=event_id,
            topic=topic,
            municipalities=list(municipalities),
            notification_id=n.id if n else None,
            detail=dict(detail or {}),
            created_at=now,
        )
    )
    db_session.flush()
    return SentAlert(
        key, n.id if n else None, n.targeted if n else 0, tuple(municipalities), kind, summary, dict(detail or {})
    )


JMA_ATTRIBUTION = "気象庁"
JMA_TTL_S = 12 * 3600  # how long a push may wait for an offline phone; what is in force is alert state's business
KIND_OF_CHANGE = {"cancelled": "cancel"}  # the feed_alerts vocabulary predates the alert-state model


@dataclass(frozen=True)
class Origin:
    """How one kind of source words and files its notifications (JMA, river gauges)."""

    source: str  # notification source: "jma" | "river"
    attribution_ja: str
    attribution_en: str
    ttl_s: int
    category: Callable[[str], str]  # phenomenon → notification category


def _group_key(origin: Origin, ref: str, g: messages.Group) -> str:
    """Deterministic per statement and group; a 訂正 (same ref) has its own keys, its statement ids differ."""
    sig = ",".join(f"{t.area}/{t.phenomenon}/{t.change}/{t.id}" for t in g.transitions)
    return f"{origin.source}:{hashlib.sha256(f'{ref}|{sig}'.encode()).hexdigest()[:24]}"


def record_sent(db_session: Session, done: SentAlert | None, transitions: Sequence[Transition]) -> list[SentAlert]:
    """What ``send_alert`` did, as a list to add to; its notification is recorded on the transitions it
    announced, so a later 取消 finds whom to tell."""
    if done is None:
        return []
    if done.notification_id is not None:
        alerts.attach_notification(db_session, transitions, done.notification_id)
    return [done]


def _kind(changes: Sequence[str]) -> str:
    return KIND_OF_CHANGE.get(changes[0], changes[0]) if len(changes) == 1 else "+".join(changes)


def _common(
    origin: Origin, g: messages.Group, titles: Mapping[str, str], bodies: Mapping[str, str], detail: Mapping[str, Any]
) -> dict[str, Any]:
    """The draft's fields that do not depend on whom it goes to."""
    lead = g.transitions[0]
    return {
        "source": origin.source,
        "category": origin.category(lead.phenomenon),
        "severity": g.message.severity,
        "title": titles,
        "body": i18n.join(
            bodies, i18n.texts("source", source={"ja": origin.attribution_ja, "en": origin.attribution_en})
        ),
        "ttl_seconds": origin.ttl_s,
        "topic": f"{origin.source}-{lead.phenomenon}"[:64],
        "extra": {origin.source: detail, "level": g.message.level},
    }


def _cancel_draft(
    db_session: Session, originals: Sequence[int], common: Mapping[str, Any], *, now: datetime
) -> delivery.NotificationDraft | None:
    """A 取消 goes to exactly the subscriptions that received the withdrawn notifications, each once, and
    stops what is still queued of them."""
    recipients: set[int] = set()
    for original in originals:
        recipients.update(delivery.recipients_who_received(db_session, original))
        delivery.cancel_notification(db_session, original, now=now)  # stop whatever is still queued
    # Nobody was told: nobody to correct (the state itself has been put back all the same).
    return (
        delivery.NotificationDraft(
            recipient_ids=sorted(recipients), reference_id=originals[0], also_references=originals[1:], **common
        )
        if originals
        else None
    )


def _area_draft(
    db_session: Session, munis: Sequence[str], originals: Sequence[int], common: Mapping[str, Any]
) -> delivery.NotificationDraft:
    """A 訂正 goes to the municipalities whose situation changed. It references what it corrects only
    when those went nowhere else: a follow-up also reaches whoever a referenced notification reaches
    later, and that must not tell another town about a change that is not theirs."""
    refs = (
        originals
        if all(set(delivery.get_notification(db_session, o).target_codes or ()) <= set(munis) for o in originals)
        else []
    )
    return delivery.NotificationDraft(
        municipality_codes=list(munis), reference_id=(refs[0] if refs else None), also_references=refs[1:], **common
    )


def notify_transitions(
    db_session: Session,
    origin: Origin,
    *,
    source: str,
    ref: str,
    transitions: Sequence[Transition],
    name: Callable[[str], str],
    settings: Settings,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
) -> list[SentAlert]:
    """One notification per group of municipalities with the same changes (``alerts.messages.group``).

    A ``cancelled`` group goes to exactly the subscriptions that received the withdrawn notifications (each
    once) and stops what is still queued of them; a ``corrected`` group to the municipalities, referencing
    what it corrects. Each notification is recorded on its transitions, so a later 取消 finds it.
    """
    sent: list[SentAlert] = []
    issuer = (origin.attribution_ja, origin.attribution_en)
    for g in messages.group(transitions, name, issuer):
        titles, bodies = texts.translate(
            [t for t in g.transitions if t.area == g.areas[0]],
            messages._join(name(a) for a in g.areas),
            g.message,
            issuer,
        )
        changes = sorted({t.change for t in g.transitions})
        munis = known_municipalities(db_session, g.areas)
        originals = sorted(
            {n for t in g.transitions if t.change in ("cancelled", "corrected") for n in t.notification_ids}
        )
        detail: dict[str, Any] = {
            "ref": ref,
            "changes": [[t.area, t.phenomenon, t.change, t.value.product] for t in g.transitions],
            "level": g.message.level,
            "corrects": originals,
            **dict(extra or {}),
        }
        common = _common(origin, g, titles, bodies, detail)
        draft: delivery.NotificationDraft | None = None
        if "cancelled" in changes:
            draft = _cancel_draft(db_session, originals, common, now=now)
        elif munis:
            draft = _area_draft(db_session, munis, originals, common)
        done = send_alert(
            db_session,
            source=source,
            key=_group_key(origin, ref, g),
            kind=_kind(changes),
            topic=g.transitions[0].phenomenon,
            event_id=ref,
            draft=draft,
            municipalities=munis,
            summary=f"{g.message.title_ja} → {'、'.join(name(a) for a in g.areas)}",
            settings=settings,
            now=now,
            detail=detail,
        )
        sent += record_sent(db_session, done, g.transitions)
    return sent


JMA = Origin("jma", JMA_ATTRIBUTION, "JMA", JMA_TTL_S, category_of)
