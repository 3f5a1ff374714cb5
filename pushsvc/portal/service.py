"""The resident's portal and operators' notices. Functions take ``db_session`` and never commit.

``portal_me`` answers, for each of the resident's places and the current location: where it is, the
alerts in force there, the river gauges that concern it, the nearest evacuation sites designated for
the hazards of those alerts, and the notices to read. It reads other domains only via their services.
What every answer shares (alerts, notices, gauges) comes from per-process snapshots (``pushsvc.cache``),
so an answer costs the token check, two version checks and, with important notices, one ack lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pushsvc.cache import Snapshot, detached
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.delivery.service import Notification
from pushsvc.errors import Forbidden, NotFound, ValidationProblem
from pushsvc.evacuation import service as evacuation
from pushsvc.operators import accounts
from pushsvc.operators import service as operator_messages
from pushsvc.operators.accounts import Operator
from pushsvc.portal import alerts
from pushsvc.portal.models import Notice, NoticeAck
from pushsvc.portal.schemas import (
    AlertOut,
    MunicipalityRef,
    NoticeIn,
    NoticeOut,
    PlaceView,
    PortalOut,
    PortalSite,
    ShelterGroup,
    text_in,
)
from pushsvc.shelters import service as shelters
from pushsvc.shelters.schemas import SHELTER_CREDIT, Hazard, hazard_label
from pushsvc.subscriptions import service as subscriptions
from pushsvc.subscriptions.service import Subscription, SubscriptionPlace
from pushsvc.timeutil import as_utc as _utc

log = logging.getLogger(__name__)

_stations: Callable[[Session, Collection[str]], list[dict[str, Any]]] | None
try:  # the river domain is built in parallel; the portal works without it
    from pushsvc.feeds.service import readings_since
    from pushsvc.feeds.service import stations_for_municipalities as _stations
except ImportError:  # pragma: no cover - depends on which domains are present
    _stations = None

SHELTERS_PER_HAZARD = 3
RECENT_PER_PLACE = 5
RIVERS_TTL_S = 1.0  # gauges are polled every few minutes; a second's delay costs nothing
NOTICES_TTL_S = 60.0  # the version check sees every change; this only bounds what it could miss
_rivers: Snapshot[tuple[dict[str, Any], ...]] = Snapshot(RIVERS_TTL_S)
_notices: Snapshot[tuple[Notice, ...]] = Snapshot(NOTICES_TTL_S)


def river_stations(db_session: Session, codes: Collection[str]) -> list[dict[str, Any]]:
    """Gauges in or upstream of these municipalities, from the feeds domain (empty until it exists).

    Read for the whole prefecture once a second per process; shared dicts, so never change them.
    """
    if _stations is None or not codes:
        return []
    get = _stations
    everything = _rivers.get(db_session, None, lambda: tuple(get(db_session, sorted(alerts.areas(db_session)))))
    wanted = set(codes)
    return [s for s in everything if s.get("municipality_code") in wanted or wanted & set(s.get("downstream") or ())]


def with_history(
    db_session: Session, stations: list[dict[str, Any]], *, hours: float, now: datetime
) -> list[dict[str, Any]]:
    """Copies of the gauges with their last ``hours`` of readings as ``history`` (one query for all)."""
    if not stations:
        return []
    found = readings_since(db_session, [s["code"] for s in stations], _utc(now) - timedelta(hours=hours))
    return [{**s, "history": found.get(s["code"], [])} for s in stations]


# --- notices ------------------------------------------------------------------------------------


def ensure_notice_scope(op: Operator, codes: Collection[str]) -> None:
    """403 unless the operator may reach every municipality; a prefecture-wide notice (no codes) is the
    prefecture's alone, because it reaches residents of municipalities the operator does not serve."""
    if not codes and not accounts.is_prefecture(op):
        raise Forbidden(
            f"operator {op.name!r} may not publish prefecture-wide notices; name municipalities",
            field="municipality_codes",
        )
    accounts.ensure_scope(op, codes, field="municipality_codes")


def publish_notice(
    db_session: Session, data: NoticeIn, *, operator: Operator, settings: Settings, now: datetime
) -> Notice:
    """Store a notice; with ``push`` it is also sent as a notification to the same municipalities.

    Validation (422) comes before scope (403), so an operator learns about a typo before a refusal.
    """
    if _utc(data.expires_at) <= _utc(now):
        raise ValidationProblem("expires_at is in the past", field="expires_at")
    codes = sorted(set(data.municipality_codes))
    known = alerts.areas(db_session)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationProblem(f"unknown municipality codes: {', '.join(unknown)}", field="municipality_codes")
    ensure_notice_scope(operator, codes)
    if data.push:  # the messages' approval rule: a pushed notice is a path to residents like any other
        reach = operator_messages.reach_needing_approval(
            db_session,
            operator,
            municipality_codes=codes or sorted(known),
            area=None,
            touched=codes or sorted(known),
            category=data.category,
            severity="info",
            test=False,
            settings=settings,
            now=_utc(now),
        )
        if reach.needs_approval:
            raise Forbidden(
                f"{reach.reason}; a notice cannot wait for approval, so send it as a message "
                "(POST /api/v1/messages) and publish it unpushed",
                field="push",
            )
    notice = Notice(
        title=dict(data.title),
        body=dict(data.body),
        important=data.important,
        municipality_codes=codes,
        published_by=operator.name[:64],
        created_at=_utc(now),
        expires_at=_utc(data.expires_at),
    )
    db_session.add(notice)
    db_session.flush()
    if data.push:
        ttl = max(0, min(28 * 86400, int((_utc(data.expires_at) - _utc(now)).total_seconds())))
        n = delivery.create_notification(
            db_session,
            delivery.NotificationDraft(
                source="notice",
                category=data.category,
                severity="info",
                title=dict(data.title),
                body=dict(data.body),
                municipality_codes=codes or sorted(known),
                ttl_seconds=ttl,
                extra={"notice_id": notice.id},
            ),
            settings=settings,
            now=now,
        )
        notice.notification_id = n.id
    db_session.flush()
    accounts.audit(
        db_session,
        "notice.publish",
        operator=operator,
        now=_utc(now),
        notice_id=notice.id,
        municipalities=codes,
        important=data.important,
        notification_id=notice.notification_id,
        category=data.category,
    )
    return notice


def withdraw_notice(db_session: Session, notice_id: int, *, operator: Operator, now: datetime) -> Notice:
    """Take a notice down; a pushed notice's notification leaves the public alert feeds with it."""
    notice = db_session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}", field="id")
    ensure_notice_scope(operator, notice.municipality_codes)
    if notice.withdrawn_at is None:
        notice.withdrawn_at = _utc(now)
        if notice.notification_id is not None:
            delivery.cancel_notification(db_session, notice.notification_id, now=now)
        accounts.audit(
            db_session,
            "notice.withdraw",
            operator=operator,
            now=_utc(now),
            notice_id=notice.id,
            municipalities=list(notice.municipality_codes),
            notification_id=notice.notification_id,
        )
    db_session.flush()
    return notice


def _notices_version(db_session: Session) -> tuple[Any, ...]:
    """Changes when a notice is published (newest id and time: SQLite may reuse an id) or withdrawn."""
    row = db_session.execute(_NOTICES_VERSION).first()
    return tuple(row) if row is not None else ()


_NOTICES_VERSION = (
    select(Notice.id, Notice.created_at, select(func.count(Notice.withdrawn_at)).scalar_subquery())
    .order_by(Notice.id.desc())
    .limit(1)
)  # built once: building costs more than running it


def active_notices(db_session: Session, *, codes: Collection[str] | None, now: datetime) -> list[Notice]:
    """Notices in force for any of ``codes`` (prefecture-wide ones always); None = every notice.

    From this process's snapshot (shared objects: read, never change them).
    """

    def load() -> tuple[Notice, ...]:
        rows = db_session.execute(
            select(Notice)
            .where(Notice.withdrawn_at.is_(None), Notice.expires_at > _utc(now))
            .order_by(Notice.important.desc(), Notice.created_at.desc(), Notice.id.desc())
        ).scalars()
        return tuple(detached(n) for n in rows)

    wanted = set(codes) if codes is not None else None
    return [
        n
        for n in _notices.get(db_session, _notices_version(db_session), load)
        if _utc(n.expires_at) > _utc(now)
        and (wanted is None or not n.municipality_codes or wanted & set(n.municipality_codes))
    ]


def acknowledge(db_session: Session, sub: Subscription, notice_id: int, *, now: datetime) -> None:
    """Record that the resident saw the notice (idempotent); it then leaves their portal."""
    codes = {p.municipality_code for p in sub.places}
    if not any(n.id == notice_id for n in active_notices(db_session, codes=codes, now=now)):
        raise NotFound(f"no notice {notice_id} in force for this subscription", field="id")
    exists = db_session.execute(
        select(NoticeAck.id).where(NoticeAck.notice_id == notice_id, NoticeAck.subscription_id == sub.id)
    ).first()
    if exists:
        return
    try:
        with db_session.begin_nested():
            db_session.add(NoticeAck(notice_id=notice_id, subscription_id=sub.id, acked_at=_utc(now)))
    except IntegrityError:  # the same resident acknowledged twice at once
        pass


def notice_out(n: Notice, lang: str, acknowledged: bool = False) -> NoticeOut:
    return NoticeOut(
        id=n.id,
        important=n.important,
        lang=lang if lang in n.title else "ja",
        title=text_in(n.title, lang),
        body=text_in(n.body or {}, lang),
        municipality_codes=list(n.municipality_codes),
        created_at=_utc(n.created_at),
        expires_at=_utc(n.expires_at),
        acknowledged=acknowledged,
    )


def _resident_notices(db_session: Session, sub: Subscription, codes: set[str], now: datetime) -> list[NoticeOut]:
    """Important notices not yet acknowledged, then the other notices of the resident's areas."""
    found = active_notices(db_session, codes=codes, now=now)
    important = [n.id for n in found if n.important]
    acked = (
        set(
            db_session.execute(
                select(NoticeAck.notice_id).where(
                    NoticeAck.subscription_id == sub.id, NoticeAck.notice_id.in_(important)
                )
            ).scalars()
        )
        if important
        else set()
    )
    return [notice_out(n, sub.lang) for n in found if not (n.important and n.id in acked)]


# --- the portal ---------------------------------------------------------------------------------


def _sites_for(db_session: Session, lat: float, lon: float, hazard: Hazard, lang: str) -> list[PortalSite]:
    """Open sites designated for the hazard first (where to go now), then the nearest closed ones."""
    opened = [
        PortalSite(**o.model_dump(exclude={"map_url"}), open=True)
        for o in shelters.open_nearest(db_session, lat, lon, [hazard], limit=SHELTERS_PER_HAZARD, lang=lang)
    ]
    ids = {o.id for o in opened}
    rest = [
        PortalSite(**n.model_dump())
        for n in shelters.nearest(db_session, lat, lon, hazard=hazard, limit=SHELTERS_PER_HAZARD)
        if n.id not in ids
    ]
    return opened + rest


def _shelters_for(
    db_session: Session, lat: float, lon: float, hazards: Sequence[Hazard], lang: str
) -> list[ShelterGroup]:
    return [
        ShelterGroup(hazard=h, label=hazard_label(h, lang), sites=_sites_for(db_session, lat, lon, h, lang))
        for h in hazards
    ]


def _relevant_rivers(stations: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [s for s in stations if s.get("municipality_code") == code or code in (s.get("downstream") or ())]


@dataclass(frozen=True)
class _Shared:
    """What every place of one answer is looked up in."""

    in_force: list[Notification]
    recent: list[Notification]
    areas: dict[str, alerts.Area]
    names: dict[str, str]
    stations: list[dict[str, Any]]
    orders: list[Any]  # evacuation orders in force (``evacuation.in_force_shared``)
    lang: str
    settings: Settings
    now: datetime


def _hazards(here: Sequence[Notification]) -> list[Hazard]:
    wanted: list[Hazard] = []
    for n in here:
        wanted += [h for h in alerts.hazards(n) if h not in wanted]
    return wanted


def _recent_here(db_session: Session, p: SubscriptionPlace, ctx: _Shared, shown: set[int]) -> list[AlertOut]:
    """The latest alerts that reached this place and are no longer in force."""
    return [
        alerts.to_out(db_session, n, lang=ctx.lang, settings=ctx.settings, now=ctx.now, names=ctx.names)
        for n in ctx.recent
        if n.id not in shown and alerts.covers(db_session, n, p.municipality_code, p.lat, p.lon)
    ][:RECENT_PER_PLACE]


def _place_view(db_session: Session, p: SubscriptionPlace, ctx: _Shared, credits: set[str]) -> PlaceView:
    """One place: the alerts in force and recent there, gauges, sites for those hazards, evacuation orders."""
    here = alerts.order(n for n in ctx.in_force if alerts.covers(db_session, n, p.municipality_code, p.lat, p.lon))
    wanted = _hazards(here)
    area = ctx.areas.get(p.municipality_code)
    lat, lon = (p.lat, p.lon) if p.lat is not None and p.lon is not None else (area.point if area else (None, None))
    groups = _shelters_for(db_session, lat, lon, wanted, ctx.lang) if lat is not None and lon is not None else []
    outs = [
        alerts.to_out(db_session, n, lang=ctx.lang, settings=ctx.settings, now=ctx.now, names=ctx.names) for n in here
    ]
    past = _recent_here(db_session, p, ctx, {n.id for n in here})
    credits.update(o.attribution for o in outs if o.attribution)
    if groups:
        credits.add(SHELTER_CREDIT)
    return PlaceView(
        kind=p.kind,
        label=p.label,
        municipality=MunicipalityRef(code=p.municipality_code, name=ctx.names.get(p.municipality_code, "")),
        lat=p.lat,
        lon=p.lon,
        alerts=outs,
        rivers=_relevant_rivers(ctx.stations, p.municipality_code),
        shelters=groups,
        recent=past,
        evacuation=evacuation.for_place(
            db_session,
            ctx.orders,
            p.municipality_code,
            p.lat,
            p.lon,
            lang=ctx.lang,
            names=ctx.names,
            point=area.point if area else None,
            settings=ctx.settings,
        ),
    )


def portal_me(db_session: Session, sub: Subscription, *, settings: Settings, now: datetime) -> PortalOut:
    """Everything the resident's portal shows, in their language with Japanese fallback."""
    places = subscriptions.live_places(sub, now=now)
    codes = {p.municipality_code for p in places}
    area_by_code = alerts.areas(db_session)
    names = {c: a.name for c, a in area_by_code.items()}
    in_force: list[Notification] = alerts.in_force(db_session, now=now)
    recent = alerts.recent(db_session, now=now)
    stations = with_history(
        db_session, river_stations(db_session, codes), hours=settings.portal_river_history_h, now=now
    )
    credits: set[str] = set()
    orders = evacuation.in_force_shared(db_session, now=now)
    if orders:
        credits.add(evacuation.ATTRIBUTION)
    ctx = _Shared(in_force, recent, area_by_code, names, stations, orders, sub.lang, settings, now)
    views = [_place_view(db_session, p, ctx, credits) for p in places]
    if stations:
        credits.add("国土交通省「川の防災情報」")
    return PortalOut(
        subscription_id=sub.id,
        lang=sub.lang,
        places=views,
        notices=_resident_notices(db_session, sub, codes, now),
        attribution=sorted(credits),
    )
