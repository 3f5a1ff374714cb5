"""JMA automatic texts in every language, from real telegrams (Kochi area codes) through the alert state:
kind, change, places and the level's action; Japanese and English are ``alerts.messages.compose``'s own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from pushsvc import i18n
from pushsvc.alerts import messages, texts
from pushsvc.alerts import service as alerts
from pushsvc.alerts.schemas import Transition
from pushsvc.feeds.jma import parse_telegram, statement_of
from pushsvc.types import LANGUAGES
from tests.feeds.jma.kochi import KOCHI, kochi_warning, resolver, rewrite, sample
from tests.feeds.seismic_harness import Seismic, seismic
from tests.fixtures.devpush import devpush, devpush_server

__all__ = ["devpush", "devpush_server", "seismic"]

SOURCE = "jma-test"
NAMES = {"39201": "高知市", "39202": "室戸市"}


def _run(session: Session, data: bytes, minutes: int = 0) -> list[Transition]:
    if minutes:
        t = parse_telegram(data)
        data = rewrite(data.decode(), report_datetime=(t.head.report_datetime + timedelta(minutes=minutes)).isoformat())
    js = statement_of(parse_telegram(data, telegram_id="t"), resolver(), source=SOURCE)
    if js.mode == "skip":
        return []
    if js.mode == "cancel":
        return alerts.cancel_statement(
            session, source=SOURCE, ref=js.statement.ref, at=js.statement.at, now=js.statement.at
        )
    return alerts.apply_statement(session, js.statement, now=js.statement.at)


def _texts(ts: Sequence[Transition]) -> tuple[dict[str, str], dict[str, str]]:
    [g] = messages.group(ts, lambda c: NAMES.get(c, c), ("気象庁", "JMA"))
    return texts.translate(g.transitions, messages._join(NAMES[a] for a in g.areas), g.message, ("気象庁", "JMA"))


def _same(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


def test_a_warning_raised_then_lifted_in_every_language_with_the_level_and_action(session: Session) -> None:
    first = _run(session, kochi_warning({KOCHI: [("大雨注意報", "10", "発表")]}))
    title, body = _texts(first)
    assert set(title) == set(body) == set(LANGUAGES)
    assert title["ko"] == "[경계 레벨 2 상당] 호우 주의보 (발표)"
    assert "해저드 맵" in body["ko"] and "高知市" in body["ko"]  # the level's action; place names stay Japanese
    raised = _run(session, kochi_warning({KOCHI: [("大雨警報", "03", "発表")]}), minutes=1)
    title, body = _texts(raised)
    assert title["zh-Hans"] == "【相当于警戒级别3】暴雨警报（由暴雨注意报切换）"
    assert "老年人等请从危险场所避难" in body["zh-Hans"] and "高齢者等避難" in body["ja"]
    lifted = _run(session, kochi_warning({KOCHI: []}), minutes=2)
    title, body = _texts(lifted)
    assert title["ja"] == "大雨警報（解除）" and title["vi"] == "Cảnh báo mưa lớn (dỡ bỏ)"
    assert "đã được dỡ bỏ" in body["vi"]


def test_a_real_tsunami_telegram_reaches_residents_in_every_language(seismic: Seismic) -> None:
    """What residents receive: the tsunami push is built by feeds.seismic.tsunami, not by alerts.texts, so the
    telegram goes in over HTTP and each phone decrypts its own language."""
    residents = {lang: seismic.resident("39201", lang=lang) for lang in LANGUAGES}  # 高知市
    seismic.accept(sample("tsunami/32-39_11_06_250206_VTSE41.xml").encode())
    seismic.deliver()
    got = {lang: [m.json() for m in seismic.got(r)] for lang, r in residents.items()}
    assert all(len(msgs) == 1 for msgs in got.values()), got
    title, body = {lang: m[0]["title"] for lang, m in got.items()}, {lang: m[0]["body"] for lang, m in got.items()}
    assert title["ja"] == "津波注意報" and title["en"] == "Tsunami advisory" and title["ko"] == "쓰나미 주의보"
    assert body["ko"].startswith(
        "바다에 있는 사람은 즉시 물 밖으로 나와 해안에 가까이 가지 마십시오. 高知県에 쓰나미 주의보가 발표되었습니다."
    )
    for lang in LANGUAGES:
        assert body[lang].startswith(i18n.text("tsunami.action.advisory", lang)), lang  # what to do, first
        assert "高知県" in body[lang] and body[lang].endswith(i18n.text("source", lang, source=i18n.Msg("source.jma")))
    assert len(set(body.values())) == len(LANGUAGES)  # every language its own text, none the Japanese


def test_the_catalogue_holds_the_same_japanese_and_english_as_compose(session: Session) -> None:
    """So a translator reading ja.po/en.po reads what residents get in Japanese and English."""
    cases = [
        _run(session, kochi_warning({KOCHI: [("大雨注意報", "10", "発表")]})),
        _run(session, kochi_warning({KOCHI: [("大雨警報", "03", "発表")]}), minutes=1),
        _run(session, kochi_warning({KOCHI: []}), minutes=2),
    ]
    for ts in cases:
        [g] = messages.group(ts, lambda c: NAMES.get(c, c), ("気象庁", "JMA"))
        mine = texts.catalogue_ja_en(g.transitions, "高知市", ("気象庁", "JMA"))
        assert _same(mine["ja"][0], g.message.title_ja) and _same(mine["ja"][1], g.message.body_ja)
        assert _same(mine["en"][0], g.message.title_en) and _same(mine["en"][1], g.message.body_en)
