"""避難情報 as a Korean or a Vietnamese resident receives it, through the operators' API and the worker: the
level, the name of the information and the action in their language; place and shelter names in Japanese."""

from __future__ import annotations

from tests.evacuation.conftest import IN_USHIOE, Evac
from tests.evacuation.test_orders import issue_raise_lift, received


def test_an_evacuation_order_reaches_korean_and_vietnamese_residents_in_their_language(evac: Evac) -> None:
    ko = evac.h.subscribe(IN_USHIOE, lang="ko")
    vi = evac.h.subscribe(IN_USHIOE, lang="vi")
    issue_raise_lift(evac)
    docs = [r.json() for r in received(evac, ko)]
    assert [d["title"] for d in docs] == [
        "[경계 레벨 3] 고령자 등 대피 (高知市)",
        "[경계 레벨 4] 대피 지시 (高知市)",
        "[해제] 대피 지시 (高知市)",
    ]
    assert docs[0]["body"].startswith(
        "高知市 潮江地区에 고령자 등 대피을(를) 발령했습니다. 위험한 장소에서 고령자 등은 대피하십시오."
    )
    assert docs[1]["body"].startswith(
        "高知市 潮江地区에 대피 지시을(를) 발령했습니다. 위험한 장소에서 전원 대피하십시오."
    )  # 警戒レベル4: 全員避難
    assert "대상 재해: 토사 재해" in docs[1]["body"] and "개설된 대피 장소: 潮江小学校, 潮江市民会館" in docs[1]["body"]
    assert docs[2]["body"].startswith(
        "高知市 潮江地区의 대피 지시을(를) 해제했습니다. 계속해서 주변 상황에 주의하십시오."
    )
    docs = [r.json() for r in received(evac, vi)]
    assert docs[1]["title"] == "[Cấp độ cảnh báo 4] Lệnh sơ tán (高知市)"
    assert docs[1]["body"].startswith(
        "Đã ban hành Lệnh sơ tán cho 潮江地区 (高知市). Mọi người hãy sơ tán khỏi nơi nguy hiểm."
    )
    assert "Nơi sơ tán đang mở: 潮江小学校, 潮江市民会館" in docs[1]["body"]
    assert docs[2]["title"] == "[Dỡ bỏ] Lệnh sơ tán (高知市)"


def test_the_portal_shows_a_vietnamese_resident_the_order_in_vietnamese(evac: Evac) -> None:
    resident = evac.h.subscribe(IN_USHIOE, lang="vi")
    evac.issue(level=3)
    [order] = evac.portal(resident)["places"][0]["evacuation"]["orders"]
    assert order["lang"] == "vi"
    assert order["title"] == "[Cấp độ cảnh báo 3] Sơ tán người cao tuổi và người cần hỗ trợ (高知市)"
    assert order["area_label"] == "潮江地区 (高知市)" and "Những người khác hãy chuẩn bị sơ tán." in order["body"]
