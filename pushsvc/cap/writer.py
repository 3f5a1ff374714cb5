"""CAP 1.2 output: the one writer behind every ``.cap`` this server publishes.

Public alerts (``/api/v1/alerts/{id}.cap``) and operator messages (``/api/v1/messages/{id}.cap``) describe
the same events to the same consumers (L-Alert and other systems that ingest CAP), so they must agree
on time zone, sender, language tags, severity words and geocode names. Domains map their own objects
onto ``CapDocument``; this module owns the wire format. Reading CAP is ``pushsvc.cap.reader``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from pushsvc.cap.codes import CATEGORY, GEOCODE_NAME, LANGUAGE, NS, SEVERITY
from pushsvc.timeutil import JST, as_utc


def cap_time(dt: datetime) -> str:
    """CAP wants an explicit offset; Japanese consumers read JST ("2026-06-02T14:10:00+09:00")."""
    return as_utc(dt).astimezone(JST).isoformat(timespec="seconds")


def sender_of(base_url: str) -> str:
    return urlsplit(base_url).hostname or "pushsvc"


@dataclass(frozen=True)
class CapInfo:
    language: str  # our language code ("ja", "en", …)
    category: str  # our category
    event: str
    severity: str  # our severity
    urgency: str  # CAP word
    certainty: str  # CAP word
    expires: datetime
    headline: str
    description: str | None = None
    web: str | None = None
    parameters: Sequence[tuple[str, str]] = ()  # (valueName, value), e.g. ("EvacuationLevel", "4")


@dataclass(frozen=True)
class CapDocument:
    identifier: str
    sender: str
    sent: datetime
    msg_type: str  # Alert | Update | Cancel
    infos: Sequence[CapInfo]
    area_desc: str
    geocodes: Sequence[str] = ()
    polygons: Sequence[Sequence[tuple[float, float]]] = ()  # rings of (lon, lat)
    references: Sequence[tuple[str, str, datetime]] = field(default=())  # (sender, identifier, sent)
    exercise: bool = False


def write(doc: CapDocument) -> bytes:
    ET.register_namespace("", NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        el = ET.SubElement(parent, f"{{{NS}}}{tag}")
        if text is not None:
            el.text = text
        return el

    root = ET.Element(f"{{{NS}}}alert")
    sub(root, "identifier", doc.identifier)
    sub(root, "sender", doc.sender)
    sub(root, "sent", cap_time(doc.sent))
    sub(root, "status", "Exercise" if doc.exercise else "Actual")
    sub(root, "msgType", doc.msg_type)
    sub(root, "scope", "Public")
    if doc.references:
        sub(root, "references", " ".join(f"{s},{i},{cap_time(t)}" for s, i, t in doc.references))
    for info in doc.infos:
        el = sub(root, "info")
        sub(el, "language", LANGUAGE.get(info.language, info.language))
        sub(el, "category", CATEGORY.get(info.category, "Other"))
        sub(el, "event", info.event)
        sub(el, "urgency", info.urgency)
        sub(el, "severity", SEVERITY.get(info.severity, "Unknown"))
        sub(el, "certainty", info.certainty)
        sub(el, "expires", cap_time(info.expires))
        sub(el, "senderName", doc.sender)
        sub(el, "headline", info.headline[:160])
        if info.description:
            sub(el, "description", info.description)
        if info.web:
            sub(el, "web", info.web)
        for name, value in info.parameters:
            param = sub(el, "parameter")
            sub(param, "valueName", name)
            sub(param, "value", value)
        area = sub(el, "area")
        sub(area, "areaDesc", doc.area_desc)
        for ring in doc.polygons:
            sub(area, "polygon", " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in ring))
        for code in doc.geocodes:
            geocode = sub(area, "geocode")
            sub(geocode, "valueName", GEOCODE_NAME)
            sub(geocode, "value", code)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
