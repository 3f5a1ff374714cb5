"""JMA automatic texts in every language, from real telegrams (Kochi area codes): kind, change, places, action."""

from __future__ import annotations

from pushsvc.feeds.jma import detect_changes, parse_telegram
from pushsvc.subscriptions.schemas import LANGUAGES
from tests.feeds.jma.kochi import KOCHI, kochi_warning, resolver, rewrite, sample


def test_a_real_tsunami_advisory_says_what_to_do_in_every_language() -> None:
    events = detect_changes({}, parse_telegram(sample("tsunami/32-39_11_06_250206_VTSE41.xml")), resolver()).events
    e = events[0]
    assert set(e.title) == set(e.body) == set(LANGUAGES)
    assert e.title["ja"] == "津波注意報（発表）" and e.title["en"] == "Tsunami advisory issued"
    assert e.title["ko"] == "쓰나미 주의보 (발표)" and e.title["vi"].startswith("Khuyến cáo sóng thần")
    assert "海から離れてください" in e.body["ja"] and "바다에서 떨어지십시오" in e.body["ko"]
    assert e.body["ja"] == e.body_ja and e.title["en"] == e.title_en  # the source texts, kept as they were


def test_warning_issued_upgraded_and_lifted_in_korean_and_chinese() -> None:
    first = detect_changes({}, parse_telegram(kochi_warning({KOCHI: [("大雨注意報", "10", "発表")]}), telegram_id="a"),
                           resolver())
    assert first.events[0].title["ko"] == "호우 주의보 (발표)"
    up = detect_changes(first.state, parse_telegram(kochi_warning({KOCHI: [("大雨警報", "03", "発表")]}),
                                                    telegram_id="b"), resolver())
    [e] = up.events
    assert e.title["zh-Hans"] == "暴雨警报（升级）" and "由暴雨注意报升级" in e.body["zh-Hans"]
    assert "高知市" in e.body["ko"]  # place names stay Japanese
    lifted = detect_changes(up.state, parse_telegram(kochi_warning({KOCHI: []}), telegram_id="c"), resolver())
    [gone] = lifted.events
    assert gone.title["ja"] == "大雨警報（解除）"
    assert gone.body["pt"] == "O Alerta de chuva forte para 高知市 foi suspenso."


def test_a_strong_quake_tells_everyone_to_protect_themselves() -> None:
    data = rewrite(sample("quake/32-35_07_06_240613_VXSE53.xml"), {"2222200": KOCHI})
    events = detect_changes({}, parse_telegram(data, telegram_id="q"), resolver()).events
    assert events and all(set(e.body) == set(LANGUAGES) for e in events)
    strong = [e for e in events if e.severity in ("warning", "emergency")]
    for e in strong:
        assert "身の安全を確保" in e.body["ja"] and "여진" in e.body["ko"]
    assert strong and strong[0].title["ko"] == "지진, 진도 6약 (발표)" and "6 Lower" in strong[0].title["tl"]
    assert events[0].title["ja"].startswith("震度")
