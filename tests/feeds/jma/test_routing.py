"""Kochi telegrams built from real samples reach exactly the right N03 municipalities."""

from __future__ import annotations

import pytest

from pushsvc.feeds.jma import detect_changes, load_area_codes, parse_telegram, snapshot
from tests.feeds.jma.kochi import AKI, CODES, KOCHI, MUROTO, resolver, rewrite, sample


def _routes(data: bytes) -> dict[str, set[str]]:
    """severity → municipalities, from a first telegram against empty state."""
    out: dict[str, set[str]] = {}
    for e in detect_changes({}, parse_telegram(data), resolver()).events:
        out.setdefault(e.severity, set()).update(e.municipalities)
    return out


def test_resolver_maps_7_digit_codes_and_areas_to_n03() -> None:
    r = resolver()
    assert len(r.municipalities) == 34
    assert r.municipality(KOCHI) == "39201" and r.municipality("2610000") is None
    assert r.resolve("390021") == ("39202", "39301")  # 室戸 = 室戸市 + 東洋町
    assert "39212" not in r.tsunami_area("610")  # 香美市 is inland
    assert set(r.quake_area("630")) >= {"39202", "39203"}


def test_resolver_for_another_prefecture_finds_nothing_in_kochi_tables() -> None:
    with pytest.raises(Exception, match="no municipality"):
        load_area_codes(CODES / "kochi_area_codes.csv", prefecture="13")


def test_2026_heavy_rain_form_routes_to_kochi() -> None:
    data = rewrite(sample("warnings/15_16_03_241226_VPWW55.xml"),
                   {"0121400": KOCHI, "0151100": MUROTO, "0151200": AKI})
    events = detect_changes({}, parse_telegram(data), resolver()).events
    by_muni = {m: (e.kind_name, e.severity, e.category) for e in events for m in e.municipalities}
    assert by_muni == {
        "39201": ("レベル４大雨危険警報", "warning", "weather"),
        "39202": ("レベル３大雨警報", "warning", "weather"),
        "39203": ("レベル２大雨注意報", "advisory", "weather"),
    }


def test_emergency_warning_routes_as_emergency() -> None:
    data = rewrite(sample("warnings/15_08_01_130412_VPWW53.xml"), {"2920100": KOCHI})
    snap = snapshot(parse_telegram(data), resolver())
    assert snap is not None
    kinds = {(s.n03_code, s.kind_name, s.severity) for s in snap.statuses}
    assert ("39201", "大雨特別警報", "emergency") in kinds and {s.n03_code for s in snap.statuses} == {"39201"}


def test_landslide_alert_routes_to_kochi() -> None:
    data = rewrite(sample("landslide/17_04_01_250630_VXWW50.xml"), {"1420600": KOCHI, "1438300": MUROTO})
    assert _routes(data) == {"warning": {"39201", "39202"}}


def test_flood_forecast_routes_to_the_cities_that_may_flood() -> None:
    data = rewrite(sample("flood/16_08_01_260312_VXKOii.xml"), {"1620900": KOCHI, "1620200": MUROTO})
    events = detect_changes({}, parse_telegram(data), resolver()).events
    assert [(e.municipalities, e.category, e.severity, e.kind_name) for e in events] == [
        (("39201", "39202"), "river", "advisory", "レベル２氾濫注意報")
    ]
    assert "小矢部川" in events[0].title_en or "小矢部川" in events[0].body_en


def test_quake_intensity_routes_per_city_and_per_area() -> None:
    data = rewrite(sample("quake/32-35_07_06_240613_VXSE53.xml"), {"2222200": KOCHI})
    routes = _routes(data)
    assert "39201" in routes["emergency"]  # 伊豆市 震度6弱 moved to 高知市
    flash = rewrite(sample("quake/32-35_01_01_100806_VXSE51.xml"), {"442": "631"})  # 静岡県中部 → 高知県中部
    assert routes_from_flash(flash) >= {"39201", "39204", "39386"}


def routes_from_flash(data: bytes) -> set[str]:
    return {m for ms in _routes(data).values() for m in ms}


def test_tsunami_advisory_routes_to_coastal_kochi_only() -> None:
    events = detect_changes({}, parse_telegram(sample("tsunami/32-39_11_06_250206_VTSE41.xml")), resolver()).events
    munis = {m for e in events for m in e.municipalities}
    assert munis == set(resolver().tsunami_area("610")) and "39212" not in munis
    assert {e.severity for e in events} == {"warning"} and events[0].category == "quake_tsunami"
    [event] = events  # one message for the 予報区, not a list of its 19 towns
    assert event.body_ja.startswith("海の中にいる人はただちに海から上がって、海岸に近づかないでください。高知県に")


def test_other_prefectures_produce_nothing() -> None:
    for name in ("warnings/15_16_03_241226_VPWW55.xml", "landslide/17_04_01_250630_VXWW50.xml",
                 "flood/16_02_02_220728_VXKOii.xml"):
        assert detect_changes({}, parse_telegram(sample(name)), resolver()).events == ()
