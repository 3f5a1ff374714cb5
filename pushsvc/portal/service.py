"""The resident's portal and operators' notices. Functions take ``db_session`` and never commit.

``portal_me`` answers, for each of the resident's places and the current location: where it is, the
alerts in force there, the river gauges that concern it, the nearest evacuation sites designated for
the hazards of those alerts, and the notices to read. It reads other domains only via their services.
What every answer shares (alerts, notices, gauges) comes from per-process snapshots (``pushsvc.cache``),
so an answer costs the token check, two version checks and, with important notices, one ack lookup.

This module is the domain's public face, what the routes import; operators' notices (publishing,
withdrawing, acknowledging) are done in ``notices``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pushsvc.cache import Snapshot
from pushsvc.config import Settings
from pushsvc.delivery.service import Notification
from pushsvc.evacuation import service as evacuation
from pushsvc.portal import alerts
from pushsvc.portal.notices import (
    NOTICES_TTL_S,
    acknowledge,
    active_notices,
    ensure_notice_scope,
    notice_out,
    publish_notice,
    resident_notices,
    withdraw_notice,
)
from pushsvc.portal.schemas import (
    AlertOut,
    MunicipalityRef,
    PlaceView,
    PortalOut,
    PortalSite,
    ShelterGroup,
)
from pushsvc.shelters import service as shelters
from pushsvc.shelters.schemas import SHELTER_CREDIT, Hazard, hazard_label
from pushsvc.subscriptions import service as subscriptions
from pushsvc.subscriptions.service import Subscription, SubscriptionPlace
from pushsvc.timeutil import as_utc as _utc

__all__ = [
    "NOTICES_TTL_S",
    "RECENT_PER_PLACE",
    "RIVERS_TTL_S",
    "SHELTERS_PER_HAZARD",
    "acknowledge",
    "active_notices",
    "ensure_notice_scope",
    "notice_out",
    "portal_me",
    "publish_notice",
    "river_stations",
    "with_history",
    "withdraw_notice",
]

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
_rivers: Snapshot[tuple[dict[str, Any], ...]] = Snapshot(RIVERS_TTL_S)


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
        notices=resident_notices(db_session, sub, codes, now),
        attribution=sorted(credits),
    )
