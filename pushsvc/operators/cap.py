"""OASIS CAP 1.2 in and out: an alert from L-Alert or another system enters the same operator flow,
and every message can be read back as CAP.

Reading the document and its header is ``pushsvc.cap.reader``; here it becomes our flow. Mapping: ``info/area``
``polygon`` ("lat,lon …", CAP order), ``circle`` ("lat,lon radius_km") and ``geocode`` (a 5- or
6-digit 全国地方公共団体コード of this prefecture) become the target; ``severity``/``urgency`` the
severity; ``expires`` the TTL; ``msgType`` Update/Cancel with ``references`` correct or cancel the
message an earlier CAP alert became. Anything we cannot honour is refused with the element to blame.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc.cap import writer
from pushsvc.cap.codes import CATEGORY_IN, SEVERITY_IN, URGENCY, Q
from pushsvc.cap.reader import (
    Allowed,
    header,
    language_of,
    merged,
    parse_time,
    polygon_of,
    read_root,
    references_of,
    text_of,
)
from pushsvc.errors import Conflict, OutsideServiceArea, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.geo.area import circle_area, parse_area
from pushsvc.operators.models import OperatorMessage
from pushsvc.operators.schemas import CircleIn, FollowUpIn, MessageIn, TargetIn
from pushsvc.operators.targets import inside

EVENT_JA = {
    "evacuation": "避難情報",
    "river": "河川情報",
    "weather": "気象情報",
    "landslide": "土砂災害情報",
    "quake_tsunami": "地震・津波情報",
    "area_info": "地域のお知らせ",
}
HEADER = (
    Allowed(
        "status", ("Actual", "Exercise", "Test"), "status {value} is not sent to residents (Actual, Exercise, Test are)"
    ),
    Allowed("scope", ("Public",), "scope {value} is not for the public"),
    Allowed("msgType", ("Alert", "Update", "Cancel"), "msgType {value} is not handled (Alert, Update, Cancel are)"),
)
_GEOCODE = re.compile(r"^\d{5,6}$")
_SHAPES = ("polygon", "circle", "geocode")


@dataclass
class CapAlert:
    """What a CAP alert asks of us, already mapped to the operator flow."""

    identifier: str
    sender: str
    msg_type: str  # Alert | Update | Cancel
    references: list[tuple[str, str]]  # (sender, identifier)
    message: MessageIn | None  # None for a Cancel
    follow_up: FollowUpIn | None


def _circle(text: str, field: str) -> CircleIn:
    try:
        centre, radius_km = text.split()
        lat, lon = (float(v) for v in centre.split(","))
        return CircleIn(lat=lat, lon=lon, radius_m=max(float(radius_km) * 1000, 100.0))
    except ValueError as exc:
        raise ValidationProblem(
            "a CAP circle is 'lat,lon radius_km' inside WGS84 with radius ≤ 100 km", field=field
        ) from exc


def _polygons(db_session: Session, area: ET.Element, where: str, prefecture: str) -> list[dict[str, Any]]:
    polygons: list[dict[str, Any]] = []
    for j, poly in enumerate(area.findall(Q + "polygon")):
        if (poly.text or "").strip():
            field = f"{where}.polygon[{j}]"
            polygons.append(polygon_of(poly.text or "", field))
            inside(db_session, parse_area(polygons[-1], field=field), prefecture, field=field)
    return polygons


def _circles(db_session: Session, area: ET.Element, where: str, prefecture: str, *, have_one: bool) -> list[CircleIn]:
    circles: list[CircleIn] = []
    for j, circ in enumerate(area.findall(Q + "circle")):
        field = f"{where}.circle[{j}]"
        if have_one or circles:
            raise ValidationProblem("at most one circle per alert is supported", field=field)
        circles.append(_circle((circ.text or "").strip(), field))
        inside(db_session, circle_area(circles[-1].lat, circles[-1].lon, circles[-1].radius_m), prefecture, field=field)
    return circles


def _geocodes(area: ET.Element, where: str, prefecture: str) -> list[str]:
    codes: list[str] = []
    for j, geocode in enumerate(area.findall(Q + "geocode")):
        name, value = text_of(geocode, "valueName"), text_of(geocode, "value")
        if not _GEOCODE.match(value) or not value.startswith(prefecture):
            raise OutsideServiceArea(
                f"geocode {name}={value} is not a municipality code of prefecture {prefecture} "
                f"({text_of(area, 'areaDesc')[:80]})",
                field=f"{where}.geocode[{j}]",
            )
        codes.append(value[:5])
    return codes


def _target(db_session: Session, infos: list[ET.Element], prefecture: str) -> TargetIn:
    """Union of every area of the first info; each part must be in this prefecture."""
    codes: list[str] = []
    polygons: list[dict[str, Any]] = []
    circles: list[CircleIn] = []
    areas = infos[0].findall(Q + "area")
    if not areas:
        raise ValidationProblem("the alert has no info/area to send to", field="info[0].area")
    for i, area in enumerate(areas):
        where = f"info[0].area[{i}]"
        polygons += _polygons(db_session, area, where, prefecture)
        circles += _circles(db_session, area, where, prefecture, have_one=bool(circles))
        codes += _geocodes(area, where, prefecture)
        if not any(area.findall(Q + t) for t in _SHAPES):
            raise ValidationProblem(
                f"area {text_of(area, 'areaDesc')[:80]!r} has no polygon, circle or geocode", field=where
            )
    known = geo_service.places_by_code(db_session, codes)
    unknown = sorted(set(codes) - set(known))
    if unknown:
        raise OutsideServiceArea(
            f"no municipality {', '.join(unknown)} in prefecture {prefecture}", field="info[0].area.geocode"
        )
    return TargetIn(
        municipality_codes=sorted(set(codes)), area=merged(polygons), circle=circles[0] if circles else None
    )


def _texts(infos: list[ET.Element]) -> tuple[str, str, dict[str, dict[str, str]]]:
    by_lang: dict[str, tuple[str, str]] = {}
    for info in infos:
        lang = language_of(info)
        headline = text_of(info, "headline") or text_of(info, "event")
        body = "\n".join(t for t in (text_of(info, "description"), text_of(info, "instruction")) if t)
        if lang and lang not in by_lang and headline:
            by_lang[lang] = (headline[:200], body[:2000])
    if not by_lang:
        raise ValidationProblem("no info block has a headline or event in a language we send", field="info")
    first = "ja" if "ja" in by_lang else next(iter(by_lang))
    title, body = by_lang.pop(first)
    return title, body, {k: {"title": t, "body": b} for k, (t, b) in by_lang.items()}


def _ttl(info: ET.Element, now: datetime) -> int:
    """Seconds until ``expires`` (a day if none, at most 28 days); an expired alert is refused."""
    expires_text = text_of(info, "expires")
    if not expires_text:
        return 86400
    expires = parse_time(expires_text, "info[0].expires")
    if expires <= now:
        raise ValidationProblem(f"the alert expired at {expires.isoformat()}", field="info[0].expires")
    return min(int((expires - now).total_seconds()), 28 * 86400)


def _severity(info: ET.Element) -> str:
    severity = SEVERITY_IN.get(text_of(info, "severity"), "info")
    if severity == "info" and text_of(info, "urgency") == "Immediate":
        severity = "advisory"  # Immediate but of unknown severity: at least not held for quiet hours silently
    return severity


def parse_alert(db_session: Session, xml: bytes, *, prefecture: str, now: datetime) -> CapAlert:
    """A CAP 1.2 alert mapped onto our flow, or a 422 naming the element that cannot be honoured."""
    root = read_root(xml)
    head = header(root, HEADER)
    identifier, sender, msg_type = head["identifier"], head["sender"], head["msgType"]
    refs = references_of(root)
    if msg_type != "Alert" and not refs:
        raise ValidationProblem(f"a {msg_type} needs <references> to the alert it changes", field="references")
    infos = root.findall(Q + "info")
    if msg_type == "Cancel":
        reason = (text_of(infos[0], "headline") if infos else "") or text_of(root, "note")
        return CapAlert(identifier, sender, msg_type, refs, None, FollowUpIn(reason=reason[:500]))
    if not infos:
        raise ValidationProblem("the alert has no <info>", field="info")
    target = _target(db_session, infos, prefecture)  # first: an alert for elsewhere is never ours
    ttl = _ttl(infos[0], now)
    title, body, lang = _texts(infos)
    category = CATEGORY_IN.get(text_of(infos[0], "category"), "area_info")
    try:
        message = MessageIn.model_validate(
            {
                "title": title,
                "body": body,
                "lang": lang,
                "category": category,
                "severity": _severity(infos[0]),
                "target": target,
                "ttl_seconds": max(ttl, 60),
                "test": head["status"] != "Actual",
            }
        )
    except PydanticError as exc:
        raise ValidationProblem(
            f"the alert cannot be sent as a message: {exc.errors()[0]['msg']}", field="info[0]"
        ) from exc
    follow = FollowUpIn(title=title, body=body, lang=lang) if msg_type == "Update" else None
    return CapAlert(identifier, sender, msg_type, refs, message, follow)


def referenced_message(db_session: Session, alert: CapAlert) -> OperatorMessage:
    """The latest message an earlier CAP alert of ``references`` became (Update/Cancel act on it)."""
    for sender, identifier in reversed(alert.references):
        m = db_session.execute(
            select(OperatorMessage)
            .where(OperatorMessage.cap_sender == sender, OperatorMessage.cap_identifier == identifier)
            .order_by(OperatorMessage.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if m is not None:
            return m
    raise Conflict(
        f"none of the referenced alerts ({', '.join(i for _, i in alert.references)}) was received "
        "here, so there is nothing to update or cancel",
        field="references",
    )


# --- output ---------------------------------------------------------------------------------------


def _rings(geom: Any) -> list[list[tuple[float, float]]]:
    polys = getattr(geom, "geoms", [geom])
    return [list(p.exterior.coords) for p in polys if hasattr(p, "exterior")]


def to_cap(
    m: OperatorMessage, *, names: dict[str, str], base_url: str, original: OperatorMessage | None, sent_at: datetime
) -> bytes:
    """The message as a CAP 1.2 alert: one info per language, areas as geocode and polygons."""
    sender = writer.sender_of(base_url)
    expires = datetime.fromtimestamp(sent_at.timestamp() + m.ttl_seconds, UTC)
    return writer.write(
        writer.CapDocument(
            identifier=f"{sender}.message.{m.id}",
            sender=sender,
            sent=sent_at,
            exercise=m.test,
            msg_type={"cancellation": "Cancel", "correction": "Update"}.get(m.kind, "Alert"),
            references=[(sender, f"{sender}.message.{original.id}", original.created_at)] if original else [],
            infos=[
                writer.CapInfo(
                    language=lang,
                    category=m.category,
                    severity=m.severity,
                    event=EVENT_JA.get(m.category, m.category) if lang == "ja" else m.category,
                    urgency=URGENCY.get(m.severity, "Unknown"),
                    certainty="Observed",
                    expires=expires,
                    headline=title,
                    description=m.body.get(lang) or None,
                )
                for lang, title in m.title.items()
            ],
            area_desc="、".join(names.values()) or "対象地域",
            polygons=_rings(m.area) if m.area is not None else [],
            geocodes=list(names),
        )
    )
