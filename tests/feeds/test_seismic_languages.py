"""What a Korean or a Vietnamese resident receives of 緊急地震速報, 津波警報 and 南海トラフ地震臨時情報: the
telegram pushed in over HTTP, delivered by the worker to the local push service, decrypted on the phone.
Title and body are in the resident's language (the catalogue's words), place names stay Japanese, the
attribution to JMA stays."""

from __future__ import annotations

from tests.feeds.jma import kochi_seismic as tg
from tests.feeds.seismic_harness import Seismic, seismic

__all__ = ["seismic"]

KOCHI, MUROTO = "39201", "39202"
WARNING = ("津波警報", "51")
ADVISORY = ("津波注意報", "62")


def test_eew_tsunami_and_nankai_reach_korean_and_vietnamese_residents_in_their_language(seismic: Seismic) -> None:
    s = seismic
    ko = s.resident(KOCHI, MUROTO, lang="ko")
    vi = s.resident(KOCHI, MUROTO, lang="vi")
    ja = s.resident(KOCHI, MUROTO)

    s.accept(tg.eew(("631",), serial="1"))
    s.deliver()
    [eew_ko], [eew_vi], [eew_ja] = s.got(ko), s.got(vi), s.got(ja)
    assert eew_ko.json()["title"] == "긴급 지진 속보: 강한 흔들림에 경계 高知県中部"
    body = eew_ko.json()["body"]
    assert "土佐湾에서 지진 (M7.2)" in body and "강한 흔들림에 경계하십시오" in body
    assert "안전한 곳에서 흔들림이 멈출 때까지 기다리십시오" in body and body.endswith("(출처: 일본 기상청)")
    assert eew_vi.json()["title"] == "Cảnh báo sớm động đất: rung lắc mạnh, 高知県中部"
    assert "Hãy cảnh giác rung lắc mạnh" in eew_vi.json()["body"]
    assert eew_vi.json()["body"].endswith("(Nguồn: Cơ quan Khí tượng Nhật Bản)")
    assert eew_ja.json()["title"] == "緊急地震速報 強い揺れに警戒 高知県中部"  # the source, unchanged
    assert eew_ja.json()["body"].endswith("揺れがおさまるまで待ってください。（出典：気象庁）")

    s.accept(tg.tsunami(WARNING, minutes=3))
    s.accept(tg.tsunami(WARNING, minutes=4, info=True, arrival="2026-12-01T10:18:00+09:00"))  # 津波情報
    s.accept(tg.tsunami(ADVISORY, minutes=60, last="津波警報", height="１ｍ", arrival=None))
    s.deliver()
    warning, advisory = (m.json() for m in s.got(ko)[1:])
    assert warning["title"] == "쓰나미 경보" and warning["severity"] == "emergency"
    assert warning["body"].startswith(
        "즉시 높은 곳이나 쓰나미 대피 빌딩으로 대피하십시오. "  # ただちに高台へ
        "高知県에 쓰나미 경보가 발표되었습니다."
    )
    assert warning["body"].endswith("(출처: 일본 기상청)")
    assert advisory["title"] == "쓰나미 주의보 (쓰나미 경보에서 전환)"
    assert advisory["body"].startswith("바다에 있는 사람은 즉시 물 밖으로 나와 해안에 가까이 가지 마십시오.")
    assert "(쓰나미 정보) 高知県: 제1파 도달 예상 10:18, 예상 높이 ３ｍ." in advisory["body"]  # VTSE51, translated
    warning, advisory = (m.json() for m in s.got(vi)[1:])
    assert warning["title"] == "Cảnh báo sóng thần"
    assert warning["body"].startswith(
        "Hãy lên ngay vùng đất cao hoặc tòa nhà sơ tán sóng thần. Cảnh báo sóng thần đã được ban hành cho 高知県."
    )
    assert "(Thông tin sóng thần) 高知県: sóng đầu tiên dự kiến đến lúc 10:18" in advisory["body"]
    assert (
        s.got(ja)[1]
        .json()["body"]
        .startswith("ただちに高台や避難ビルへ避難してください。高知県に津波警報が発表されました。")
    )

    s.accept(tg.nankai("巨大地震警戒", minutes=90))
    s.deliver()
    nankai = s.got(ko)[-1].json()
    assert nankai["title"] == "난카이 해곡 지진 임시 정보 (거대 지진 경계)"
    assert nankai["body"].startswith("사전 대피 대상 지역의 주민은 1주일간 대피를 계속하십시오.")
    assert "室戸市의 사전 대피 대상 지역은 室戸岬地区, 佐喜浜地区입니다." in nankai["body"]
    nankai = s.got(vi)[-1].json()
    assert nankai["title"] == "Thông tin bất thường về động đất rãnh Nankai (Cảnh báo siêu động đất)"
    assert "tiếp tục sơ tán trong 1 tuần" in nankai["body"]
    assert s.got(ja)[-1].json()["title"] == "南海トラフ地震臨時情報（巨大地震警戒）"

    s.accept(tg.eew(("631",), serial="2", info_type="取消"))
    s.deliver()
    assert s.got(ko)[-1].json()["title"] == "긴급 지진 속보 (취소)"
    assert "일본 기상청에 의해 취소되었습니다" in s.got(ko)[-1].json()["body"]


def test_earthquake_reports_reach_a_korean_resident_in_korean(seismic: Seismic) -> None:
    s = seismic
    ko = s.resident(KOCHI, lang="ko")
    s.accept(tg.shindo({"631": "5+"}))  # 震度速報: per area
    s.accept(tg.report({"3920100": "5+", "3934400": "4"}))  # 震源・震度情報: per town
    s.deliver()
    first, second = (m.json() for m in s.got(ko))
    assert first["title"] == "진도 속보: 高知県中部 진도 5강"
    assert "高知県中部에서 진도 5강의 흔들림이 관측되었습니다(高知市을(를) 포함한 지역의 최대 진도)" in first["body"]
    assert second["title"] == "진원・진도 정보: 高知市 진도 5강"
    assert "진원은 土佐湾 (깊이 약 10km), 지진 규모는 M5.9(으)로 추정됩니다." in second["body"]
    assert second["body"].endswith("(출처: 일본 기상청)")
