"""How one change of an evacuation order reaches residents and the order itself.

Each change (issue, raise, lower, update, 解除) is one operator message on the order's Topic, sent through
operators' own path (``operators.service.submit``), so scope, approval and audit are the same as for any
operator message. The order takes the change once that message is out: at once, or, when it waits for a
second operator, when ``refresh`` sees it sent; until then the order stays at its current level.
Functions take ``db_session`` and never commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.alerts import service as alert_state
from pushsvc.alerts.schemas import AreaValue, Statement, Value
from pushsvc.config import Settings
from pushsvc.delivery import service as delivery
from pushsvc.evacuation import texts
from pushsvc.evacuation.approval import single_issuer_reason
from pushsvc.evacuation.districts import municipality_name
from pushsvc.evacuation.models import EvacuationOrder
from pushsvc.operators import accounts
from pushsvc.operators import service as operators
from pushsvc.operators.accounts import Operator
from pushsvc.operators.schemas import MessageIn
from pushsvc.shelters import service as shelters
from pushsvc.timeutil import as_utc as _utc
from pushsvc.types import LANGUAGES

ORDER_TTL_S = 28 * 86400  # a phone offline for days still gets it; it leaves the feeds only when lifted
LIFT_TTL_S = 86400
SOURCE = "evacuation"  # the alert-state source and the notifications' source


def _shelter_names(db_session: Session, site_ids: list[str]) -> list[str]:
    """Open, not-full sites first: the push names at most three, so they should be ones with room."""
    found = shelters.states(db_session, site_ids) if site_ids else []
    return [s.name for s in sorted(found, key=lambda s: s.capacity == "full")]


def _send(
    db_session: Session,
    op: Operator,
    o: EvacuationOrder,
    action: str,
    fields: dict[str, Any],
    *,
    settings: Settings,
    now: datetime,
) -> Any:
    """One operator message for this change, on the order's Topic; returns the message.

    Its source is "evacuation": the alert feeds list it only while the alert state says the order is in
    force. Where the change came from (console, CAP) and the CAP identifiers stay on the order, so the
    generic CAP route cannot cancel an order's message behind its back."""
    place = municipality_name(db_session, o.municipality_code, settings.prefecture, "municipality_code")
    level = int(fields["level"])
    area = {lang: texts.stored_area_label(o.area_label, place, o.area_kind, o.districts, lang) for lang in LANGUAGES}
    if action == "lift":
        titles = {lang: texts.lift_title(o.level, place, lang) for lang in LANGUAGES}
        bodies = {lang: texts.lift_body(o.level, area[lang], lang, fields["note"]) for lang in LANGUAGES}
        severity = "warning" if o.level >= 4 else "advisory"  # replaces a Lv4+ on the phone without waiting
        ttl = LIFT_TTL_S
    else:
        names = _shelter_names(db_session, fields["shelter_ids"])
        titles = {lang: texts.title(level, place, lang) for lang in LANGUAGES}
        bodies = {
            lang: texts.body(
                level,
                area[lang],
                lang,
                lowered=action == "lower",
                hazards=fields["hazards"],
                reason=fields["reason"],
                shelters=names,
                note=fields["note"],
            )
            for lang in LANGUAGES
        }
        severity, ttl = texts.SEVERITY[level], ORDER_TTL_S
    target: dict[str, Any] = (
        {"municipality_codes": [o.municipality_code]} if o.area is None else {"area": mapping(o.area)}
    )
    body = MessageIn(
        title=titles["ja"],
        body=bodies["ja"],
        lang={lang: {"title": titles[lang], "body": bodies[lang]} for lang in LANGUAGES if lang != "ja"},
        category="evacuation",
        severity=severity,
        target=target,
        ttl_seconds=ttl,
        test=o.test,
    )
    extra = {
        "hazards": list(fields["hazards"]),
        "evacuation": {"order_id": o.id, "level": level, "action": action},
        "cap_parameters": {"EvacuationLevel": str(level), "EvacuationAction": action},
    }
    waive = None
    if action != "lift":
        waive = single_issuer_reason(settings.evacuation_single_issuer, o.municipality_code, level, now)
    return operators.submit(
        db_session,
        op,
        body,
        settings=settings,
        now=now,
        source=SOURCE,
        extra=extra,
        topic=o.topic,
        waive_approval=waive,
    )


def _apply(
    db_session: Session,
    o: EvacuationOrder,
    action: str,
    fields: dict[str, Any],
    message_id: int,
    notification_id: int | None,
    *,
    single_issuer: bool,
    by: str,
    now: datetime,
) -> None:
    """The change is out: the order now says what that message said, and the previous message leaves the
    feeds (its unsent copies are stopped; the new one on the same Topic replaces it on phones)."""
    level_changes = action != "update"  # the same level restated keeps its alert-feed entry (and message)
    if level_changes and o.notification_id is not None and o.notification_id != notification_id:
        delivery.cancel_notification(db_session, o.notification_id, now=now)
    _state(
        db_session,
        o,
        None if action == "lift" else int(fields["level"]),
        notification_id,
        ref=f"order:{o.id}|message:{message_id}",
        now=now,
    )
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
    o.history = [
        *o.history,
        {
            "action": action,
            "level": int(fields["level"]),
            "message_id": message_id,
            "at": now.isoformat(),
            "by": by,
            "single_issuer": single_issuer,
            "cap": fields.get("cap"),
        },
    ]


def _state(
    db_session: Session, o: EvacuationOrder, level: int | None, notification_id: int | None, *, ref: str, now: datetime
) -> None:
    """Put the order on the alert state (``pushsvc.alerts``): issued, raised, lowered or lifted there, so the
    public feeds and the portal show what the municipality last said. Drills are not public state."""
    if o.test:
        return
    value = (
        None
        if level is None
        else Value(
            product=texts.NAMES[level]["ja"],
            name_ja=texts.NAMES[level]["ja"],
            name_en=texts.NAMES[level]["en"],
            level=level,
            severity=texts.SEVERITY[level],
            rank=level,
            detail={"order_id": o.id, "hazards": list(o.hazards)},
        )
    )
    transitions = alert_state.apply_statement(
        db_session,
        Statement(source=SOURCE, ref=ref, at=now, items=(AreaValue(f"{SOURCE}:{o.id}", o.municipality_code, value),)),
        now=now,
    )
    if notification_id is not None:
        alert_state.attach_notification(db_session, transitions, notification_id)


def submit_change(
    db_session: Session,
    op: Operator,
    o: EvacuationOrder,
    action: str,
    fields: dict[str, Any],
    *,
    settings: Settings,
    now: datetime,
    source: str,
    cap: tuple[str, str] | None,
) -> None:
    """Send the change; the order takes it now if it went out, else keeps it pending until approved."""
    fields = {**fields, "cap": cap[0] if cap else None}
    m = _send(db_session, op, o, action, fields, settings=settings, now=now)
    single = bool(m.note.startswith("sent without a second operator"))
    if m.status in ("sent", "scheduled"):
        _apply(db_session, o, action, fields, m.id, m.notification_id, single_issuer=single, by=op.name, now=now)
    else:
        o.pending, o.pending_message_id, o.updated_at = {"action": action, **fields, "by": op.name}, m.id, now
    accounts.audit(
        db_session,
        f"evacuation.{action}",
        operator=op,
        message_id=m.id,
        now=now,
        order_id=o.id,
        municipality=o.municipality_code,
        level=int(fields["level"]),
        status=m.status,
        single_issuer=single,
        source=source,
    )
    if single:
        # Every other operator of this municipality (and the prefecture) sees it at once in the console.
        accounts.audit(
            db_session,
            "evacuation.single_issuer",
            operator=op,
            message_id=m.id,
            now=now,
            order_id=o.id,
            municipality=o.municipality_code,
            level=int(fields["level"]),
            reason=m.note,
        )
    db_session.flush()


def refresh(db_session: Session, *, now: datetime | None = None) -> None:
    """Apply changes whose message a second operator approved; drop those that expired or were cancelled."""
    now = _utc(now or datetime.now(UTC))
    waiting = list(
        db_session.execute(select(EvacuationOrder).where(EvacuationOrder.pending_message_id.is_not(None))).scalars()
    )
    for o in waiting:
        assert o.pending_message_id is not None and o.pending is not None
        status, notification_id = operators.status_of(db_session, o.pending_message_id, now=now)
        if status in ("sent", "scheduled"):
            p = dict(o.pending)
            _apply(
                db_session,
                o,
                p.pop("action"),
                p,
                o.pending_message_id,
                notification_id,
                single_issuer=False,
                by=str(p.get("by", "")),
                now=now,
            )
        elif status != "awaiting_approval":
            o.pending, o.pending_message_id = None, None
            if o.status == "pending":
                o.status = "withdrawn"
    if waiting:
        db_session.flush()
