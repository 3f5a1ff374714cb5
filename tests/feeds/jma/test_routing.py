"""Kochi telegrams built from real samples reach exactly the right N03 municipalities."""

from __future__ import annotations

import pytest

from pushsvc.alerts.schemas import AreaValue
from pushsvc.feeds.jma import load_area_codes, parse_telegram, snapshot, statement_of
from tests.feeds.jma.kochi import AKI, CODES, KOCHI, MUROTO, resolver, rewrite, sample


def _items(data: bytes) -> list[AreaValue]:
    return [i for i in statement_of(parse_telegram(data), resolver(), source="jma").statement.items if i.value]


def _routes(data: bytes) -> dict[str, set[str]]:
    """severity → municipalities, for what a telegram states."""
    out: dict[str, set[str]] = {}
    for i in _items(data):
        assert i.value is not None
        out.setdefault(i.value.severity, set()).add(i.area)
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
    data = rewrite(sample("warnings/15_16_03_241226_VPWW55.xml"), {"0121400": KOCHI, "0151100": MUROTO, "0151200": AKI})
    by_muni = {
        i.area: (i.value.product, i.value.level, i.value.severity, i.phenomenon) for i in _items(data) if i.value
    }
    assert by_muni == {  # the level in the name is the level: レベル４ is emergency like every Lv4
        "39201": ("レベル４大雨危険警報", 4, "emergency", "weather:大雨"),
        "39202": ("レベル３大雨警報", 3, "warning", "weather:大雨"),
        "39203": ("レベル２大雨注意報", 2, "advisory", "weather:大雨"),
    }


def test_emergency_warning_routes_as_emergency() -> None:
    data = rewrite(sample("warnings/15_08_01_130412_VPWW53.xml"), {"2920100": KOCHI})
    snap = snapshot(parse_telegram(data), resolver())
    assert snap is not None
    kinds = {(s.n03_code, s.kind_name, s.severity) for s in snap.statuses}
    assert ("39201", "大雨特別警報", "emergency") in kinds and {s.n03_code for s in snap.statuses} == {"39201"}


def test_landslide_alert_routes_to_kochi() -> None:
    data = rewrite(sample("landslide/17_04_01_250630_VXWW50.xml"), {"1420600": KOCHI, "1438300": MUROTO})
    assert _routes(data) == {"emergency": {"39201", "39202"}}  # 土砂災害警戒情報 is Lv4, like 氾濫危険水位


def test_flood_forecast_routes_to_the_cities_that_may_flood() -> None:
    data = rewrite(sample("flood/16_08_01_260312_VXKOii.xml"), {"1620900": KOCHI, "1620200": MUROTO})
    items = _items(data)
    assert sorted((i.area, i.value.severity, i.value.level, i.value.product) for i in items if i.value) == [
        ("39201", "advisory", 2, "レベル２氾濫注意報"),
        ("39202", "advisory", 2, "レベル２氾濫注意報"),
    ]
    assert items[0].phenomenon.startswith("river:") and "小矢部川" in items[0].value.name_en  # type: ignore[union-attr]


def test_quake_intensity_routes_per_city_and_per_area() -> None:
    data = rewrite(sample("quake/32-35_07_06_240613_VXSE53.xml"), {"2222200": KOCHI})
    routes = _routes(data)
    assert "39201" in routes["emergency"]  # 伊豆市 震度6弱 moved to 高知市
    flash = rewrite(sample("quake/32-35_01_01_100806_VXSE51.xml"), {"442": "631"})  # 静岡県中部 → 高知県中部
    assert routes_from_flash(flash) >= {"39201", "39204", "39386"}


def routes_from_flash(data: bytes) -> set[str]:
    return {m for ms in _routes(data).values() for m in ms}


def test_tsunami_advisory_routes_to_coastal_kochi_only() -> None:
    items = _items(sample("tsunami/32-39_11_06_250206_VTSE41.xml").encode())
    munis = {i.area for i in items}
    assert munis == set(resolver().tsunami_area("610")) and "39212" not in munis
    assert {i.value.severity for i in items if i.value} == {"warning"} and items[0].phenomenon == "tsunami"
    assert {i.value.detail.get("area") for i in items if i.value} == {"高知県"}  # worded per 予報区, not per town


def test_other_prefectures_produce_nothing() -> None:
    for name in (
        "warnings/15_16_03_241226_VPWW55.xml",
        "landslide/17_04_01_250630_VXWW50.xml",
        "flood/16_02_02_220728_VXKOii.xml",
    ):
        assert _items(sample(name).encode()) == []
