"""What residents and open data see of evacuation orders: those in force, at a place, with open shelters.

Functions take ``db_session`` and never commit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast

from shapely.geometry import Point, mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pushsvc.alerts import service as alert_state
from pushsvc.cache import Snapshot, detached
from pushsvc.config import Settings
from pushsvc.errors import NotFound
from pushsvc.evacuation import texts
from pushsvc.evacuation.changes import SOURCE, refresh
from pushsvc.evacuation.districts import municipality_geom
from pushsvc.evacuation.models import EvacuationOrder
from pushsvc.evacuation.schemas import MunicipalityOut, OrderOut, PendingOut, PlaceEvacuation, PublicOrderOut
from pushsvc.geo import service as geo_service
from pushsvc.shelters import service as shelters
from pushsvc.shelters.schemas import Hazard, hazard_label
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import LANGUAGES

SHELTERS_PER_PLACE = 5
SNAPSHOT_TTL_S = 60.0  # the version sees every change to an order; this only bounds what it could miss


def names_of(db_session: Session, codes: Collection[str]) -> dict[str, str]:
    return {c: p.name for c, p in geo_service.places_by_code(db_session, codes).items()}


def order_out(db_session: Session, o: EvacuationOrder) -> OrderOut:
    level = o.level or int((o.pending or {}).get("level") or 0) or (o.history[-1]["level"] if o.history else 0)
    place = names_of(db_session, [o.municipality_code]).get(o.municipality_code, "")
    return OrderOut(
        id=o.id,
        municipality=MunicipalityOut(code=o.municipality_code, name=place),
        status=o.status,
        level=o.level,
        name=texts.NAMES.get(level, {}),
        severity=texts.SEVERITY.get(level, "info"),
        hazards=cast(list[Hazard], o.hazards),
        area_kind=o.area_kind,
        districts=o.districts,
        area_label=o.area_label,
        reason=o.reason,
        note=o.note,
        shelters=shelters.states(db_session, o.shelter_ids) if o.shelter_ids else [],
        topic=o.topic,
        message_id=o.message_id,
        pending=PendingOut(
            level=int(o.pending["level"]), action=str(o.pending["action"]), message_id=o.pending_message_id
        )
        if o.pending and o.pending_message_id
        else None,
        single_issuer=o.single_issuer,
        test=o.test,
        source=o.source,
        created_at=_utc(o.created_at),
        updated_at=_utc(o.updated_at),
        lifted_at=_utc(o.lifted_at) if o.lifted_at else None,
        history=o.history,
    )


def public_out(
    db_session: Session, o: EvacuationOrder, lang: str, names: dict[str, str], *, settings: Settings
) -> PublicOrderOut:
    lg = lang if lang in LANGUAGES else "en"  # the order's words as the resident's push said them
    place = names.get(o.municipality_code, o.municipality_code)
    open_sites = (
        [s for s in shelters.states(db_session, o.shelter_ids, lang="ja" if lg == "ja" else "en") if s.open]
        if o.shelter_ids
        else []
    )
    hazards = cast(list[Hazard], o.hazards)
    area = texts.stored_area_label(o.area_label, place, o.area_kind, o.districts, lg)
    return PublicOrderOut(
        id=o.id,
        municipality=MunicipalityOut(code=o.municipality_code, name=place),
        level=o.level,
        name=texts.name(o.level, lg),
        title=texts.title(o.level, place, lg),
        body=texts.body(
            o.level,
            area,
            lg,
            lowered=False,
            hazards=hazards,
            reason=o.reason,
            shelters=[s.name for s in open_sites],
            note=o.note,
        ),
        lang=lg,
        severity=texts.SEVERITY[o.level],
        hazards=hazards,
        hazard_labels=[hazard_label(h, lg) for h in hazards],
        area_kind=o.area_kind,
        districts=o.districts,
        area_label=area,
        area=mapping(o.area) if o.area is not None else None,
        shelters=open_sites,
        alert_id=o.notification_id,
        cap_url=f"{settings.public_base_url.rstrip('/')}/api/v1/alerts/{o.notification_id}.cap"
        if o.notification_id
        else None,
        issued_at=_utc(o.created_at),
        updated_at=_utc(o.updated_at),
    )


def in_force(
    db_session: Session, *, municipality: str | None = None, now: datetime | None = None
) -> list[EvacuationOrder]:
    """Orders in force as the alert state says (approved, not lifted; drills are never public state),
    highest level first, then newest."""
    refresh(db_session, now=now)
    ids = [
        int(a.phenomenon.removeprefix(f"{SOURCE}:"))
        for a in alert_state.in_force(db_session, areas=[municipality] if municipality else None, sources=[SOURCE])
    ]
    if not ids:
        return []
    return list(
        db_session.execute(
            select(EvacuationOrder)
            .where(EvacuationOrder.id.in_(ids), EvacuationOrder.status == "in_force")
            .order_by(EvacuationOrder.level.desc(), EvacuationOrder.updated_at.desc(), EvacuationOrder.id.desc())
        ).scalars()
    )


_VERSION = select(
    func.count(EvacuationOrder.id), func.max(EvacuationOrder.updated_at), func.count(EvacuationOrder.pending_message_id)
)  # built once: building costs more than running
_snapshot: Snapshot[tuple[EvacuationOrder, ...]] = Snapshot(SNAPSHOT_TTL_S)


def in_force_shared(db_session: Session, *, now: datetime) -> list[EvacuationOrder]:
    """``in_force`` for read-heavy callers (the portal): one version query per call, the orders from this
    process's snapshot (shared objects: read, never change them). Only while a change awaits approval is
    the approval looked up on every call, so an approved 避難指示 shows at once."""
    # The alert state of source "evacuation" changes only with an order's row (``_apply`` sets updated_at),
    # so the orders' own version covers it.
    version = tuple(db_session.execute(_VERSION).one())
    if version[2]:
        refresh(db_session, now=now)
        version = tuple(db_session.execute(_VERSION).one())
    return list(_snapshot.get(db_session, version, lambda: tuple(detached(o) for o in in_force(db_session, now=now))))


def covers(o: EvacuationOrder, code: str, lat: float | None, lon: float | None) -> bool:
    """Whether an order reaches a place: the same rule delivery uses (a point in the area, or a place
    registered as the whole municipality when the area is in it)."""
    if code != o.municipality_code:
        return False
    if o.area is None or lat is None or lon is None:
        return True
    return bool(o.area.intersects(Point(lon, lat)))


def for_place(
    db_session: Session,
    orders: list[EvacuationOrder],
    code: str,
    lat: float | None,
    lon: float | None,
    *,
    lang: str,
    names: dict[str, str],
    point: tuple[float, float] | None,
    settings: Settings,
) -> PlaceEvacuation:
    """The orders in force at one place and the open sites suitable for all their hazards, nearest first."""
    here = [o for o in orders if covers(o, code, lat, lon)]
    hazards: list[Hazard] = []
    for o in here:
        hazards += [h for h in cast(list[Hazard], o.hazards) if h not in hazards]
    at = (lat, lon) if lat is not None and lon is not None else point
    sites = (
        shelters.open_nearest(
            db_session, at[0], at[1], hazards, limit=SHELTERS_PER_PLACE, lang="ja" if lang == "ja" else "en"
        )
        if here and at
        else []
    )
    return PlaceEvacuation(
        orders=[public_out(db_session, o, lang, names, settings=settings) for o in here], shelters=sites
    )


def municipality_point(db_session: Session, code: str) -> tuple[float, float] | None:
    try:
        rp = municipality_geom(db_session, code).representative_point()
    except NotFound:
        return None
    return rp.y, rp.x
