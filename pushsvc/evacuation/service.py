"""避難情報: issue, raise/lower and lift (解除) evacuation orders; what is in force where.

Every change reaches residents through operators' own path (``operators.service.submit``), so scope,
approval and audit are the same as for any operator message; the order only adds the data (level,
hazards, area, shelters) the text is generated from and the one Topic all its messages share, so a
phone shows the current state rather than a history. A change that waits for a second operator is
applied when that message is sent (``refresh``); until then the order stays at its current level.
Functions take ``db_session`` and never commit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import shapely
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pushsvc.alerts import service as alert_state
from pushsvc.alerts.schemas import AreaValue, Statement, Value
from pushsvc.cache import Snapshot, detached
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.errors import Conflict, Forbidden, NotFound, ValidationProblem
from pushsvc.evacuation import texts
from pushsvc.evacuation.approval import single_issuer_reason
from pushsvc.evacuation.models import District, EvacuationOrder
from pushsvc.evacuation.schemas import (
    AreaIn,
    DistrictIn,
    DistrictOut,
    LiftIn,
    MunicipalityOut,
    OrderChangeIn,
    OrderIn,
    OrderOut,
    PendingOut,
    PlaceEvacuation,
    PublicOrderOut,
)
from pushsvc.geo import service as geo_service
from pushsvc.geo.area import parse_area
from pushsvc.operators import accounts
from pushsvc.operators import service as operators
from pushsvc.operators.accounts import Operator
from pushsvc.operators.schemas import MessageIn
from pushsvc.operators.targets import municipalities_touching
from pushsvc.shelters import service as shelters
from pushsvc.shelters.schemas import Hazard, hazard_label

IN_FORCE = ("pending", "in_force")  # pending: first issue awaiting approval (not yet public)
ORDER_TTL_S = 28 * 86400  # a phone offline for days still gets it; it leaves the feeds only when lifted
LIFT_TTL_S = 86400
SHELTERS_PER_PLACE = 5
ATTRIBUTION = "避難情報：各市町村"
SOURCE = "evacuation"  # the alert-state source and the notifications' source
SNAPSHOT_TTL_S = 60.0  # the version sees every change to an order; this only bounds what it could miss


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _municipality(db_session: Session, code: str, prefecture: str, field: str) -> str:
    place = geo_service.get_place(db_session, code)
    if place is None or not code.startswith(prefecture):
        raise ValidationProblem(f"not a municipality of prefecture {prefecture}: {code}", field=field)
    return place.name


def _geom_of(db_session: Session, code: str) -> BaseGeometry:
    for p, g in geo_service.list_places_with_geoms(db_session):
        if p.code == code:
            return g
    raise NotFound(f"no municipality {code}", field="municipality_code")


def _within(db_session: Session, geom: BaseGeometry, code: str, prefecture: str, field: str) -> None:
    """A district or drawn area must lie in its municipality: reaching a neighbour is that neighbour's call."""
    touched = municipalities_touching(db_session, geom, prefecture)
    if not touched:
        raise ValidationProblem(f"the area is outside prefecture {prefecture}", field=field)
    others = [c for c in touched if c != code]
    if others:
        names = geo_service.places_by_code(db_session, others)
        raise ValidationProblem(f"the area reaches beyond {code} into {', '.join(names[c].name for c in others)}; "
                                "draw it inside the municipality", field=field)


# --- districts ------------------------------------------------------------------------------------

def save_district(db_session: Session, op: Operator, code: str, body: DistrictIn, *, settings: Settings,
                  now: datetime | None = None) -> District:
    """Save (or redraw) a named district of a municipality; its own operators and the prefecture's."""
    _municipality(db_session, code, settings.prefecture, "municipality_code")
    accounts.ensure_scope(op, [code], field="municipality_code")
    geom = parse_area(body.area, field="area")
    _within(db_session, geom, code, settings.prefecture, "area")
    d = db_session.execute(select(District).where(District.municipality_code == code,
                                                  District.name == body.name)).scalar_one_or_none()
    if d is None:
        d = District(municipality_code=code, name=body.name, created_by=op.id,
                     created_at=_utc(now or datetime.now(UTC)))
        db_session.add(d)
    d.name_en, d.geom = body.name_en, geom
    accounts.audit(db_session, "district.save", operator=op, municipality=code, name=body.name)
    db_session.flush()
    return d


def list_districts(db_session: Session, code: str | None = None) -> list[District]:
    stmt = select(District).order_by(District.municipality_code, District.name)
    if code is not None:
        stmt = stmt.where(District.municipality_code == code)
    return list(db_session.execute(stmt).scalars())


def district_out(d: District) -> DistrictOut:
    return DistrictOut(municipality_code=d.municipality_code, name=d.name, name_en=d.name_en, area=mapping(d.geom))


# --- the area of an order -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Area:
    kind: str
    districts: list[str]
    geom: BaseGeometry | None  # None = the whole municipality
    label: dict[str, str]


def _area(db_session: Session, code: str, name: str, area: AreaIn, prefecture: str) -> _Area:
    if area.kind == "municipality":
        if area.districts or area.polygon:
            raise ValidationProblem("a whole-municipality order takes no districts or polygon", field="area")
        return _Area("municipality", [], None, {lang: texts.area_label(name, "municipality", [], lang)
                                                for lang in ("ja", "en")})
    if area.kind == "districts":
        if not area.districts or area.polygon:
            raise ValidationProblem("name one or more saved districts (and no polygon)", field="area.districts")
        found = {d.name: d for d in list_districts(db_session, code)}
        unknown = [n for n in area.districts if n not in found]
        if unknown:
            other = db_session.execute(select(District.municipality_code).where(
                District.name.in_(unknown), District.municipality_code != code)).scalars().first()
            hint = f" (that is a district of {other})" if other else ""
            raise ValidationProblem(f"no saved district {', '.join(unknown)} in {name}{hint}", field="area.districts")
        names = list(dict.fromkeys(area.districts))
        geom = shapely.union_all([found[n].geom for n in names])
        en = [found[n].name_en or n for n in names]
        return _Area("districts", names, geom, {"ja": texts.area_label(name, "districts", names, "ja"),
                                               "en": texts.area_label(name, "districts", en, "en")})
    if area.polygon is None or area.districts:
        raise ValidationProblem("a drawn area needs a polygon (and no districts)", field="area.polygon")
    geom = parse_area(area.polygon, field="area.polygon")
    _within(db_session, geom, code, prefecture, "area.polygon")
    return _Area("polygon", [], geom, {lang: texts.area_label(name, "polygon", [], lang) for lang in ("ja", "en")})


# --- sending a change -----------------------------------------------------------------------------

def _check_shelters(db_session: Session, op: Operator, site_ids: list[str], hazards: Collection[Hazard]) -> None:
    """Opened sites must exist, be the operator's to open, and be designated for every hazard of the order."""
    if not site_ids:
        return
    codes = shelters.municipality_of(db_session, site_ids, field="shelters")
    accounts.ensure_scope(op, set(codes.values()), field="shelters")
    wrong = shelters.unsuitable(db_session, site_ids, hazards)
    if wrong:
        raise ValidationProblem(f"{', '.join(wrong)} is not designated for "
                                f"{'・'.join(hazard_label(h, 'ja') for h in hazards)}; open another site",
                                field="shelters")


def _shelter_names(db_session: Session, site_ids: list[str]) -> list[str]:
    """Open, not-full sites first: the push names at most three, so they should be ones with room."""
    found = shelters.states(db_session, site_ids) if site_ids else []
    return [s.name for s in sorted(found, key=lambda s: s.capacity == "full")]


def _send(db_session: Session, op: Operator, o: EvacuationOrder, action: str, fields: dict[str, Any], *,
          settings: Settings, now: datetime) -> Any:
    """One operator message for this change, on the order's Topic; returns the message.

    Its source is "evacuation": the alert feeds list it only while the alert state says the order is in
    force. Where the change came from (console, CAP) and the CAP identifiers stay on the order, so the
    generic CAP route cannot cancel an order's message behind its back."""
    place = _municipality(db_session, o.municipality_code, settings.prefecture, "municipality_code")
    level = int(fields["level"])
    if action == "lift":
        titles = {lang: texts.lift_title(o.level, place, lang) for lang in ("ja", "en")}
        bodies = {lang: texts.lift_body(o.level, o.area_label[lang], lang, fields["note"]) for lang in ("ja", "en")}
        severity = "warning" if o.level >= 4 else "advisory"  # replaces a Lv4+ on the phone without waiting
        ttl = LIFT_TTL_S
    else:
        names = _shelter_names(db_session, fields["shelter_ids"])
        titles = {lang: texts.title(level, place, lang) for lang in ("ja", "en")}
        bodies = {lang: texts.body(level, o.area_label[lang], lang, lowered=action == "lower",
                                   hazards=fields["hazards"], reason=fields["reason"], shelters=names,
                                   note=fields["note"]) for lang in ("ja", "en")}
        severity, ttl = texts.SEVERITY[level], ORDER_TTL_S
    target: dict[str, Any] = {"municipality_codes": [o.municipality_code]} if o.area is None else \
        {"area": mapping(o.area)}
    body = MessageIn(title=titles["ja"], body=bodies["ja"], lang={"en": {"title": titles["en"], "body": bodies["en"]}},
                     category="evacuation", severity=severity, target=target, ttl_seconds=ttl, test=o.test)
    extra = {"hazards": list(fields["hazards"]), "evacuation": {"order_id": o.id, "level": level, "action": action},
             "cap_parameters": {"EvacuationLevel": str(level), "EvacuationAction": action}}
    waive = None
    if action != "lift":
        waive = single_issuer_reason(settings.evacuation_single_issuer, o.municipality_code, level, now)
    return operators.submit(db_session, op, body, settings=settings, now=now, source=SOURCE, extra=extra,
                            topic=o.topic, waive_approval=waive)


def _apply(db_session: Session, o: EvacuationOrder, action: str, fields: dict[str, Any], message_id: int,
           notification_id: int | None, *, single_issuer: bool, by: str, now: datetime) -> None:
    """The change is out: the order now says what that message said, and the previous message leaves the
    feeds (its unsent copies are stopped; the new one on the same Topic replaces it on phones)."""
    level_changes = action != "update"  # the same level restated keeps its alert-feed entry (and message)
    if level_changes and o.notification_id is not None and o.notification_id != notification_id:
        delivery.cancel_notification(db_session, o.notification_id, now=now)
    _state(db_session, o, None if action == "lift" else int(fields["level"]), notification_id,
           ref=f"order:{o.id}|message:{message_id}", now=now)
    if action == "lift":
        o.status, o.level, o.lifted_at = "lifted", 0, now
        if notification_id is not None:  # the 解除 itself informs; it is not a state to show in the feeds
            o.notification_id = None
    else:
        o.status, o.level = "in_force", int(fields["level"])
        o.hazards, o.shelter_ids = list(fields["hazards"]), list(fields["shelter_ids"])
        o.reason, o.note = fields["reason"], fields["note"]
        if level_changes:
            o.notification_id = notification_id
    o.message_id, o.single_issuer, o.updated_at = message_id, single_issuer, now
    o.pending, o.pending_message_id = None, None
    o.history = [*o.history, {"action": action, "level": int(fields["level"]), "message_id": message_id,
                              "at": now.isoformat(), "by": by, "single_issuer": single_issuer,
                              "cap": fields.get("cap")}]


def _state(db_session: Session, o: EvacuationOrder, level: int | None, notification_id: int | None, *, ref: str,
           now: datetime) -> None:
    """Put the order on the alert state (``pushsvc.alerts``): issued, raised, lowered or lifted there, so the
    public feeds and the portal show what the municipality last said. Drills are not public state."""
    if o.test:
        return
    value = None if level is None else Value(
        product=texts.NAMES[level]["ja"], name_ja=texts.NAMES[level]["ja"], name_en=texts.NAMES[level]["en"],
        level=level, severity=texts.SEVERITY[level], rank=level, detail={"order_id": o.id, "hazards": list(o.hazards)})
    transitions = alert_state.apply_statement(db_session, Statement(
        source=SOURCE, ref=ref, at=now, items=(AreaValue(f"{SOURCE}:{o.id}", o.municipality_code, value),)), now=now)
    if notification_id is not None:
        alert_state.attach_notification(db_session, transitions, notification_id)


def _submit_change(db_session: Session, op: Operator, o: EvacuationOrder, action: str, fields: dict[str, Any], *,
                   settings: Settings, now: datetime, source: str, cap: tuple[str, str] | None) -> None:
    fields = {**fields, "cap": cap[0] if cap else None}
    m = _send(db_session, op, o, action, fields, settings=settings, now=now)
    single = bool(m.note.startswith("sent without a second operator"))
    if m.status in ("sent", "scheduled"):
        _apply(db_session, o, action, fields, m.id, m.notification_id, single_issuer=single, by=op.name, now=now)
    else:
        o.pending, o.pending_message_id, o.updated_at = {"action": action, **fields, "by": op.name}, m.id, now
    accounts.audit(db_session, f"evacuation.{action}", operator=op, message_id=m.id, now=now, order_id=o.id,
                   municipality=o.municipality_code, level=int(fields["level"]), status=m.status,
                   single_issuer=single, source=source)
    if single:
        # Every other operator of this municipality (and the prefecture) sees it at once in the console.
        accounts.audit(db_session, "evacuation.single_issuer", operator=op, message_id=m.id, now=now,
                       order_id=o.id, municipality=o.municipality_code, level=int(fields["level"]), reason=m.note)
    db_session.flush()


def issue(db_session: Session, op: Operator, body: OrderIn, *, settings: Settings, now: datetime | None = None,
          source: str = "console", cap: tuple[str, str] | None = None) -> EvacuationOrder:
    """Issue 高齢者等避難 / 避難指示 / 緊急安全確保 for an area of one municipality."""
    now = _utc(now or datetime.now(UTC))
    refresh(db_session, now=now)
    name = _municipality(db_session, body.municipality_code, settings.prefecture, "municipality_code")
    accounts.ensure_scope(op, [body.municipality_code], field="municipality_code")
    area = _area(db_session, body.municipality_code, name, body.area, settings.prefecture)
    hazards = list(dict.fromkeys(body.hazards))
    _check_shelters(db_session, op, body.shelters, hazards)
    o = EvacuationOrder(
        municipality_code=body.municipality_code, status="pending", level=0, hazards=hazards, area_kind=area.kind,
        districts=area.districts, area=area.geom, area_label=area.label, reason=body.reason, note=body.note,
        shelter_ids=list(body.shelters), test=body.test, author_id=op.id, source=source,
        cap_sender=cap[1] if cap else None, cap_identifier=cap[0] if cap else None, history=[], created_at=now,
        updated_at=now)
    db_session.add(o)
    db_session.flush()
    o.topic = f"evac{o.id}"
    fields = {"level": body.level, "hazards": hazards, "shelter_ids": list(body.shelters), "reason": body.reason,
              "note": body.note}
    _submit_change(db_session, op, o, "issue", fields, settings=settings, now=now, source=source, cap=cap)
    return o


def get_order(db_session: Session, op: Operator | None, order_id: int) -> EvacuationOrder:
    o = db_session.get(EvacuationOrder, order_id, populate_existing=True)
    if o is None:
        raise NotFound(f"no evacuation order {order_id}", field="id")
    if op is not None and not accounts.in_scope(op, [o.municipality_code]):
        raise Forbidden(f"order {order_id} is outside operator {op.name!r}'s municipalities", field="id")
    return o


def _changeable(db_session: Session, op: Operator, order_id: int, now: datetime) -> EvacuationOrder:
    """The order, if this operator may change it and it is in force with no change awaiting approval."""
    refresh(db_session, now=now)
    o = get_order(db_session, op, order_id)
    accounts.ensure_scope(op, [o.municipality_code], field="id")
    if o.status not in IN_FORCE:
        raise Conflict(f"order {o.id} is {o.status}; issue a new one", field="id")
    if o.pending_message_id is not None:
        raise Conflict(f"order {o.id} has a change awaiting approval (message {o.pending_message_id})", field="id")
    return o


def change(db_session: Session, op: Operator, order_id: int, body: OrderChangeIn, *, settings: Settings,
           now: datetime | None = None, source: str = "console", cap: tuple[str, str] | None = None) -> EvacuationOrder:
    """Raise or lower the level (or update hazards, shelters, reason): same Topic, new text."""
    now = _utc(now or datetime.now(UTC))
    o = _changeable(db_session, op, order_id, now)
    hazards = list(dict.fromkeys(body.hazards)) if body.hazards is not None else cast(list[Hazard], list(o.hazards))
    site_ids = list(body.shelters) if body.shelters is not None else list(o.shelter_ids)
    _check_shelters(db_session, op, site_ids, hazards)
    fields = {"level": body.level, "hazards": hazards, "shelter_ids": site_ids,
              "reason": body.reason if body.reason is not None else o.reason,
              "note": body.note if body.note is not None else o.note}
    action = "raise" if body.level > o.level else "lower" if body.level < o.level else "update"
    _submit_change(db_session, op, o, action, fields, settings=settings, now=now, source=source, cap=cap)
    return o


def lift(db_session: Session, op: Operator, order_id: int, body: LiftIn, *, settings: Settings,
         now: datetime | None = None, source: str = "console", cap: tuple[str, str] | None = None) -> EvacuationOrder:
    """解除: residents of the area are told, and the order leaves the portal and the feeds."""
    now = _utc(now or datetime.now(UTC))
    o = _changeable(db_session, op, order_id, now)
    if o.status == "pending":
        raise Conflict(f"order {o.id} is awaiting approval and reached nobody: cancel message "
                       f"{o.pending_message_id} instead", field="id")
    fields = {"level": o.level, "hazards": list(o.hazards), "shelter_ids": list(o.shelter_ids), "reason": o.reason,
              "note": body.note}
    _submit_change(db_session, op, o, "lift", fields, settings=settings, now=now, source=source, cap=cap)
    return o


def refresh(db_session: Session, *, now: datetime | None = None) -> None:
    """Apply changes whose message a second operator approved; drop those that expired or were cancelled."""
    now = _utc(now or datetime.now(UTC))
    waiting = list(db_session.execute(select(EvacuationOrder).where(
        EvacuationOrder.pending_message_id.is_not(None))).scalars())
    for o in waiting:
        assert o.pending_message_id is not None and o.pending is not None
        status, notification_id = operators.status_of(db_session, o.pending_message_id, now=now)
        if status in ("sent", "scheduled"):
            p = dict(o.pending)
            _apply(db_session, o, p.pop("action"), p, o.pending_message_id, notification_id, single_issuer=False,
                   by=str(p.get("by", "")), now=now)
        elif status != "awaiting_approval":
            o.pending, o.pending_message_id = None, None
            if o.status == "pending":
                o.status = "withdrawn"
    if waiting:
        db_session.flush()


def list_orders(db_session: Session, op: Operator, *, include_lifted: bool = False) -> list[EvacuationOrder]:
    refresh(db_session)
    stmt = select(EvacuationOrder).order_by(EvacuationOrder.level.desc(), EvacuationOrder.id.desc()).limit(200)
    if not include_lifted:
        stmt = stmt.where(EvacuationOrder.status.in_(IN_FORCE))
    if not accounts.is_prefecture(op):
        stmt = stmt.where(EvacuationOrder.municipality_code.in_(op.municipalities))
    return list(db_session.execute(stmt).scalars())


def find_by_cap(db_session: Session, sender: str, identifiers: Collection[str]) -> EvacuationOrder | None:
    """The order an earlier CAP alert of this sender created or changed (Update/Cancel act on it)."""
    wanted = set(identifiers)
    if not wanted:
        return None
    for o in db_session.execute(select(EvacuationOrder).where(EvacuationOrder.cap_sender == sender)
                                .order_by(EvacuationOrder.id.desc())).scalars():
        seen = {o.cap_identifier, *(h.get("cap") for h in o.history), (o.pending or {}).get("cap")}
        if wanted & seen:
            return o
    return None


# --- what residents and open data see -------------------------------------------------------------

def names_of(db_session: Session, codes: Collection[str]) -> dict[str, str]:
    return {c: p.name for c, p in geo_service.places_by_code(db_session, codes).items()}


def order_out(db_session: Session, o: EvacuationOrder) -> OrderOut:
    level = o.level or int((o.pending or {}).get("level") or 0) or (o.history[-1]["level"] if o.history else 0)
    place = names_of(db_session, [o.municipality_code]).get(o.municipality_code, "")
    return OrderOut(
        id=o.id, municipality=MunicipalityOut(code=o.municipality_code, name=place),
        status=o.status, level=o.level, name=texts.NAMES.get(level, {}), severity=texts.SEVERITY.get(level, "info"),
        hazards=cast(list[Hazard], o.hazards), area_kind=o.area_kind, districts=o.districts, area_label=o.area_label,
        reason=o.reason, note=o.note, shelters=shelters.states(db_session, o.shelter_ids) if o.shelter_ids else [],
        topic=o.topic, message_id=o.message_id,
        pending=PendingOut(level=int(o.pending["level"]), action=str(o.pending["action"]),
                           message_id=o.pending_message_id) if o.pending and o.pending_message_id else None,
        single_issuer=o.single_issuer, test=o.test, source=o.source, created_at=_utc(o.created_at),
        updated_at=_utc(o.updated_at), lifted_at=_utc(o.lifted_at) if o.lifted_at else None, history=o.history)


def public_out(db_session: Session, o: EvacuationOrder, lang: str, names: dict[str, str], *,
               settings: Settings) -> PublicOrderOut:
    lg = "en" if lang != "ja" else "ja"
    place = names.get(o.municipality_code, o.municipality_code)
    open_sites = [s for s in shelters.states(db_session, o.shelter_ids, lang=lg) if s.open] if o.shelter_ids else []
    hazards = cast(list[Hazard], o.hazards)
    return PublicOrderOut(
        id=o.id, municipality=MunicipalityOut(code=o.municipality_code, name=place), level=o.level,
        name=texts.name(o.level, lg), title=texts.title(o.level, place, lg),
        body=texts.body(o.level, o.area_label.get(lg, ""), lg, lowered=False, hazards=hazards, reason=o.reason,
                        shelters=[s.name for s in open_sites], note=o.note),
        lang=lg, severity=texts.SEVERITY[o.level], hazards=hazards,
        hazard_labels=[hazard_label(h, lg) for h in hazards],
        area_kind=o.area_kind, districts=o.districts, area_label=o.area_label.get(lg, ""),
        area=mapping(o.area) if o.area is not None else None, shelters=open_sites, alert_id=o.notification_id,
        cap_url=f"{settings.public_base_url.rstrip('/')}/api/v1/alerts/{o.notification_id}.cap"
        if o.notification_id else None, issued_at=_utc(o.created_at), updated_at=_utc(o.updated_at))


def in_force(db_session: Session, *, municipality: str | None = None,
             now: datetime | None = None) -> list[EvacuationOrder]:
    """Orders in force as the alert state says (approved, not lifted; drills are never public state),
    highest level first, then newest."""
    refresh(db_session, now=now)
    ids = [int(a.phenomenon.removeprefix(f"{SOURCE}:")) for a in alert_state.in_force(
        db_session, areas=[municipality] if municipality else None, sources=[SOURCE])]
    if not ids:
        return []
    return list(db_session.execute(
        select(EvacuationOrder).where(EvacuationOrder.id.in_(ids), EvacuationOrder.status == "in_force")
        .order_by(EvacuationOrder.level.desc(), EvacuationOrder.updated_at.desc(), EvacuationOrder.id.desc())
    ).scalars())


_VERSION = select(func.count(EvacuationOrder.id), func.max(EvacuationOrder.updated_at),
                  func.count(EvacuationOrder.pending_message_id))  # built once: building costs more than running
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
    return list(_snapshot.get(db_session, version, lambda: tuple(
        detached(o) for o in in_force(db_session, now=now))))


def covers(o: EvacuationOrder, code: str, lat: float | None, lon: float | None) -> bool:
    """Whether an order reaches a place: the same rule delivery uses (a point in the area, or a place
    registered as the whole municipality when the area is in it)."""
    if code != o.municipality_code:
        return False
    if o.area is None or lat is None or lon is None:
        return True
    return bool(o.area.intersects(Point(lon, lat)))


def for_place(db_session: Session, orders: list[EvacuationOrder], code: str, lat: float | None, lon: float | None,
              *, lang: str, names: dict[str, str], point: tuple[float, float] | None,
              settings: Settings) -> PlaceEvacuation:
    """The orders in force at one place and the open sites suitable for all their hazards, nearest first."""
    here = [o for o in orders if covers(o, code, lat, lon)]
    hazards: list[Hazard] = []
    for o in here:
        hazards += [h for h in cast(list[Hazard], o.hazards) if h not in hazards]
    at = (lat, lon) if lat is not None and lon is not None else point
    sites = shelters.open_nearest(db_session, at[0], at[1], hazards, limit=SHELTERS_PER_PLACE,
                                  lang="ja" if lang == "ja" else "en") if here and at else []
    return PlaceEvacuation(orders=[public_out(db_session, o, lang, names, settings=settings) for o in here],
                           shelters=sites)


def municipality_point(db_session: Session, code: str) -> tuple[float, float] | None:
    try:
        rp = _geom_of(db_session, code).representative_point()
    except NotFound:
        return None
    return rp.y, rp.x
