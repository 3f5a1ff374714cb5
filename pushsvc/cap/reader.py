"""CAP 1.2 input: a document parsed safely, its header checked, its text forms read one way.

Parsed with defusedxml (no entities, no external references). Every refusal is a 422 naming the
element to blame; which statuses and message types a reader takes, and its words for refusing them,
are the reader's own (``Allowed``), so each domain keeps its messages while the checking is shared.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from pushsvc.cap.codes import LANG_IN, NS, Q
from pushsvc.errors import ValidationProblem

REQUIRED = ("identifier", "sender", "sent")


@dataclass(frozen=True)
class Allowed:
    """A header element that must take one of ``values``; ``message`` may name the value as ``{value}``."""

    tag: str
    values: tuple[str, ...]
    message: str


def read_root(xml: bytes) -> ET.Element:
    """The <alert> element of a CAP 1.2 document, parsed safely, or a 422."""
    try:
        root: ET.Element = SafeET.fromstring(xml)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ValidationProblem(f"not well-formed or unsafe XML: {exc}", field="body") from exc
    if root.tag != Q + "alert":
        raise ValidationProblem(f"expected a CAP 1.2 <alert> ({NS}), got {root.tag}", field="alert")
    return root


def text_of(el: ET.Element | None, tag: str) -> str:
    """The stripped text of ``el``'s child ``tag``; "" if either is missing."""
    found = el.find(Q + tag) if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def header(root: ET.Element, rules: Sequence[Allowed], *, times: Sequence[str] = ()) -> dict[str, str]:
    """The header texts: ``identifier``, ``sender`` and ``sent`` present, ``times`` valid date-times
    and every ruled element one of its values, checked in that order; the first problem is the 422."""
    values = {tag: text_of(root, tag) for tag in (*REQUIRED, *(rule.tag for rule in rules))}
    for tag in REQUIRED:
        if not values[tag]:
            raise ValidationProblem(f"<{tag}> is required", field=tag)
    for tag in times:
        parse_time(values[tag], tag)
    for rule in rules:
        if values[rule.tag] not in rule.values:
            raise ValidationProblem(rule.message.format(value=values[rule.tag] or "(none)"), field=rule.tag)
    return values


def references_of(root: ET.Element) -> list[tuple[str, str]]:
    """The ``(sender, identifier)`` of each item of ``<references>``, or a 422 for an item that is not
    CAP 1.2's "sender,identifier,sent" (items are separated by whitespace)."""
    refs = [r.split(",") for r in text_of(root, "references").split()]
    if any(len(r) < 2 for r in refs):
        raise ValidationProblem("references are 'sender,identifier,sent'", field="references")
    return [(r[0], r[1]) for r in refs]


def parse_time(value: str, field: str) -> datetime:
    """A CAP date-time (with its offset, as CAP requires) in UTC."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationProblem(f"{value!r} is not a CAP date-time", field=field) from exc
    if dt.tzinfo is None:
        raise ValidationProblem("CAP date-times carry a UTC offset", field=field)
    return dt.astimezone(UTC)


def polygon_of(text: str, field: str) -> dict[str, Any]:
    """A CAP polygon ("lat,lon lat,lon …", CAP's order) as a GeoJSON Polygon (lon, lat)."""
    try:
        points = [(float(lon), float(lat)) for lat, lon in (p.split(",") for p in text.split())]
    except ValueError as exc:
        raise ValidationProblem("a CAP polygon is space-separated 'lat,lon' pairs", field=field) from exc
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


def merged(polygons: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Several GeoJSON Polygons as one geometry: the one itself, a MultiPolygon of all, or None."""
    if len(polygons) == 1:
        return polygons[0]
    if polygons:
        return {"type": "MultiPolygon", "coordinates": [p["coordinates"] for p in polygons]}
    return None


def parameters(info: ET.Element) -> dict[str, list[str]]:
    """An info's ``<parameter>`` values by ``valueName`` (a name may repeat)."""
    out: dict[str, list[str]] = {}
    for p in info.findall(Q + "parameter"):
        out.setdefault(text_of(p, "valueName"), []).append(text_of(p, "value"))
    return out


def language_of(info: ET.Element) -> str | None:
    """Our language code for an info's ``<language>`` (CAP's default is en-US), or None if we do not send it."""
    code = (text_of(info, "language") or "en-US").lower()
    return LANG_IN.get(code) or LANG_IN.get(code.split("-")[0])
