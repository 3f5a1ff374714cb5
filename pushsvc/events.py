"""In-process domain events: how one domain tells another something without importing it.

The publisher calls ``publish(db_session, event)`` inside its transaction; every listener runs then and
there on the same session, so what a listener writes commits or rolls back with what the publisher did
(a sign-up and its KPI count are one transaction, as before this module existed). Listeners are wired
once in ``main.create_app`` (``listen`` ignores a handler it already has). Events are plain frozen
dataclasses of values, never ORM rows, so a listener cannot reach into the publisher's tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

E = TypeVar("E")
Handler = Callable[[Session, Any], None]
_listeners: defaultdict[type, list[Handler]] = defaultdict(list)


@dataclass(frozen=True)
class SubscriptionCreated:
    """A browser subscribed for the first time (a re-posted endpoint is not new)."""

    municipality_code: str  # its first registered place, else its current location; "" if neither
    at: datetime


@dataclass(frozen=True)
class SubscriptionDeleted:
    """A resident unsubscribed."""

    municipality_code: str  # its first registered place, else its current location; "" if neither
    at: datetime


def listen(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    if handler not in _listeners[event_type]:
        _listeners[event_type].append(handler)


def publish(db_session: Session, event: object) -> None:
    for handler in _listeners.get(type(event), ()):
        handler(db_session, event)
