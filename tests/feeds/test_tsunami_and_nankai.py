"""津波警報 → 注意報 → 解除 and 南海トラフ地震臨時情報, pushed in over HTTP as a relay sends them."""

from __future__ import annotations

from sqlalchemy import select

from pushsvc.feeds.models import FeedSource
from tests.feeds.jma import kochi_seismic as tg
from tests.feeds.jma.kochi import resolver
from tests.feeds.seismic_harness import Seismic, seismic
from tests.fixtures.delivery import Resident

__all__ = ["seismic"]

KOCHI, MUROTO, KAMI, TOSASHIMIZU, KUROSHIO = "39201", "39202", "39212", "39209", "39428"
WARNING = ("津波警報", "51")
ADVISORY = ("津波注意報", "62")
SLIGHT = ("津波予報（若干の海面変動）", "71")


def _state(s: Seismic) -> dict:  # type: ignore[type-arg]
    with s.h.db.sessionmaker() as db:
        return dict(db.execute(select(FeedSource).where(FeedSource.name == "jma-push")).scalar_one().state)


def _public(s: Seismic, municipality: str) -> list[dict]:  # type: ignore[type-arg]
    r = s.h.client.get("/api/v1/alerts", params={"municipality": municipality})
    assert r.status_code == 200, r.text
    return list(r.json()["alerts"])


def _portal_alerts(s: Seismic, r: Resident) -> list[str]:
    got = s.h.client.get(
        "/api/v1/portal/me", params={"subscription": r.id}, headers={"Authorization": f"Bearer {r.token}"}
    )
    assert got.status_code == 200, got.text
    return [a["title"] for p in got.json()["places"] for a in p["alerts"]]


def _portal_bodies(s: Seismic, r: Resident) -> list[str]:
    got = s.h.client.get(
        "/api/v1/portal/me", params={"subscription": r.id}, headers={"Authorization": f"Bearer {r.token}"}
    )
    return [a["body"] for p in got.json()["places"] for a in p["alerts"]]


def test_tsunami_warning_then_advisory_then_lifted_gives_three_messages_and_nothing_in_force(seismic: Seismic) -> None:
    s = seismic
    coast = s.resident(KOCHI)
    two_towns = s.resident(MUROTO, TOSASHIMIZU)  # two coastal towns: one message per step
    inland = s.resident(KAMI)  # 香美市 has no coast

    s.accept(tg.tsunami(WARNING, minutes=3))
    s.accept(tg.tsunami(WARNING, minutes=4, info=True, arrival="2026-12-01T10:18:00+09:00"))  # 津波情報
    s.deliver()
    [listed] = _public(s, KOCHI)
    assert listed["title"] == "津波警報" and "（津波情報）高知県 第1波の到達予想 10時18分" in listed["body"]
    page = s.h.client.get(f"/api/v1/alerts/{listed['id']}").json()  # the alert page a push opens
    assert "第1波の到達予想 10時18分" in page["body"] and "（出典：気象庁）" in page["body"]
    assert any("10時18分" in a for a in _portal_bodies(s, coast))
    s.accept(tg.tsunami(ADVISORY, minutes=60, last="津波警報", height="１ｍ", arrival=None))
    s.deliver()
    assert [a["title"] for a in _public(s, KOCHI)] == ["津波注意報（津波警報から切り替え）"]  # 警報 no longer listed
    s.accept(tg.tsunami(SLIGHT, minutes=120, last="津波注意報", height="０．２ｍ未満", arrival=None))
    s.deliver()

    for r in (coast, two_towns):
        warning, advisory, lifted = (m.json() for m in s.got(r))
        assert warning["severity"] == "emergency" and warning["title"] == "津波警報"
        action, area = "ただちに高台や避難ビルへ避難してください。", "高知県に津波警報が発表されました。"
        assert warning["body"].startswith(action + area)  # what to do first, then where
        assert "予想される津波の高さ ３ｍ" in warning["body"] and "第1波の到達予想 10:20" in warning["body"]
        assert "、" not in warning["body"].split("。")[1]  # the area, not a list of 19 towns
        assert advisory["severity"] == "warning"
        assert advisory["body"].startswith("海の中にいる人はただちに海から上がって、海岸に近づかないでください。")
        assert "津波警報は津波注意報に切り替わりました" in advisory["body"]
        assert "（津波情報）高知県 第1波の到達予想 10時18分" in advisory["body"]  # VTSE51 reaches the next push
        assert lifted["severity"] == "info" and "津波注意報は解除されました" in lifted["body"]
        assert "若干の海面変動" not in lifted["title"]
    assert s.got(inland) == []
    assert _public(s, KOCHI) == [] and _public(s, MUROTO) == []  # nothing in force at the end
    assert _portal_alerts(s, coast) == []


def test_each_nankai_category_reaches_every_resident_of_all_34_municipalities_once(seismic: Seismic) -> None:
    s = seismic
    towns = [m.n03_code for m in resolver().municipalities]
    assert len(towns) == 34
    residents = {code: s.resident(code) for code in towns}
    both = s.resident(MUROTO, KUROSHIO)  # two towns with 事前避難対象地域: one message naming both

    sequence = ["調査中", "巨大地震警戒", "巨大地震警戒", "巨大地震注意", "調査終了"]  # the restatement is silent
    for i, category in enumerate(sequence):
        s.accept(tg.nankai(category, minutes=30 + i))
        s.deliver()  # one category at a time: the order each phone receives them in is then fixed
        if i == 1:
            s.accept(tg.tsunami(ADVISORY, minutes=31))  # a more recent alert: the 臨時情報 stays on top
            s.deliver()
            assert _public(s, MUROTO)[0]["title"] == "南海トラフ地震臨時情報（巨大地震警戒）"
            assert "室戸岬地区" in _public(s, MUROTO)[0]["body"] and "室戸岬地区" not in _public(s, KOCHI)[0]["body"]
            assert _portal_alerts(s, residents[MUROTO])[0] == "南海トラフ地震臨時情報（巨大地震警戒）"
    s.accept(tg.nankai("定例解説", minutes=600))  # VYSE52: shown, never pushed
    s.deliver()

    expected = [
        "南海トラフ地震臨時情報（調査中）",
        "南海トラフ地震臨時情報（巨大地震警戒）",
        "南海トラフ地震臨時情報（巨大地震注意）",
        "南海トラフ地震臨時情報（調査終了）",
    ]
    for code, r in {**residents, "both": both}.items():
        got = [m.json() for m in s.got(r) if m.json()["title"].startswith("南海")]  # coastal towns also got 注意報
        assert [m["title"] for m in got] == expected, code
        alert = got[1]
        assert alert["severity"] == "emergency"
        assert "事前避難対象地域の方は、1週間の避難を継続してください" in alert["body"]
        assert "揺れを感じたらすぐに避難できる準備" in alert["body"]
        assert "備えを再確認し、揺れを感じたらすぐに避難してください" in got[2]["body"]
    assert "室戸市の事前避難対象地域は室戸岬地区、佐喜浜地区です。" in s.got(residents[MUROTO])[1].json()["body"]
    assert "室戸岬地区" not in s.got(residents[KAMI])[1].json()["body"]
    both_body = s.got(both)[1].json()["body"]
    assert "室戸岬地区" in both_body and "黒潮町の事前避難対象地域は佐賀地区です。" in both_body
    state = _state(s)["nankai"]
    assert state["status"] is None and state["commentary"]["title"] == "南海トラフ地震関連解説情報"  # ended
    assert not any(a["title"].startswith("南海トラフ") for a in _public(s, KOCHI))  # gone once 調査終了


def test_a_nankai_cancel_withdraws_only_its_own_telegram_and_commentary_is_pushed_as_info(seismic: Seismic) -> None:
    s = seismic
    r = s.resident(KOCHI)
    for category, minutes in (("調査中", 30), ("巨大地震注意", 40), ("臨時解説", 50)):
        s.accept(tg.nankai(category, minutes=minutes))
        s.deliver()
    s.accept(tg.nankai("巨大地震注意", minutes=40, info_type="取消"))  # JMA repeats the cancelled ReportDateTime
    s.deliver()
    got = [m.json() for m in s.got(r)]
    assert [m["title"] for m in got[:3]] == [
        "南海トラフ地震臨時情報（調査中）",
        "南海トラフ地震臨時情報（巨大地震注意）",
        "南海トラフ地震関連解説情報",
    ]
    assert got[2]["severity"] == "info" and "取り消されました" in got[3]["body"] and len(got) == 4
    assert [a["title"] for a in _public(s, KOCHI)] == ["南海トラフ地震臨時情報（調査中）"]  # back to what was said


def test_a_nankai_training_telegram_reaches_no_one(seismic: Seismic) -> None:
    s = seismic
    r = s.resident(KOCHI)
    s.accept(tg.nankai("巨大地震警戒", status="訓練"))
    s.deliver()
    assert s.got(r) == [] and not _state(s).get("nankai")
