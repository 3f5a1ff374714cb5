"""A browser's push subscription was renewed (``pushsubscriptionchange``): same resident, new endpoint and keys.

The service worker sends the new endpoint and keys with ``PATCH /api/v1/subscriptions/{id}``, authorised by
the subscription's token, so the resident keeps their places, settings and token. The endpoint is checked
exactly as at sign-up (push-host allowlist; keys by the same schema). An endpoint stays unique: one that
another subscription holds is refused with 409 and neither row changes. Taking it over would let whoever
holds one token hijack another subscription's alerts, and merging would decide for the resident which
settings survive; the other row is this browser's newer sign-up (made after the page lost its token), and
this row's dead endpoint is deleted at its first push (404/410).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.errors import Conflict, ValidationProblem
from pushsvc.subscriptions.models import Subscription
from pushsvc.subscriptions.schemas import SubscriptionPatch
from pushsvc.subscriptions.service import check_endpoint

PUSH_FIELDS = ("endpoint", "keys")


def _taken() -> Conflict:
    return Conflict(
        "another subscription already uses this endpoint; it is not moved or shared "
        "(subscribe again with POST to manage that one)",
        field="endpoint",
    )


def change_push_subscription(
    db_session: Session, sub: Subscription, patch: SubscriptionPatch, *, settings: Settings, now: datetime
) -> bool:
    """Point ``sub`` at the endpoint and keys in ``patch`` when given (both, together); returns whether it did.

    Validates everything before writing, so a refused change leaves the row as it was.
    """
    given = patch.model_fields_set.intersection(PUSH_FIELDS)
    if not given:
        return False
    for name in PUSH_FIELDS:
        if getattr(patch, name) is None:
            reason = "cannot be null" if name in given else "must be sent too"
            raise ValidationProblem(
                f"{name} {reason}: a new push subscription comes as endpoint and keys together", field=name
            )
    assert patch.endpoint is not None and patch.keys is not None
    endpoint = check_endpoint(patch.endpoint, settings)
    holder = db_session.execute(select(Subscription.id).where(Subscription.endpoint == endpoint)).scalar()
    if holder is not None and holder != sub.id:
        raise _taken()
    try:
        with db_session.begin_nested():  # two renewals racing for one endpoint: the loser gets 409, not 500
            sub.endpoint, sub.p256dh, sub.auth = endpoint, patch.keys.p256dh, patch.keys.auth
            sub.updated_at = now
            db_session.flush()
    except IntegrityError as exc:
        raise _taken() from exc
    return True
