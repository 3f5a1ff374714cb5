"""避難情報 as CAP 1.2 from the prefecture's disaster information system, onto the operator's own path.

Each source is an operator account (its token authenticates it) bound to its CAP ``<sender>`` by
``PUSHSVC_EVACUATION_CAP_SOURCES``, so one system's token cannot speak for another. Mapping:

- ``msgType`` Alert → issue; Update (``references`` an earlier alert of the same sender) → raise,
  lower or update; Cancel → 解除.
- ``info/parameter`` ``EvacuationLevel`` (or ``警戒レベル``) 3, 4 or 5 — required for Alert/Update;
  ``Hazard`` (土砂災害, 洪水, 高潮, 津波, 内水氾濫, … or our names; repeatable or "、"-separated);
  ``Shelter`` (共通ID of an opened site, repeatable); ``Reason``. ``instruction`` is the operator's note.
- ``info/area``: a ``geocode`` of one municipality of this prefecture is the whole municipality, or
  the saved district named by ``areaDesc``; a ``polygon`` must lie inside one municipality.

Everything is mapped and checked before anything is stored; the first thing that cannot be mapped to
Kochi's municipalities is refused as problem JSON naming the element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError as PydanticError
from sqlalchemy.orm import Session

from pushsvc.cap.codes import Q
from pushsvc.cap.reader import Allowed, header, merged, parameters, polygon_of, read_root, references_of, text_of
from pushsvc.config import Settings
from pushsvc.errors import Conflict, Forbidden, OutsideServiceArea, ValidationProblem
from pushsvc.evacuation import service
from pushsvc.evacuation.models import EvacuationOrder
from pushsvc.evacuation.schemas import AreaIn, LiftIn, OrderChangeIn, OrderIn
from pushsvc.geo import service as geo_service
from pushsvc.geo.area import parse_area
from pushsvc.operators.accounts import Operator
from pushsvc.operators.targets import municipalities_touching
from pushsvc.shelters.schemas import HAZARDS, Hazard, hazard_label

LEVEL_NAMES = ("EvacuationLevel", "警戒レベル")
HAZARD_IN: dict[str, Hazard] = {
    **{h: h for h in HAZARDS},
    **{hazard_label(h, "ja"): h for h in HAZARDS},
    "崖崩れ": "landslide",
    "土石流": "landslide",
    "地すべり": "landslide",
    "河川氾濫": "flood",
    "外水氾濫": "flood",
}
_SPLIT = re.compile(r"[、,・\s]+")
HEADER = (
    Allowed("status", ("Actual", "Exercise"), "status {value} is not sent to residents (Actual, Exercise are)"),
    Allowed("scope", ("Public",), "scope must be Public"),
    Allowed("msgType", ("Alert", "Update", "Cancel"), "msgType {value} is not Alert, Update or Cancel"),
)


def source_sender(settings: Settings, op: Operator) -> str:
    """The CAP sender this operator account speaks for, or 403 if it is not a configured source."""
    for part in filter(None, (p.strip() for p in settings.evacuation_cap_sources.split(","))):
        name, _, sender = part.partition("=")
        if name.strip() == op.name and sender.strip():
            return sender.strip()
    raise Forbidden(
        f"operator {op.name!r} is not configured as a 避難情報 CAP source (PUSHSVC_EVACUATION_CAP_SOURCES)",
        field="Authorization",
    )


@dataclass
class Parsed:
    identifier: str
    sender: str
    msg_type: str
    references: list[str]  # identifiers of the same sender
    level: int | None
    hazards: list[Hazard]
    shelters: list[str]
    reason: str
    note: str
    test: bool
    area: tuple[str, AreaIn] | None  # (municipality code, area)


def _level(params: dict[str, list[str]]) -> int | None:
    values = [v for n in LEVEL_NAMES for v in params.get(n, [])]
    if not values:
        return None
    value = values[0].strip().removeprefix("レベル").removeprefix("Lv").removeprefix("Level").strip()
    if value not in ("3", "4", "5"):
        raise ValidationProblem(
            f"EvacuationLevel {values[0]!r} is not 3, 4 or 5", field="info[0].parameter.EvacuationLevel"
        )
    return int(value)


def _hazards(params: dict[str, list[str]]) -> list[Hazard]:
    found: list[Hazard] = []
    for raw in params.get("Hazard", []) + params.get("災害種別", []):
        for word in filter(None, _SPLIT.split(raw)):
            h = HAZARD_IN.get(word)
            if h is None:
                raise ValidationProblem(
                    f"hazard {word!r} is not one we know ({', '.join(HAZARD_IN)})", field="info[0].parameter.Hazard"
                )
            if h not in found:
                found.append(h)
    return found


def _polygon_area(db_session: Session, polygons: list[str], where: str, prefecture: str) -> tuple[str, AreaIn]:
    """A drawn area: it must lie in exactly one municipality of the prefecture."""
    geojson = merged([polygon_of(t, f"{where}.polygon[{i}]") for i, t in enumerate(polygons)])
    assert geojson is not None
    touched = municipalities_touching(db_session, parse_area(geojson, field=f"{where}.polygon"), prefecture)
    if len(touched) != 1:
        raise OutsideServiceArea(
            "the polygon is outside prefecture " + prefecture
            if not touched
            else f"the polygon spans {', '.join(touched)}: one order is one municipality's",
            field=f"{where}.polygon",
        )
    return touched[0], AreaIn(kind="polygon", polygon=geojson)


def _municipality(db_session: Session, geocodes: list[str], where: str, prefecture: str) -> str:
    """The one municipality code of the geocodes, or a 422 naming the geocode."""
    if len(geocodes) != 1:
        raise ValidationProblem("give one polygon or one geocode (全国地方公共団体コード)", field=f"{where}.geocode")
    code = geocodes[0][:5]
    if (
        not re.fullmatch(r"\d{5,6}", geocodes[0])
        or not code.startswith(prefecture)
        or geo_service.get_place(db_session, code) is None
    ):
        raise OutsideServiceArea(
            f"geocode {geocodes[0]} is not a municipality of prefecture {prefecture}", field=f"{where}.geocode[0]"
        )
    return code


def _coded_area(db_session: Session, code: str, desc: str, where: str) -> AreaIn:
    """A municipality given by code: its saved districts if ``areaDesc`` names them, else all of it."""
    names = {d.name for d in service.list_districts(db_session, code)}
    wanted = [n for n in _SPLIT.split(desc) if n]
    if wanted and all(n in names for n in wanted):
        return AreaIn(kind="districts", districts=wanted)
    place = geo_service.get_place(db_session, code)
    if desc and place is not None and desc not in (place.name, f"{place.name}全域"):
        raise ValidationProblem(
            f"areaDesc {desc!r} is neither {place.name} nor a saved district of it "
            f"({', '.join(sorted(names)) or 'none saved'})",
            field=f"{where}.areaDesc",
        )
    return AreaIn(kind="municipality")


def _area(db_session: Session, info: ET.Element, prefecture: str) -> tuple[str, AreaIn]:
    areas = info.findall(Q + "area")
    if len(areas) != 1:
        raise ValidationProblem("a 避難情報 alert has exactly one info/area", field="info[0].area")
    area, where = areas[0], "info[0].area[0]"
    polygons = [(p.text or "").strip() for p in area.findall(Q + "polygon") if (p.text or "").strip()]
    if polygons:
        return _polygon_area(db_session, polygons, where, prefecture)
    code = _municipality(db_session, [text_of(g, "value") for g in area.findall(Q + "geocode")], where, prefecture)
    return code, _coded_area(db_session, code, text_of(area, "areaDesc"), where)


def _references(root: ET.Element, sender: str, msg_type: str) -> list[str]:
    """Identifiers of the earlier alerts of the same sender this one changes (required but for an Alert)."""
    references = [identifier for by, identifier in references_of(root) if by == sender]
    if msg_type != "Alert" and not references:
        raise ValidationProblem(f"a {msg_type} needs <references> to an earlier alert of {sender}", field="references")
    return references


def parse(db_session: Session, xml: bytes, *, prefecture: str) -> Parsed:
    root = read_root(xml)
    head = header(root, HEADER, times=("sent",))
    sender, msg_type = head["sender"], head["msgType"]
    references = _references(root, sender, msg_type)
    infos = root.findall(Q + "info")
    if not infos and msg_type != "Cancel":
        raise ValidationProblem("the alert has no <info>", field="info")
    info = infos[0] if infos else None
    params = parameters(info) if info is not None else {}
    level = _level(params)
    if level is None and msg_type != "Cancel":
        raise ValidationProblem(
            "the level is required as <parameter><valueName>EvacuationLevel</valueName>",
            field="info[0].parameter.EvacuationLevel",
        )
    area = _area(db_session, info, prefecture) if info is not None and msg_type == "Alert" else None
    hazards = _hazards(params)
    if msg_type == "Alert" and not hazards:
        raise ValidationProblem(
            "name the hazard(s) as <parameter><valueName>Hazard</valueName>", field="info[0].parameter.Hazard"
        )
    note = text_of(info, "instruction")[:500] if info is not None else ""
    return Parsed(
        head["identifier"],
        sender,
        msg_type,
        references,
        level,
        hazards,
        params.get("Shelter", []),
        (params.get("Reason") or [""])[0][:300],
        note,
        head["status"] != "Actual",
        area,
    )


def receive(db_session: Session, op: Operator, xml: bytes, *, settings: Settings) -> EvacuationOrder:
    """Map, check, then act through the same service calls as the console; a refusal changes nothing."""
    sender = source_sender(settings, op)
    p = parse(db_session, xml, prefecture=settings.prefecture)
    if p.sender != sender:
        raise Forbidden(f"this source speaks for sender {sender}, not {p.sender}", field="sender")
    cap = (p.identifier, p.sender)
    if service.find_by_cap(db_session, p.sender, [p.identifier]) is not None:
        raise Conflict(f"alert {p.identifier} of {p.sender} was already received", field="identifier")
    try:
        if p.msg_type == "Alert":
            assert p.area is not None and p.level is not None
            code, area = p.area
            body = OrderIn(
                municipality_code=code,
                level=cast(Any, p.level),
                hazards=p.hazards,
                area=area,
                reason=p.reason,
                note=p.note,
                shelters=p.shelters,
                test=p.test,
            )
            return service.issue(db_session, op, body, settings=settings, source="cap", cap=cap)
        original = service.find_by_cap(db_session, p.sender, p.references)
        if original is None:
            raise Conflict(
                f"none of the referenced alerts ({', '.join(p.references)}) was received here", field="references"
            )
        if p.msg_type == "Cancel":
            o = service.lift(db_session, op, original.id, LiftIn(note=p.note), settings=settings, source="cap", cap=cap)
        else:
            change = OrderChangeIn(
                level=cast(Any, p.level),
                hazards=p.hazards or None,
                shelters=p.shelters or None,
                reason=p.reason or None,
                note=p.note or None,
            )
            o = service.change(db_session, op, original.id, change, settings=settings, source="cap", cap=cap)
        return o
    except PydanticError as exc:
        err = exc.errors()[0]
        raise ValidationProblem(
            f"cannot be mapped: {err['msg']}", field="info[0]." + ".".join(str(x) for x in err["loc"])
        ) from exc
