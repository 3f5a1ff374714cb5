"""One table of 警戒レベル相当 and one severity rule; messages say the level, the change and what to do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pushsvc.alerts.levels import PRODUCTS, product, severity_for
from pushsvc.alerts.messages import compose, group
from pushsvc.alerts.schemas import Transition, Value

NAMES = {"39201": "高知市", "39202": "室戸市"}


@pytest.mark.parametrize(
    ("name", "level", "severity"),
    [
        ("大雨注意報", 2, "advisory"),
        ("洪水注意報", 2, "advisory"),
        ("高潮注意報", 2, "advisory"),
        ("大雨警報", 3, "warning"),
        ("洪水警報", 3, "warning"),
        ("氾濫警戒情報", 3, "warning"),
        ("避難判断水位", 3, "warning"),
        ("土砂災害警戒情報", 4, "emergency"),
        ("高潮警報", 4, "emergency"),
        ("高潮特別警報", 4, "emergency"),
        ("氾濫危険情報", 4, "emergency"),
        ("氾濫危険水位", 4, "emergency"),
        ("危険水位", 4, "emergency"),
        ("大雨特別警報", 5, "emergency"),
        ("氾濫発生情報", 5, "emergency"),
        ("レベル４土砂災害危険警報", 4, "emergency"),
        ("レベル２氾濫注意報", 2, "advisory"),
        ("レベル５洪水特別警報", 5, "emergency"),  # not in the table yet: the level comes from the name
        ("暴風警報", None, "warning"),
        ("波浪注意報", None, "advisory"),
        ("暴風特別警報", None, "emergency"),
    ],
)
def test_every_product_has_its_level_and_the_one_severity_rule(name: str, level: int | None, severity: str) -> None:
    row = product(name)
    assert (row.level, row.severity) == (level, severity)
    if level is not None:
        assert row.action is not None and row.severity == severity_for(level)


def test_every_row_with_a_level_has_an_action_in_both_languages() -> None:
    assert all(p.action and p.action.ja and p.action.en for p in PRODUCTS.values() if p.level)
    assert "命を守る行動" in product("大雨特別警報").action.ja  # type: ignore[union-attr]
    assert "全員避難" in product("土砂災害警戒情報").action.ja  # type: ignore[union-attr]
    assert "高齢者等" in product("洪水警報").action.ja  # type: ignore[union-attr]


def _t(
    i: int,
    change: str,
    area: str,
    before: str | None,
    after: str | None,
    ph: str = "weather:大雨",
    undoes: str | None = None,
) -> Transition:
    return Transition(
        i,
        i,
        "jma",
        ph,
        area,
        "",
        change,
        Value.of(before) if before else None,  # type: ignore[arg-type]
        Value.of(after) if after else None,
        "ref",
        datetime(2026, 6, 2, tzinfo=UTC),
        undoes=undoes,
    )  # type: ignore[arg-type]


def test_switch_wording_level_and_action() -> None:
    up = compose([_t(1, "raised", "39201", "大雨警報", "大雨特別警報")], "高知市")
    assert up.title_ja == "【警戒レベル5相当】大雨特別警報（大雨警報から切替）"
    assert "高知市の大雨警報は大雨特別警報に切り替わりました。" in up.body_ja and "命を守る行動" in up.body_ja
    assert up.severity == "emergency" and up.level == 5 and "Alert level 5 equivalent" in up.body_en
    down = compose([_t(2, "lowered", "39201", "大雨特別警報", "大雨警報")], "高知市")
    assert "大雨特別警報は大雨警報に切り替わりました" in down.body_ja and "高齢者等" in down.body_ja
    assert down.severity == "warning"


def test_several_lifts_for_one_municipality_make_one_message() -> None:
    ts = [
        _t(1, "lifted", "39201", "大雨警報", None),
        _t(2, "lifted", "39201", "洪水注意報", None, "weather:洪水"),
        _t(3, "lifted", "39202", "大雨警報", None),
    ]
    groups = group(ts, NAMES.__getitem__)
    assert sorted(g.areas for g in groups) == [("39201",), ("39202",)]
    kochi = next(g for g in groups if g.areas == ("39201",)).message
    assert kochi.title_ja == "大雨警報、洪水注意報（解除）" and kochi.severity == "info"
    assert "高知市の大雨警報、洪水注意報は解除されました。" in kochi.body_ja


def test_municipalities_with_the_same_change_share_one_message() -> None:
    [g] = group(
        [
            _t(1, "issued", "39201", None, "土砂災害警戒情報", "landslide"),
            _t(2, "issued", "39202", None, "土砂災害警戒情報", "landslide"),
        ],
        NAMES.__getitem__,
    )
    assert g.areas == ("39201", "39202") and g.message.title_ja == "【警戒レベル4相当】土砂災害警戒情報（発表）"
    assert "高知市、室戸市に土砂災害警戒情報が発表されました。" in g.message.body_ja
    assert "危険な場所から全員避難" in g.message.body_ja and g.message.severity == "emergency"


def test_docs_feeds_md_carries_the_level_table_as_the_code_has_it() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "FEEDS.md").read_text(encoding="utf-8")
    for name, p in PRODUCTS.items():
        assert f"| {name} | {p.name_en} | {p.level} | {p.severity} |" in doc, name
