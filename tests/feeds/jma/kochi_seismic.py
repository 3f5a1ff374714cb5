"""Kochi earthquake, EEW, tsunami and 南海トラフ telegrams, built at test time from the real JMA samples.

緊急地震速報 (VXSE43 of 2024-01-16), 震度速報 (VXSE51), 震源・震度情報 (VXSE53), 津波警報 (VTSE41) and 津波情報
(VTSE51) are real telegrams whose areas are moved to Kochi (高知県東部 630 / 中部 631 / 西部 632, 津波予報区 610).
南海トラフ地震臨時情報 has no sample in ``../shared``: ``nankai`` builds one in the layout of JMA's format
description (Head/Title with the keyword, Body/EarthquakeInfo/InfoSerial with the 地震関連情報番号コード).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET  # our own trusted samples only; production code uses defusedxml

from tests.feeds.jma.kochi import resolver, sample

NS_JMX = "http://xml.kishou.go.jp/jmaxml1/"
NS_HEAD = "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
NS_SEIS = "http://xml.kishou.go.jp/jmaxml1/body/seismology1/"
NS_EB = "http://xml.kishou.go.jp/jmaxml1/elementBasis1/"
EEW_BASE = "quake/20240116184225_02245216_VXSE43.xml"
SHINDO_BASE = "quake/32-35_04_01_100831_VXSE51.xml"
REPORT_BASE = "quake/32-35_01_03_240613_VXSE53.xml"
NOTO = "quake/20240101072429_0_VXSE53_010000.xml"  # real: 能登半島地震, 震度1–2 in Kochi
TSUNAMI_BASE = "tsunami/32-39_11_06_250206_VTSE41.xml"
TSUNAMI_INFO_BASE = "tsunami/38-39_02_02_250206_VTSE51.xml"
AREA_NAMES = {"630": "高知県東部", "631": "高知県中部", "632": "高知県西部"}
T0 = datetime.fromisoformat("2026-12-01T10:00:00+09:00")

for _prefix, _uri in (("", NS_JMX), ("jmx_eb", NS_EB)):
    ET.register_namespace(_prefix, _uri)


def _set(xml: str, tag: str, value: str) -> str:
    """Replace the first ``<tag>…</tag>`` (or ``<tag/>``, any namespace prefix) of the envelope."""
    pattern = rf"<((?:\w+:)?){tag}\s*/>|<((?:\w+:)?){tag}>[^<]*</(?:\w+:)?{tag}>"
    return re.sub(pattern, lambda m: f"<{m[1] or m[2] or ''}{tag}>{value}</{m[1] or m[2] or ''}{tag}>", xml, count=1)


def _envelope(xml: str, *, event_id: str, at: datetime, serial: str = "1", info_type: str = "発表") -> bytes:
    for tag, value in (
        ("EventID", event_id),
        ("Serial", serial),
        ("ReportDateTime", at.isoformat()),
        ("InfoType", info_type),
        ("Status", "通常"),
    ):
        xml = _set(xml, tag, value)
    return xml.encode("utf-8")


def eew(
    areas: tuple[str, ...] = ("631",),
    *,
    event_id: str = "20261201100000",
    serial: str = "1",
    final: bool = False,
    info_type: str = "発表",
    title: str = "緊急地震速報（警報）",
    magnitude: str = "7.2",
) -> bytes:
    """The real 2024-01-16 VXSE43, its two warned 細分区域 moved to Kochi (one or two areas)."""
    xml = sample(EEW_BASE)
    second = areas[1] if len(areas) > 1 else "999"  # a code of no Kochi area: warned elsewhere
    for (old, old_name), new in ((("390", "石川県能登"), areas[0]), (("391", "石川県加賀"), second)):
        xml = xml.replace(f"<Code>{old}</Code>", f"<Code>{new}</Code>").replace(old_name, AREA_NAMES.get(new, "遠方"))
    xml = xml.replace("能登半島沖", "土佐湾").replace(">5.7<", f">{magnitude}<")
    if title != "緊急地震速報（警報）":
        xml = xml.replace("<Title>緊急地震速報（警報）</Title>", f"<Title>{title}</Title>")
    if final:
        final_text = "この情報をもって、緊急地震速報：最終報とします。"
        xml = xml.replace("</Body>", f"<NextAdvisory>{final_text}</NextAdvisory></Body>")
    return _envelope(xml, event_id=event_id, at=T0, serial=serial, info_type=info_type)


def _kochi_pref(body: ET.Element, areas: Mapping[str, tuple[str, Mapping[str, str]]]) -> None:
    obs = body.find(f"{{{NS_SEIS}}}Intensity/{{{NS_SEIS}}}Observation")
    assert obs is not None
    for pref in obs.findall(f"{{{NS_SEIS}}}Pref"):
        obs.remove(pref)
    pref = ET.SubElement(obs, f"{{{NS_SEIS}}}Pref")
    values = [v for v, _ in areas.values()]
    for tag, value in (("Name", "高知県"), ("Code", "39"), ("MaxInt", max(values, key=_rank))):
        ET.SubElement(pref, f"{{{NS_SEIS}}}{tag}").text = value
    for code, (value, cities) in areas.items():
        area = ET.SubElement(pref, f"{{{NS_SEIS}}}Area")
        for tag, v in (("Name", AREA_NAMES[code]), ("Code", code), ("MaxInt", value)):
            ET.SubElement(area, f"{{{NS_SEIS}}}{tag}").text = v
        for city, city_value in cities.items():
            c = ET.SubElement(area, f"{{{NS_SEIS}}}City")
            for tag, v in (("Name", resolver().name(city[:5])), ("Code", city), ("MaxInt", city_value)):
                ET.SubElement(c, f"{{{NS_SEIS}}}{tag}").text = v
    max_int = obs.find(f"{{{NS_SEIS}}}MaxInt")
    if max_int is not None:
        max_int.text = pref.findtext(f"{{{NS_SEIS}}}MaxInt")


def _rank(v: str) -> int:
    return ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7").index(v)


def shindo(areas: Mapping[str, str], *, event_id: str = "20261201100000") -> bytes:
    """震度速報 (VXSE51) for Kochi 細分区域: intensities per area only, as JMA states them first."""
    root = ET.fromstring(sample(SHINDO_BASE))
    body = root.find(f"{{{NS_SEIS}}}Body")
    assert body is not None
    _kochi_pref(body, {code: (value, {}) for code, value in areas.items()})
    return _envelope(ET.tostring(root, encoding="unicode"), event_id=event_id, at=T0 + timedelta(minutes=2))


def report(
    cities: Mapping[str, str], *, event_id: str = "20261201100000", hypocentre: str = "土佐湾", minutes: int = 5
) -> bytes:
    """震源・震度情報 (VXSE53): intensities per municipality (7-digit codes), with hypocentre and comment."""
    root = ET.fromstring(sample(REPORT_BASE))
    body = root.find(f"{{{NS_SEIS}}}Body")
    assert body is not None
    by_area: dict[str, dict[str, str]] = {}
    r = resolver()
    for city, value in cities.items():
        area = next(a for a in AREA_NAMES if city[:5] in r.quake_area(a))
        by_area.setdefault(area, {})[city] = value
    _kochi_pref(body, {a: (max(cs.values(), key=_rank), cs) for a, cs in by_area.items()})
    name = body.find(f"{{{NS_SEIS}}}Earthquake/{{{NS_SEIS}}}Hypocenter/{{{NS_SEIS}}}Area/{{{NS_SEIS}}}Name")
    assert name is not None
    name.text = hypocentre
    return _envelope(ET.tostring(root, encoding="unicode"), event_id=event_id, at=T0 + timedelta(minutes=minutes))


def noto_in_kochi() -> bytes:
    """The real 2024-01-01 能登半島地震 VXSE53 (Kochi at 震度1–2), as JMA sent it."""
    return sample(NOTO).encode("utf-8")


def tsunami(
    kind: tuple[str, str],
    *,
    event_id: str = "20261201100000",
    minutes: int = 3,
    last: str = "津波なし",
    height: str = "３ｍ",
    arrival: str | None = "2026-12-01T10:20:00+09:00",
    info: bool = False,
) -> bytes:
    """VTSE41 (or VTSE51 with ``info``) whose forecast is one item for 津波予報区 高知県 (610)."""
    root = ET.fromstring(sample(TSUNAMI_INFO_BASE if info else TSUNAMI_BASE))
    body = root.find(f"{{{NS_SEIS}}}Body")
    assert body is not None
    forecast = body.find(f"{{{NS_SEIS}}}Tsunami/{{{NS_SEIS}}}Forecast")
    assert forecast is not None
    for item in forecast.findall(f"{{{NS_SEIS}}}Item"):
        forecast.remove(item)
    item = ET.SubElement(forecast, f"{{{NS_SEIS}}}Item")
    area = ET.SubElement(item, f"{{{NS_SEIS}}}Area")
    ET.SubElement(area, f"{{{NS_SEIS}}}Name").text = "高知県"
    ET.SubElement(area, f"{{{NS_SEIS}}}Code").text = "610"
    cat = ET.SubElement(item, f"{{{NS_SEIS}}}Category")
    k = ET.SubElement(cat, f"{{{NS_SEIS}}}Kind")
    ET.SubElement(k, f"{{{NS_SEIS}}}Name").text, ET.SubElement(k, f"{{{NS_SEIS}}}Code").text = kind
    lk = ET.SubElement(cat, f"{{{NS_SEIS}}}LastKind")
    ET.SubElement(lk, f"{{{NS_SEIS}}}Name").text = last
    if arrival:
        first = ET.SubElement(item, f"{{{NS_SEIS}}}FirstHeight")
        ET.SubElement(first, f"{{{NS_SEIS}}}ArrivalTime").text = arrival
    if height:
        mh = ET.SubElement(item, f"{{{NS_SEIS}}}MaxHeight")
        th = ET.SubElement(mh, f"{{{NS_EB}}}TsunamiHeight", {"type": "津波の高さ", "unit": "m", "description": height})
        th.text = "3"
    return _envelope(ET.tostring(root, encoding="unicode"), event_id=event_id, at=T0 + timedelta(minutes=minutes))


NANKAI_CODES = {
    "調査中": "111",
    "巨大地震警戒": "120",
    "巨大地震注意": "130",
    "調査終了": "190",
    "臨時解説": "210",
    "定例解説": "200",
}


def nankai(
    serial_name: str,
    *,
    event_id: str = "20261201100000",
    minutes: int = 30,
    info_type: str = "発表",
    status: str = "通常",
) -> bytes:
    """VYSE50 (臨時情報) or VYSE51/52 (解説情報: ``臨時解説``/``定例解説``) in JMA's published layout."""
    commentary = serial_name.endswith("解説")
    control_title = "南海トラフ地震関連解説情報" if commentary else "南海トラフ地震臨時情報"
    head_title = control_title if commentary else f"{control_title}（{serial_name}）"
    at = T0 + timedelta(minutes=minutes)
    text = (
        "南海トラフ沿いの地震に関する評価検討会を開催し、地殻活動を評価しました。"
        if commentary
        else "本日10時00分頃に土佐湾を震源とする地震が発生しました。南海トラフ地震との関連性について評価しました。"
    )
    serial = (
        ""
        if info_type == "取消"
        else (
            f'<InfoSerial codeType="地震関連情報番号コード"><Name>{serial_name}</Name>'
            f"<Code>{NANKAI_CODES[serial_name]}</Code></InfoSerial>"
        )
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Report xmlns="{NS_JMX}" xmlns:jmx="{NS_JMX}">'
        f"<Control><Title>{control_title}</Title><DateTime>{at:%Y-%m-%dT%H:%M:%S}+09:00</DateTime>"
        f"<Status>{status}</Status><EditorialOffice>気象庁本庁</EditorialOffice>"
        f"<PublishingOffice>気象庁</PublishingOffice></Control>"
        f'<Head xmlns="{NS_HEAD}"><Title>{head_title}</Title><ReportDateTime>{at.isoformat()}</ReportDateTime>'
        f"<TargetDateTime>{at.isoformat()}</TargetDateTime><EventID>{event_id}</EventID>"
        f"<InfoType>{info_type}</InfoType><Serial></Serial><InfoKind>南海トラフ地震に関連する情報</InfoKind>"
        f"<InfoKindVersion>1.0_0</InfoKindVersion><Headline><Text>{head_title}を発表します。</Text></Headline></Head>"
        f'<Body xmlns="{NS_SEIS}"><EarthquakeInfo type="南海トラフ地震に関連する情報">'
        f"<InfoKind>{control_title}</InfoKind>{serial}<Text>{text}</Text></EarthquakeInfo>"
        f"<NextAdvisory>次の情報は、12時頃に発表する予定です。</NextAdvisory></Body></Report>"
    ).encode()
