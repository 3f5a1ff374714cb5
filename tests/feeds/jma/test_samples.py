"""Every real JMA sample in ../shared parses to the right typed telegram, and reduces without error."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from pushsvc.feeds.jma import (
    EewTelegram,
    FloodForecastTelegram,
    LandslideTelegram,
    QuakeTelegram,
    Telegram,
    TsunamiTelegram,
    WeatherWarningTelegram,
    parse_feed,
    parse_telegram,
    snapshot,
)
from pushsvc.feeds.jma.common import INFO_TYPES, STATUSES
from pushsvc.feeds.jma.warnings import OTHER_ADVISORIES
from tests.feeds.jma.kochi import JMA, resolver, sample, sample_paths

EXPECTED: dict[str, tuple[type[Telegram], ...]] = {
    "warnings": (WeatherWarningTelegram,),
    "landslide": (LandslideTelegram,),
    "flood": (FloodForecastTelegram,),
    "quake": (QuakeTelegram, EewTelegram),
    "tsunami": (TsunamiTelegram,),  # VTSE41 and VTSE51 津波情報 alike
}
ALL = [(kind, p) for kind in EXPECTED for p in sample_paths(kind)]


def test_the_sample_directories_are_all_there() -> None:
    counts = {kind: len(sample_paths(kind)) for kind in EXPECTED}
    assert counts == {"warnings": 46, "landslide": 17, "flood": 10, "quake": 110, "tsunami": 42}


@pytest.mark.parametrize(("kind", "path"), ALL, ids=[f"{k}/{p.name}" for k, p in ALL])
def test_every_sample_parses_to_its_type(kind: str, path: Path) -> None:
    t = parse_telegram(path.read_bytes(), telegram_id=path.name)
    assert type(t) in EXPECTED[kind]
    assert t.control.status in STATUSES and t.head.info_type in INFO_TYPES
    assert t.telegram_id == path.name and t.head.report_datetime.tzinfo is not None
    snap = snapshot(t, resolver())
    for status in snap.statuses if snap else ():
        assert status.n03_code.startswith("39") and status.rank > 0


def test_quake_types_are_split_by_title() -> None:
    eew = [p.name for p in sample_paths("quake") if isinstance(parse_telegram(p.read_bytes()), EewTelegram)]
    assert eew == ["20240116184225_02245216_VXSE43.xml"]
    info = [p.name for p in sample_paths("tsunami") if cast(TsunamiTelegram, parse_telegram(p.read_bytes())).info_only]
    assert info and all("VTSE51" in name for name in info)


@pytest.mark.parametrize(
    ("name", "form", "families"),
    [
        ("15_16_03_241226_VPWW55.xml", "大雨", {"大雨"}),
        ("15_16_01_241031_VPWW56.xml", "土砂", {"土砂災害"}),
        ("15_17_01_250630_VPWW56.xml", "土砂", {"土砂災害"}),
        ("15_16_08_241226_VPWW57.xml", "高潮", {"高潮"}),
        ("15_16_04_241226_VPWW58.xml", "暴風", {"暴風", "暴風雪"}),
        ("15_16_05_241226_VPWW59.xml", "波浪", {"波浪"}),
        ("15_16_06_241226_VPWW60.xml", "大雪", {"大雪"}),
        ("15_16_07_241226_VPWW61.xml", "その他注意報", OTHER_ADVISORIES),
        ("15_12_01_161130_VPWW54.xml", "", set()),
    ],
)
def test_each_warning_form_is_scoped_to_its_hazards(name: str, form: str, families: set[str]) -> None:
    t = parse_telegram(sample(f"warnings/{name}"))
    assert isinstance(t, WeatherWarningTelegram) and t.form == form
    seen = {k.family for a in t.municipalities for k in a.kinds}
    if t.scope is None:  # VPWW53/54: every hazard at once
        assert len(seen) >= 3 and not families
    else:
        assert t.scope == families and seen <= families


def test_2026_form_reads_level_4_danger_warning_per_municipality() -> None:
    t = parse_telegram(sample("warnings/15_16_03_241226_VPWW55.xml"))
    assert isinstance(t, WeatherWarningTelegram)
    wakkanai = next(a for a in t.municipalities if a.code == "0121400")
    assert [(k.name, k.code, k.status, k.level, k.last_name) for k in wakkanai.kinds] == [
        ("レベル４大雨危険警報", "43", "発表", 3, "レベル３大雨警報")
    ]


def test_old_form_reads_emergency_warning_and_statuses() -> None:
    t = parse_telegram(sample("warnings/15_08_03_160628_VPWW53.xml"))
    assert isinstance(t, WeatherWarningTelegram) and t.scope is None
    statuses = {k.status for a in t.municipalities for k in a.kinds}
    assert {"継続", "解除", "特別警報から注意報", "警報から注意報"} <= statuses
    assert any(k.name == "大雨特別警報" and k.level == 4 for a in t.municipalities for k in a.kinds)


def test_flood_forecast_reads_kind_cities_and_station_levels() -> None:
    t = parse_telegram(sample("flood/16_02_01_220728_VXKOii.xml"))
    assert isinstance(t, FloodForecastTelegram)
    assert (t.kind_name, t.kind_code, t.level) == ("氾濫警戒情報", "30", 3)
    assert t.forecast_area == ("123456789012", "○○川上流") and len(t.rivers) == 2
    assert [s.level_m for s in t.stations] == [143.0, 46.6, 20.1] and t.stations[0].stage == 2
    assert len(t.flood_areas) == 4 and t.main_text[0].startswith("【警戒レベル３相当】")
    new = parse_telegram(sample("flood/16_08_01_260312_VXKOii.xml"))
    assert isinstance(new, FloodForecastTelegram)
    assert (new.kind_name, new.level) == ("レベル２氾濫注意報", 2)
    assert {a.city_code for a in new.flood_areas} >= {"1620900", "1620200"}
    old = parse_telegram(sample("flood/70_16_01_100806_kasenkozui1.xml"))
    assert isinstance(old, FloodForecastTelegram) and (old.kind_code, old.level) == ("00", 2)


def test_quake_reads_hypocentre_magnitude_and_intensities() -> None:
    t = parse_telegram(sample("quake/32-35_07_06_240613_VXSE53.xml"))
    assert isinstance(t, QuakeTelegram) and t.hypocentre is not None
    assert (t.hypocentre.name, t.magnitude, t.max_int) == ("駿河湾", 6.6, "6-")
    assert ("city", "2222200", "伊豆市", "6-") in [(i.level, i.code, i.name, i.max_int) for i in t.intensities]
    flash = parse_telegram(sample("quake/32-35_01_01_100806_VXSE51.xml"))
    assert isinstance(flash, QuakeTelegram) and flash.hypocentre is None
    assert {i.level for i in flash.intensities} == {"area"}


def test_tsunami_reads_kind_height_and_arrival_per_area() -> None:
    t = parse_telegram(sample("tsunami/32-39_11_06_250206_VTSE41.xml"))
    assert isinstance(t, TsunamiTelegram)
    aomori = t.forecasts[0]
    assert (aomori.area_code, aomori.kind_code, aomori.level, aomori.max_height_text) == ("201", "53", 4, "巨大")
    assert aomori.arrival_time is not None
    kochi = next(f for f in t.forecasts if f.area_code == "610")
    assert kochi.kind_name == "津波注意報" and kochi.level == 2


def test_feeds_parse_long_and_legacy() -> None:
    feed = parse_feed((JMA / "feeds" / "extra_l.xml").read_bytes())
    assert len(feed.entries) == 3647 and feed.title == "長期（随時）"
    kochi = [e for e in feed.entries if e.office_code == "390000"]
    assert {"VPWW53", "VPWW54"} <= {e.data_type for e in kochi}
    assert all(e.link.endswith(".xml") and e.author for e in feed.entries)
    for legacy in sorted((JMA / "feeds").glob("shirasagi_*.xml")):
        entries = parse_feed(legacy.read_bytes()).entries
        assert entries and all(e.id.startswith("urn:uuid:") and e.data_type == "" for e in entries)
