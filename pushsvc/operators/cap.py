"""OASIS CAP 1.2 in and out: an alert from L-Alert or another system enters the same operator flow,
and every message can be read back as CAP.

Input is parsed with defusedxml (no entities, no external references). Mapping: ``info/area``
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

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pushsvc import cap as cap_out
from pushsvc.errors import Conflict, OutsideServiceArea, ValidationProblem
from pushsvc.geo import service as geo_service
from pushsvc.geo.area import circle_area, parse_area
from pushsvc.operators.models import OperatorMessage
from pushsvc.operators.schemas import CircleIn, FollowUpIn, MessageIn, TargetIn
from pushsvc.operators.targets import inside

NS = "urn:oasis:names:tc:emergency:cap:1.2"
Q = f"{{{NS}}}"
SEVERITY_IN = {"Extreme": "emergency", "Severe": "warning", "Moderate": "advisory", "Minor": "info",
               "Unknown": "info"}
CATEGORY_IN = {"Geo": "quake_tsunami", "Met": "weather", "Safety": "evacuation", "Security": "evacuation",
               "Rescue": "evacuation", "Fire": "evacuation", "Health": "area_info", "Env": "area_info",
               "Transport": "area_info", "Infra": "area_info", "CBRNE": "evacuation", "Other": "area_info"}
EVENT_JA = {"evacuation": "避難情報", "river": "河川情報", "weather": "気象情報", "landslide": "土砂災害情報",
            "quake_tsunami": "地震・津波情報", "area_info": "地域のお知らせ"}
LANG_IN = {"ja": "ja", "en": "en", "ko": "ko", "vi": "vi", "tl": "tl", "ne": "ne", "id": "id", "pt": "pt",
           "zh-cn": "zh-Hans", "zh-hans": "zh-Hans", "zh-tw": "zh-Hant", "zh-hant": "zh-Hant", "zh": "zh-Hans"}
_GEOCODE = re.compile(r"^\d{5,6}$")


@dataclass
class CapAlert:
    """What a CAP alert asks of us, already mapped to the operator flow."""

    identifier: str
    sender: str
    msg_type: str  # Alert | Update | Cancel
    references: list[tuple[str, str]]  # (sender, identifier)
    message: MessageIn | None  # None for a Cancel
    follow_up: FollowUpIn | None


def _text(el: ET.Element | None, tag: str) -> str:
    found = el.find(Q + tag) if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def _parse_time(value: str, field: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationProblem(f"{value!r} is not a CAP date-time", field=field) from exc
    if dt.tzinfo is None:
        raise ValidationProblem("CAP date-times carry a UTC offset", field=field)
    return dt.astimezone(UTC)


def _polygon(text: str, field: str) -> dict[str, Any]:
    try:
        points = [(float(lon), float(lat)) for lat, lon in (p.split(",") for p in text.split())]
    except ValueError as exc:
        raise ValidationProblem("a CAP polygon is space-separated 'lat,lon' pairs", field=field) from exc
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


def _circle(text: str, field: str) -> CircleIn:
    try:
        centre, radius_km = text.split()
        lat, lon = (float(v) for v in centre.split(","))
        return CircleIn(lat=lat, lon=lon, radius_m=max(float(radius_km) * 1000, 100.0))
    except ValueError as exc:
        raise ValidationProblem("a CAP circle is 'lat,lon radius_km' inside WGS84 with radius ≤ 100 km",
                                field=field) from exc


def _target(db_session: Session, infos: list[ET.Element], prefecture: str) -> TargetIn:
    """Union of every area of the first info; each part must be in this prefecture."""
    codes: list[str] = []
    polygons: list[dict[str, Any]] = []
    circle: CircleIn | None = None
    areas = infos[0].findall(Q + "area")
    if not areas:
        raise ValidationProblem("the alert has no info/area to send to", field="info[0].area")
    for i, area in enumerate(areas):
        where = f"info[0].area[{i}]"
        for j, poly in enumerate(area.findall(Q + "polygon")):
            if (poly.text or "").strip():
                polygons.append(_polygon(poly.text or "", f"{where}.polygon[{j}]"))
                inside(db_session, parse_area(polygons[-1], field=f"{where}.polygon[{j}]"), prefecture,
                       field=f"{where}.polygon[{j}]")
        for j, circ in enumerate(area.findall(Q + "circle")):
            if circle is not None:
                raise ValidationProblem("at most one circle per alert is supported", field=f"{where}.circle[{j}]")
            circle = _circle((circ.text or "").strip(), f"{where}.circle[{j}]")
            inside(db_session, circle_area(circle.lat, circle.lon, circle.radius_m), prefecture,
                   field=f"{where}.circle[{j}]")
        for j, geocode in enumerate(area.findall(Q + "geocode")):
            name, value = _text(geocode, "valueName"), _text(geocode, "value")
            if not _GEOCODE.match(value) or not value.startswith(prefecture):
                raise OutsideServiceArea(
                    f"geocode {name}={value} is not a municipality code of prefecture {prefecture} "
                    f"({_text(area, 'areaDesc')[:80]})", field=f"{where}.geocode[{j}]")
            codes.append(value[:5])
        if not any(area.findall(Q + t) for t in ("polygon", "circle", "geocode")):
            raise ValidationProblem(f"area {_text(area, 'areaDesc')[:80]!r} has no polygon, circle or geocode",
                                    field=where)
    known = geo_service.places_by_code(db_session, codes)
    unknown = sorted(set(codes) - set(known))
    if unknown:
        raise OutsideServiceArea(f"no municipality {', '.join(unknown)} in prefecture {prefecture}",
                                 field="info[0].area.geocode")
    drawn: dict[str, Any] | None = None
    if len(polygons) == 1:
        drawn = polygons[0]
    elif polygons:
        drawn = {"type": "MultiPolygon", "coordinates": [p["coordinates"] for p in polygons]}
    return TargetIn(municipality_codes=sorted(set(codes)), area=drawn, circle=circle)


def _lang(info: ET.Element) -> str | None:
    code = (_text(info, "language") or "en-US").lower()
    return LANG_IN.get(code) or LANG_IN.get(code.split("-")[0])


def _texts(infos: list[ET.Element]) -> tuple[str, str, dict[str, dict[str, str]]]:
    by_lang: dict[str, tuple[str, str]] = {}
    for info in infos:
        lang = _lang(info)
        headline = _text(info, "headline") or _text(info, "event")
        body = "\n".join(t for t in (_text(info, "description"), _text(info, "instruction")) if t)
        if lang and lang not in by_lang and headline:
            by_lang[lang] = (headline[:200], body[:2000])
    if not by_lang:
        raise ValidationProblem("no info block has a headline or event in a language we send", field="info")
    first = "ja" if "ja" in by_lang else next(iter(by_lang))
    title, body = by_lang.pop(first)
    return title, body, {k: {"title": t, "body": b} for k, (t, b) in by_lang.items()}


def parse_alert(db_session: Session, xml: bytes, *, prefecture: str, now: datetime) -> CapAlert:
    """A CAP 1.2 alert mapped onto our flow, or a 422 naming the element that cannot be honoured."""
    root = read_root(xml)
    identifier, sender = _text(root, "identifier"), _text(root, "sender")
    for name, value in (("identifier", identifier), ("sender", sender), ("sent", _text(root, "sent"))):
        if not value:
            raise ValidationProblem(f"<{name}> is required", field=name)
    status, msg_type, scope = _text(root, "status"), _text(root, "msgType"), _text(root, "scope")
    if status not in ("Actual", "Exercise", "Test"):
        raise ValidationProblem(f"status {status or '(none)'} is not sent to residents (Actual, Exercise, Test are)",
                                field="status")
    if scope != "Public":
        raise ValidationProblem(f"scope {scope or '(none)'} is not for the public", field="scope")
    if msg_type not in ("Alert", "Update", "Cancel"):
        raise ValidationProblem(f"msgType {msg_type or '(none)'} is not handled (Alert, Update, Cancel are)",
                                field="msgType")
    references = [tuple(r.split(",")[:2]) for r in _text(root, "references").split()]
    if msg_type != "Alert" and not references:
        raise ValidationProblem(f"a {msg_type} needs <references> to the alert it changes", field="references")
    infos = root.findall(Q + "info")
    refs = [(s, i) for s, i in references]
    if msg_type == "Cancel":
        reason = (_text(infos[0], "headline") if infos else "") or _text(root, "note")
        return CapAlert(identifier, sender, msg_type, refs, None, FollowUpIn(reason=reason[:500]))
    if not infos:
        raise ValidationProblem("the alert has no <info>", field="info")
    target = _target(db_session, infos, prefecture)  # first: an alert for elsewhere is never ours
    expires_text = _text(infos[0], "expires")
    ttl = 86400
    if expires_text:
        expires = _parse_time(expires_text, "info[0].expires")
        if expires <= now:
            raise ValidationProblem(f"the alert expired at {expires.isoformat()}", field="info[0].expires")
        ttl = min(int((expires - now).total_seconds()), 28 * 86400)
    title, body, lang = _texts(infos)
    severity = SEVERITY_IN.get(_text(infos[0], "severity"), "info")
    if severity == "info" and _text(infos[0], "urgency") == "Immediate":
        severity = "advisory"  # Immediate but of unknown severity: at least not held for quiet hours silently
    category = CATEGORY_IN.get(_text(infos[0], "category"), "area_info")
    try:
        message = MessageIn.model_validate({
            "title": title, "body": body, "lang": lang, "category": category, "severity": severity,
            "target": target, "ttl_seconds": max(ttl, 60), "test": status != "Actual"})
    except PydanticError as exc:
        raise ValidationProblem(f"the alert cannot be sent as a message: {exc.errors()[0]['msg']}",
                                field="info[0]") from exc
    follow = FollowUpIn(title=title, body=body, lang=lang) if msg_type == "Update" else None
    return CapAlert(identifier, sender, msg_type, refs, message, follow)


# Shared with other CAP readers (避難情報 in ``pushsvc.evacuation.cap``): one reading of CAP's text forms.
text_of, polygon_of, parse_time = _text, _polygon, _parse_time


def read_root(xml: bytes) -> ET.Element:
    """The <alert> element of a CAP 1.2 document, parsed safely, or a 422."""
    try:
        root: ET.Element = SafeET.fromstring(xml)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ValidationProblem(f"not well-formed or unsafe XML: {exc}", field="body") from exc
    if root.tag != Q + "alert":
        raise ValidationProblem(f"expected a CAP 1.2 <alert> ({NS}), got {root.tag}", field="alert")
    return root


def referenced_message(db_session: Session, alert: CapAlert) -> OperatorMessage:
    """The latest message an earlier CAP alert of ``references`` became (Update/Cancel act on it)."""
    for sender, identifier in reversed(alert.references):
        m = db_session.execute(
            select(OperatorMessage).where(OperatorMessage.cap_sender == sender,
                                          OperatorMessage.cap_identifier == identifier)
            .order_by(OperatorMessage.id.desc()).limit(1)).scalar_one_or_none()
        if m is not None:
            return m
    raise Conflict(f"none of the referenced alerts ({', '.join(i for _, i in alert.references)}) was received "
                   "here, so there is nothing to update or cancel", field="references")


# --- output ---------------------------------------------------------------------------------------

def _rings(geom: Any) -> list[list[tuple[float, float]]]:
    polys = getattr(geom, "geoms", [geom])
    return [list(p.exterior.coords) for p in polys if hasattr(p, "exterior")]


def to_cap(m: OperatorMessage, *, names: dict[str, str], base_url: str, original: OperatorMessage | None,
           sent_at: datetime) -> bytes:
    """The message as a CAP 1.2 alert: one info per language, areas as geocode and polygons."""
    sender = cap_out.sender_of(base_url)
    expires = datetime.fromtimestamp(sent_at.timestamp() + m.ttl_seconds, UTC)
    return cap_out.write(cap_out.CapDocument(
        identifier=f"{sender}.message.{m.id}", sender=sender, sent=sent_at, exercise=m.test,
        msg_type={"cancellation": "Cancel", "correction": "Update"}.get(m.kind, "Alert"),
        references=[(sender, f"{sender}.message.{original.id}", original.created_at)] if original else [],
        infos=[cap_out.CapInfo(
            language=lang, category=m.category, severity=m.severity,
            event=EVENT_JA.get(m.category, m.category) if lang == "ja" else m.category,
            urgency=cap_out.URGENCY.get(m.severity, "Unknown"), certainty="Observed", expires=expires,
            headline=title, description=m.body.get(lang) or None,
        ) for lang, title in m.title.items()],
        area_desc="、".join(names.values()) or "対象地域",
        polygons=_rings(m.area) if m.area is not None else [], geocodes=list(names),
    ))
