"""Sign-up and the resident's own subscription: tokens, subscribing, changes, current location, deletion,
and what the resident sees. Functions take ``db_session`` and never commit."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime, time
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.dml import Insert

from pushsvc.config import Settings
from pushsvc.db import table_of
from pushsvc.errors import Conflict, NotFound, Unauthorized, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.subscriptions.models import CURRENT, REGISTERED, Subscription, SubscriptionPlace
from pushsvc.subscriptions.places import (
    Resolved,
    as_resolved,
    categories_of,
    category_mask,
    expiry,
    locate,
    place_out,
    place_row,
    place_values,
    resolve_places,
)
from pushsvc.subscriptions.schemas import (
    MAX_PLACES,
    MIN_INTENSITIES,
    Choices,
    CurrentLocationOut,
    LocationIn,
    MunicipalityChoice,
    PlaceOut,
    QuietHours,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
    parse_hhmm,
)
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import CATEGORIES, LANGUAGES
from pushsvc.webpush.hosts import EndpointError, canonical_endpoint

TOKEN_BYTES = 24  # 192 bits


# --- tokens -------------------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """sha256 suffices: the token is random and long, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# One indexed query (primary key, places joined) built once, rather than a lookup and a second query for
# the places: the portal checks a token on every answer.
_BY_ID = select(Subscription).options(joinedload(Subscription.places)).where(Subscription.id == bindparam("sid"))


def authorize(db_session: Session, subscription_id: int, authorization: str | None) -> Subscription:
    """The subscription, if ``Authorization: Bearer <token>`` is its token (constant-time compare).

    "No such subscription" and "not your token" are one and the same 404, so ids cannot be enumerated.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send 'Authorization: Bearer <token>' as returned when subscribing",
            field="authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    sub = db_session.execute(_BY_ID, {"sid": subscription_id}).unique().scalar_one_or_none()
    digest = hash_token(token.strip())
    if sub is None or not hmac.compare_digest(digest, sub.token_hash):
        raise NotFound(f"no subscription {subscription_id} with this token", field="id")
    return sub


def check_endpoint(endpoint: str, settings: Settings) -> str:
    """The endpoint in canonical form (the one the sender will use), or 422 naming ``endpoint``."""
    try:
        return canonical_endpoint(endpoint, settings.allowed_push_hosts)
    except EndpointError as exc:
        raise ValidationProblem(str(exc), field="endpoint") from exc


def _quiet(q: QuietHours | None) -> tuple[time | None, time | None]:
    if q is None:
        return None, None
    if q.start == q.end:
        raise ValidationProblem("quiet hours start and end must differ", field="quiet_hours.end")
    return parse_hhmm(q.start), parse_hhmm(q.end)


# --- writes -------------------------------------------------------------------------------------


def _current_of(db_session: Session, data: SubscriptionIn, settings: Settings) -> Resolved | None:
    """The current location sent with a sign-up, resolved; only with follow_current_location."""
    if data.current_location is not None and not data.follow_current_location:
        raise ValidationProblem("current_location needs follow_current_location: true", field="current_location")
    if not data.current_location:
        return None
    return locate(
        db_session, data.current_location.lat, data.current_location.lon, settings, None, where="current_location."
    )


def _clear_places(db_session: Session, sub_id: int, *, keep_current: bool) -> SubscriptionPlace | None:
    """Delete a re-subscribing browser's registered places, and its current location unless it is kept
    (still followed and no new one sent); returns the kept one."""
    kept = None
    if keep_current:
        kept = db_session.execute(
            select(SubscriptionPlace).where(
                SubscriptionPlace.subscription_id == sub_id, SubscriptionPlace.kind == CURRENT
            )
        ).scalar_one_or_none()
    kinds = [REGISTERED] if keep_current else [REGISTERED, CURRENT]
    db_session.execute(
        delete(SubscriptionPlace).where(SubscriptionPlace.subscription_id == sub_id, SubscriptionPlace.kind.in_(kinds))
    )
    return kept


def _current_out(
    db_session: Session, current: Resolved | None, kept: SubscriptionPlace | None, *, expires: datetime, stamp: datetime
) -> CurrentLocationOut | None:
    """The current location as the answer shows it: the new one, or the kept one while it is live."""
    if current is not None:
        return CurrentLocationOut(**place_out(current), expires_at=expires)
    if kept is not None and kept.expires_at is not None and _utc(kept.expires_at) > stamp:
        return CurrentLocationOut(**place_out(as_resolved(db_session, kept)), expires_at=_utc(kept.expires_at))
    return None


def subscribe(
    db_session: Session, data: SubscriptionIn, *, settings: Settings, now: datetime
) -> tuple[SubscriptionOut, str]:
    """Create, or update the one row for this endpoint; returns what is stored and a fresh token (shown once).

    Re-posting an endpoint replaces its settings and token: holding the endpoint (a secret capability
    URL issued to that browser) is what proves it is the same browser. This is the hot path of sign-up
    campaigns, so it is one upsert, at most one delete and one batched insert, with the answer built
    from what was just resolved (measured: 9 statements and the ORM's unit of work took 3x longer).
    """
    endpoint = check_endpoint(data.endpoint, settings)
    resolved = resolve_places(db_session, data.places, settings)
    current = _current_of(db_session, data, settings)
    quiet_start, quiet_end = _quiet(data.quiet_hours)
    token = new_token()
    stamp = _utc(now)
    fields: dict[str, Any] = {
        "p256dh": data.keys.p256dh,
        "auth": data.keys.auth,
        "token_hash": hash_token(token),
        "lang": data.lang,
        "categories_mask": category_mask(data.categories),
        "follow_current_location": data.follow_current_location,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "updated_at": stamp,
        "min_quake_intensity": intensity_rank_of(data.min_intensity),
    }
    conn = db_session.connection()
    sub_id, created_at, test_device = conn.execute(
        _upsert(conn.dialect.name), {"endpoint": endpoint, "created_at": stamp, "test_device": False, **fields}
    ).one()
    kept_current: SubscriptionPlace | None = None
    if _utc(created_at) != stamp:  # an existing browser re-subscribing: replace its places
        kept_current = _clear_places(db_session, sub_id, keep_current=current is None and data.follow_current_location)
    rows = [place_values(sub_id, r, REGISTERED, i) for i, r in enumerate(resolved)]
    expires = expiry(now, settings)
    if current is not None:
        rows.append(place_values(sub_id, current, CURRENT, 0, expires))
    if rows:
        conn.execute(_INSERT_PLACES, rows)
    db_session.expire_all()  # the ORM must not serve a stale copy of rows written with Core
    current_out = _current_out(db_session, current, kept_current, expires=expires, stamp=stamp)
    out = SubscriptionOut(
        id=sub_id,
        endpoint=endpoint,
        keys={"p256dh": data.keys.p256dh, "auth": data.keys.auth},
        places=[PlaceOut(**place_out(r)) for r in resolved],
        follow_current_location=data.follow_current_location,
        current_location=current_out,
        categories=categories_of(fields["categories_mask"]),
        lang=data.lang,
        quiet_hours=data.quiet_hours,
        test_device=bool(test_device),
        created_at=_utc(created_at),
        updated_at=stamp,
        min_intensity=data.min_intensity,
    )
    return out, token


# Built once, executed on the session's connection: building the statement and the ORM's bulk-insert path
# per request cost more CPU than the database work itself (py-spy on the sign-up benchmark).
# test_device is inserted False and never overwritten: re-subscribing keeps an enrolled training device.
_UPSERTED = (
    "p256dh",
    "auth",
    "token_hash",
    "lang",
    "categories_mask",
    "follow_current_location",
    "quiet_start",
    "quiet_end",
    "updated_at",
    "min_quake_intensity",
)
_INSERT_PLACES = insert(table_of(SubscriptionPlace))


@functools.cache
def _upsert(dialect: str) -> Insert:
    """One row per endpoint: insert, or replace the settings of the row that has it."""
    table = table_of(Subscription)
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        {c: bindparam(c) for c in ("endpoint", "created_at", "test_device", *_UPSERTED)}
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.endpoint], set_={c: stmt.excluded[c] for c in _UPSERTED}
    ).returning(table.c.id, table.c.created_at, table.c.test_device)


def _apply_settings(sub: Subscription, patch: SubscriptionPatch, quiet: tuple[time | None, time | None] | None) -> None:
    """The patch's settings (not its places); a field sent as null is refused, one not sent is kept."""
    given = patch.model_fields_set
    for name in ("follow_current_location", "lang"):
        value = getattr(patch, name)
        if name in given and value is None:
            raise ValidationProblem(f"{name} cannot be null", field=name)
        if value is not None:
            setattr(sub, name, value)
    if "categories" in given:
        if patch.categories is None:
            raise ValidationProblem("categories cannot be null", field="categories")
        sub.categories_mask = category_mask(patch.categories)
    if quiet is not None:
        sub.quiet_start, sub.quiet_end = quiet
    if patch.min_intensity is not None:
        sub.min_quake_intensity = intensity_rank_of(patch.min_intensity)


def update_subscription(
    db_session: Session, sub: Subscription, patch: SubscriptionPatch, *, settings: Settings, now: datetime
) -> Subscription:
    """Change only what was sent; validate everything before touching the row."""
    given = patch.model_fields_set
    resolved = resolve_places(db_session, patch.places, settings) if patch.places is not None else None
    quiet = _quiet(patch.quiet_hours) if "quiet_hours" in given else None
    _apply_settings(sub, patch, quiet)
    if resolved is not None:
        for p in [p for p in sub.places if p.kind == REGISTERED]:
            sub.places.remove(p)
        db_session.flush()
        sub.places.extend(place_row(r, REGISTERED, i) for i, r in enumerate(resolved))
    if not sub.follow_current_location:
        _forget_current(sub)
    sub.updated_at = _utc(now)
    db_session.flush()
    return sub


def _forget_current(sub: Subscription) -> None:
    for p in [p for p in sub.places if p.kind == CURRENT]:
        sub.places.remove(p)


def set_current_location(
    db_session: Session, sub: Subscription, loc: LocationIn, *, settings: Settings, now: datetime
) -> SubscriptionPlace:
    """Replace the current location; it expires ``current_location_ttl_hours`` from now."""
    if not sub.follow_current_location:
        raise Conflict(
            "this subscription does not follow the current location; PATCH follow_current_location: true first",
            field="follow_current_location",
        )
    resolved = locate(db_session, loc.lat, loc.lon, settings, None, where="")
    _forget_current(sub)
    db_session.flush()
    row = place_row(resolved, CURRENT, 0, expiry(now, settings))
    sub.places.append(row)
    sub.updated_at = _utc(now)
    db_session.flush()
    return row


def delete_subscription(db_session: Session, subscription_id: int) -> bool:
    """Erase a subscription and every location it stored (also used on push-service 404/410)."""
    db_session.execute(delete(SubscriptionPlace).where(SubscriptionPlace.subscription_id == subscription_id))
    result = db_session.execute(delete(Subscription).where(Subscription.id == subscription_id))
    db_session.expire_all()
    return bool(getattr(result, "rowcount", 0))


def purge_expired_locations(db_session: Session, *, now: datetime) -> int:
    """Delete current locations past their expiry, so an old whereabouts is not even kept."""
    result = db_session.execute(
        delete(SubscriptionPlace).where(SubscriptionPlace.kind == CURRENT, SubscriptionPlace.expires_at <= _utc(now))
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- reads --------------------------------------------------------------------------------------


def to_out(db_session: Session, sub: Subscription, *, now: datetime) -> SubscriptionOut:
    """Everything stored about ``sub``, municipality names included, as the resident sees it."""
    names = {
        p.code: p.name
        for p in geo_service.places_by_code(db_session, [p.municipality_code for p in sub.places]).values()
    }

    def place(p: SubscriptionPlace) -> dict[str, Any]:
        return {
            "label": p.label,
            "municipality_code": p.municipality_code,
            "municipality_name": names.get(p.municipality_code, ""),
            "match": p.match,
            "lat": p.lat,
            "lon": p.lon,
        }

    current = next(
        (p for p in sub.places if p.kind == CURRENT and p.expires_at is not None and _utc(p.expires_at) > _utc(now)),
        None,
    )
    quiet = (
        QuietHours(start=sub.quiet_start.strftime("%H:%M"), end=sub.quiet_end.strftime("%H:%M"))
        if sub.quiet_start is not None and sub.quiet_end is not None
        else None
    )
    return SubscriptionOut(
        id=sub.id,
        endpoint=sub.endpoint,
        keys={"p256dh": sub.p256dh, "auth": sub.auth},
        places=[PlaceOut(**place(p)) for p in sub.places if p.kind == REGISTERED],
        follow_current_location=sub.follow_current_location,
        current_location=(
            CurrentLocationOut(**place(current), expires_at=_utc(current.expires_at))
            if current is not None and current.expires_at is not None
            else None
        ),
        categories=categories_of(sub.categories_mask),
        lang=sub.lang,
        quiet_hours=quiet,
        test_device=sub.test_device,
        created_at=_utc(sub.created_at),
        updated_at=_utc(sub.updated_at),
        min_intensity=MIN_INTENSITIES[max(1, min(sub.min_quake_intensity or 3, 6)) - 1],
    )


def intensity_rank_of(value: str) -> int:
    """ "1"…"5強" → 1…6, the ranks ``feeds.jma.quake.intensity_rank`` gives 震度1…5強."""
    return MIN_INTENSITIES.index(value) + 1


def choices(db_session: Session, settings: Settings) -> Choices:
    return Choices(
        municipalities=[
            MunicipalityChoice(code=p.code, name=p.name, district=p.district)
            for p in geo_service.list_places(db_session)
            if p.code.startswith(settings.prefecture)
        ],
        categories=list(CATEGORIES),
        languages=list(LANGUAGES),
        max_places=MAX_PLACES,
        current_location_ttl_hours=settings.current_location_ttl_hours,
    )
