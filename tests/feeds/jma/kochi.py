"""Build Kochi test telegrams from the real JMA samples in ``../shared`` by rewriting codes at test time.

No Kochi warning/flood/landslide telegram was ever published in a sample set; the format is the same for
every prefecture, so we take real ones and move their areas to Kochi (nothing is copied into the repo).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from xml.etree import ElementTree as ET  # our own trusted samples only; production code uses defusedxml

from pushsvc.feeds.jma import AreaResolver, load_area_dir
from tests.conftest import SHARED

JMA = SHARED / "samples" / "jma"
CODES = JMA / "codes"
KOCHI = "3920100"  # 高知市 → N03 39201
MUROTO = "3920200"  # 室戸市 → N03 39202
AKI = "3920300"  # 安芸市 → N03 39203
NS_BODY = "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"
WARNING_BASE = "warnings/15_15_01_220314_VPWW54.xml"  # 徳島県 VPWW54, real


@cache
def resolver() -> AreaResolver:
    return load_area_dir(CODES, prefecture="39")


def sample_paths(kind: str) -> list[Path]:
    return sorted((JMA / kind).glob("*.xml"))


def sample(relative: str) -> str:
    return (JMA / relative).read_text(encoding="utf-8")


def rewrite(
    xml: str,
    codes: Mapping[str, str] | None = None,
    *,
    status: str | None = None,
    info_type: str | None = None,
    event_id: str | None = None,
    report_datetime: str | None = None,
) -> bytes:
    """Move areas (``<Code>``/``<CityCode>`` values) and change envelope fields of a real telegram."""
    for old, new in (codes or {}).items():
        xml = re.sub(rf"(<(?:Code|CityCode)(?: [^>]*)?>){old}(</(?:Code|CityCode)>)", rf"\g<1>{new}\g<2>", xml)
    if status:
        xml = re.sub(r"(<Control>.*?<Status>)[^<]*(</Status>)", rf"\g<1>{status}\g<2>", xml, count=1, flags=re.S)
    if info_type:  # (ElementTree writes the Head namespace as a prefix: <ns1:InfoType>)
        xml = re.sub(r"<((?:\w+:)?InfoType)>[^<]*</\1>", rf"<\g<1>>{info_type}</\g<1>>", xml, count=1)
    if report_datetime is not None:  # each real telegram has its own; a 取消/訂正 repeats the cancelled one's
        xml = re.sub(r"<((?:\w+:)?ReportDateTime)>[^<]*</\1>", rf"<\g<1>>{report_datetime}</\g<1>>", xml, count=1)
    if event_id is not None:
        xml = re.sub(
            r"<((?:\w+:)?EventID)\s*/>|<((?:\w+:)?EventID)>[^<]*</\2>",
            lambda m: f"<{m.group(1) or m.group(2)}>{event_id}</{m.group(1) or m.group(2)}>",
            xml,
            count=1,
        )
    return xml.encode("utf-8")


Kinds = Sequence[tuple[str, str, str]]  # (name, code, status)


def kochi_warning(municipalities: Mapping[str, Kinds], **envelope: str) -> bytes:
    """A real VPWW54 whose 市町村等 section is replaced by the given Kochi municipalities and kinds."""
    ET.register_namespace("", "http://xml.kishou.go.jp/jmaxml1/")
    root = ET.fromstring(sample(WARNING_BASE))
    body = root.find(f"{{{NS_BODY}}}Body")
    assert body is not None
    section = next(w for w in body.findall(f"{{{NS_BODY}}}Warning") if w.get("type", "").endswith("（市町村等）"))
    for item in list(section):
        section.remove(item)
    for code, kinds in municipalities.items():
        item = ET.SubElement(section, f"{{{NS_BODY}}}Item")
        for name, kind_code, status in kinds or [("", "", "発表警報・注意報はなし")]:
            kind = ET.SubElement(item, f"{{{NS_BODY}}}Kind")
            for tag, value in (("Name", name), ("Code", kind_code), ("Status", status)):
                if value:
                    ET.SubElement(kind, f"{{{NS_BODY}}}{tag}").text = value
        area = ET.SubElement(item, f"{{{NS_BODY}}}Area")
        ET.SubElement(area, f"{{{NS_BODY}}}Name").text = resolver().name(code[:5])
        ET.SubElement(area, f"{{{NS_BODY}}}Code").text = code
    return rewrite(ET.tostring(root, encoding="unicode"), **envelope)
