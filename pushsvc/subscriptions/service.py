"""Subscriptions: sign-up, the resident's own view and changes, and who receives an alert.

Every function takes the session as ``db_session`` and never commits: the request (or the delivery
job) commits, so a refused request leaves nothing half-written. Geography goes through
``pushsvc.geo.service``; this domain never reads the boundary table itself.

This module is the domain's public face, what other domains import; the work is done in ``signup`` (tokens,
sign-up, changes, the resident's view), ``places`` (resolving places, categories) and ``targeting`` (who
receives an alert, how many residents there are). What happened is published from here (events).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pushsvc import events
from pushsvc.subscriptions.models import REGISTERED
from pushsvc.subscriptions.models import Subscription as Subscription  # handed out: others may name the type
from pushsvc.subscriptions.models import SubscriptionPlace as SubscriptionPlace
from pushsvc.subscriptions.places import categories_of, category_mask
from pushsvc.subscriptions.schemas import SubscriptionOut
from pushsvc.subscriptions.signup import (
    TOKEN_BYTES,
    authorize,
    check_endpoint,
    choices,
    delete_subscription,
    hash_token,
    intensity_rank_of,
    new_token,
    purge_expired_locations,
    set_current_location,
    subscribe,
    to_out,
    update_subscription,
)
from pushsvc.subscriptions.targeting import (
    PushTarget,
    ResidentPlaces,
    count_active,
    count_recipients_by,
    count_residents,
    find_recipients,
    first_recipients,
    get_push_targets,
    live_places,
    resident_places,
)
from pushsvc.timeutil import as_utc as _utc

__all__ = [
    "TOKEN_BYTES",
    "PushTarget",
    "ResidentPlaces",
    "Subscription",
    "SubscriptionPlace",
    "authorize",
    "categories_of",
    "category_mask",
    "check_endpoint",
    "choices",
    "count_active",
    "count_recipients_by",
    "count_residents",
    "delete_subscription",
    "find_recipients",
    "first_recipients",
    "get_push_targets",
    "hash_token",
    "intensity_rank_of",
    "live_places",
    "new_token",
    "publish_created",
    "publish_deleted",
    "purge_expired_locations",
    "resident_places",
    "set_current_location",
    "subscribe",
    "to_out",
    "update_subscription",
]


def _home_code(places: Sequence[Any]) -> str:
    return places[0].municipality_code if places else ""


def publish_created(db_session: Session, out: SubscriptionOut, *, now: datetime) -> None:
    """Tell listeners (KPI) a browser subscribed; one re-posting its endpoint keeps its created_at, so is not new."""
    if _utc(out.created_at) != _utc(now):
        return
    home = [*out.places, *([out.current_location] if out.current_location else [])]
    events.publish(db_session, events.SubscriptionCreated(municipality_code=_home_code(home), at=now))


def publish_deleted(db_session: Session, sub: Subscription, *, now: datetime) -> None:
    """Tell listeners (KPI) a resident unsubscribed, under its first registered place."""
    places = sorted(sub.places, key=lambda p: (p.kind != REGISTERED, p.position))
    events.publish(db_session, events.SubscriptionDeleted(municipality_code=_home_code(places), at=now))
