"""The one message catalogue: every language has every message, and texts fall back the way residents need."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from pushsvc import i18n
from pushsvc.delivery.service import Message
from pushsvc.feeds.river.alerts import fall_alert, rise_alert
from pushsvc.feeds.river.records import Stage, Station, Thresholds
from pushsvc.types import LANGUAGES


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_the_api_accepts_has_every_message() -> None:
    cat = i18n.catalogue()
    assert set(cat) == set(LANGUAGES) and len(LANGUAGES) >= 10
    source = set(cat["ja"])
    assert len(source) > 150
    for lang in LANGUAGES:
        missing = source - set(cat[lang])
        assert not missing, f"{lang} lacks {sorted(missing)[:5]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_use_only_the_placeholders_the_sources_offer(lang: str) -> None:
    cat = i18n.catalogue()
    for msgid, text in cat[lang].items():
        offered = _fields(cat["ja"][msgid]) | _fields(cat["en"][msgid])
        assert _fields(text) <= offered, (lang, msgid, text)
        params = {name: "X" for name in offered}
        assert "{" not in i18n.text(msgid, lang, **params), (lang, msgid)


def test_alert_levels_and_actions_are_in_every_language() -> None:
    for level in (3, 4, 5):
        names = i18n.texts(f"level.{level}.name")
        assert names["ja"] == {3: "高齢者等避難", 4: "避難指示", 5: "緊急安全確保"}[level]
        assert len(set(names.values())) >= 8  # really translated, not the Japanese copied
    assert "全員避難" in i18n.text("level.4.action", "ja") and "命を守る行動" in i18n.text("level.5.action", "ja")
    assert "ただちに高台" in i18n.text("tsunami.action", "ja")
    assert i18n.text("level.label", "ko", level=4) == "경계 레벨 4"
    assert i18n.texts("change.cancel")["ja"] == "取消" and i18n.texts("change.downgraded")["ja"] == "切替"


def test_nested_messages_and_per_language_parameters() -> None:
    kind = i18n.Msg("weather.2", hazard=i18n.Msg("hazard.大雨"))
    title = i18n.texts("alert.title", kind=kind, change=i18n.Msg("change.issued"))
    assert title["ja"] == "大雨警報（発表）" and title["en"] == "Heavy rain warning issued"
    assert title["ko"] == "호우 경보 (발표)" and title["zh-Hant"] == "豪雨警報（發布）"
    # A {lang: text} parameter: other languages read English, never a missing value.
    detail = i18n.texts(
        "alert.issued", places="高知市", kind=kind, detail={"ja": "震源 土佐湾。", "en": "Epicentre Tosa Bay"}
    )
    assert detail["ja"] == "高知市に大雨警報。震源 土佐湾。" and detail["vi"].endswith("Epicentre Tosa Bay")


def test_join_puts_sentences_together_as_each_script_wants() -> None:
    joined = i18n.join({"ja": "一。", "en": "One."}, {"ja": "二。", "en": "Two."})
    assert joined["ja"] == "一。二。" and joined["en"] == "One. Two." and joined["ko"] == "一。 二。"


def _message(title: dict[str, str], body: dict[str, str]) -> Message:
    now = datetime.now(UTC)
    return Message(
        id=1,
        category="evacuation",
        severity="warning",
        title=title,
        body=body,
        url="https://x/alerts/1",
        ttl_seconds=60,
        topic="t",
        expires_at=now,
        status="sent",
    )


def test_untranslated_messages_fall_back_to_easy_japanese_then_japanese() -> None:
    m = _message(
        {"ja": "避難指示", i18n.EASY_JAPANESE: "にげて ください", "en": "Evacuation order"},
        {"ja": "全員避難", i18n.EASY_JAPANESE: "みんな にげて ください"},
    )
    assert m.text("en") == ("Evacuation order", "みんな にげて ください")
    assert m.text("vi") == ("にげて ください", "みんな にげて ください")
    assert m.text("ja") == ("避難指示", "全員避難")  # a Japanese reader gets the standard text
    plain = _message({"ja": "避難指示"}, {"ja": "全員避難"})
    assert plain.text("ko") == ("避難指示", "全員避難")


INO = Station(
    code="3900000001",
    name="伊野",
    river="仁淀川",
    municipality="39386",
    downstream=("39205",),
    source="kawabou",
    thresholds=Thresholds(evacuation=8.15, danger=8.8, flooding=9.6),
)


def test_river_messages_exist_in_every_language_with_place_names_in_japanese() -> None:
    at = datetime(2026, 6, 2, 5, 0, tzinfo=UTC)
    rise = rise_alert(INO, Stage.DANGER, 8.95, 8.8, at)
    assert set(rise.title) == set(LANGUAGES) and set(rise.body) == set(LANGUAGES)
    assert rise.body["ja"] == rise.body_ja and rise.title["en"] == rise.title_en  # the sources, unchanged
    assert rise.title["ko"] == "[경계 레벨 4 상당] [범람 위험 수위 초과] 伊野 (仁淀川)"
    assert "8.95" in rise.body["ko"] and "경계 레벨 4 상당" in rise.body["ko"] and "14:00" in rise.body["ko"]
    assert "伊野" in rise.body["pt"] and "nível de alerta 4" in rise.body["pt"]
    fall = fall_alert(INO, Stage.DANGER, 8.5, 8.8, at)
    assert "下回りました" in fall.body["ja"] and "8.50 m" in fall.body["id"] and "di bawah" in fall.body["id"]
    assert "title" not in rise.to_dict()  # the per-language texts live in the notification, not the detail
