"""緊急地震速報 and earthquake reports pushed in over HTTP, as a relay sends them, to residents' phones.

Kochi telegrams are built from real JMA ones (tests/feeds/jma/kochi_seismic.py); the phones are the local
RFC 8030 push service, which checks VAPID and decrypts.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from pushsvc.delivery.models import Notification
from pushsvc.feeds.poller import Poller, SourcePoller
from pushsvc.feeds.sources import SourceConfig
from tests.feeds.jma import kochi_seismic as tg
from tests.feeds.jma.kochi import CODES
from tests.feeds.seismic_harness import Seismic, seismic
from tests.feeds.test_jma_poller import JmaPublisher
from tests.fixtures.delivery import KOCHI_KENCHO

__all__ = ["seismic"]

KOCHI, NANKOKU, OTOYO, MUROTO, SHIMANTO, KAMI = "39201", "39204", "39344", "39202", "39210", "39212"


def _count(s: Seismic) -> int:
    with s.h.db.sessionmaker() as db:
        return int(db.execute(select(func.count()).select_from(Notification)).scalar_one())


def test_eew_reaches_exactly_the_warned_areas_at_high_urgency_with_a_short_ttl(seismic: Seismic) -> None:
    s = seismic
    kochi = s.resident(KOCHI)
    otoyo = s.resident(OTOYO)
    visiting = s.resident(SHIMANTO, current=KOCHI_KENCHO)  # lives in 西部, in 高知市 today
    both = s.resident(NANKOKU, MUROTO)  # 中部 and 東部: one message however many serials warn its areas
    muroto = s.resident(MUROTO)
    shimanto = s.resident(SHIMANTO)

    first = s.accept(tg.eew(("631",), serial="1"))
    assert [n["municipalities"] for n in first["notifications"]] and first["duplicate"] is False
    s.deliver()
    for r in (kochi, otoyo, visiting, both):
        [msg] = s.got(r)
        assert msg.urgency == "high" and 0 < msg.ttl <= 60
        assert msg.topic == s.got(kochi)[0].topic  # one Topic per earthquake: later serials replace it
        assert msg.json()["title"] == "緊急地震速報 強い揺れに警戒 高知県中部"
        assert "土佐湾" in msg.json()["body"] and "M7.2" in msg.json()["body"]
        assert msg.json()["severity"] == "emergency"
    assert s.got(muroto) == [] and s.got(shimanto) == []

    s.accept(tg.eew(("631", "630"), serial="2"))  # the warning widens to 高知県東部
    s.accept(tg.eew(("631", "630"), serial="3", final=True))  # 最終報: nothing new to say
    s.accept(tg.eew(("631",), serial="4", title="緊急地震速報（予報）"))  # 予報 (VXSE44) is never pushed
    s.deliver()
    [widened] = s.got(muroto)
    assert widened.json()["title"] == "緊急地震速報 強い揺れに警戒 高知県中部・高知県東部"
    assert len(s.got(both)) == 1 and len(s.got(kochi)) == 1 and s.got(shimanto) == []

    s.accept(tg.eew(("631", "630"), serial="5", info_type="取消"))
    s.deliver()
    for r in (kochi, otoyo, visiting, both, muroto):
        assert "取り消されました" in s.got(r)[-1].json()["body"]
    assert s.got(shimanto) == []


def test_a_distant_quake_felt_at_intensity_1_to_2_reaches_no_one_at_the_default(seismic: Seismic) -> None:
    """The real 2024-01-01 能登半島地震 report lists 高知市 at 震度2: only a resident who asked for 震度1 hears."""
    s = seismic
    defaults = [s.resident(KOCHI), s.resident(MUROTO), s.resident(OTOYO, KOCHI)]
    curious = s.resident(KOCHI, min_intensity="1")
    r = s.accept(tg.noto_in_kochi())  # 430 kB: over the ordinary 64 kB body limit, within the telegram one
    s.deliver()
    assert all(s.got(d) == [] for d in defaults)
    [msg] = s.got(curious)
    assert msg.json()["title"] == "震源・震度情報 高知市で震度2" and "石川県能登地方" in msg.json()["body"]
    assert len(r["notifications"]) == 1


def test_shindo_then_report_one_message_per_report_the_second_replacing_the_first(seismic: Seismic) -> None:
    """震度速報 for 中部 at 5強, then the 震源・震度情報 putting 大豊町 at 4: the overstatement is corrected."""
    s = seismic
    kochi = s.resident(KOCHI)
    otoyo = s.resident(OTOYO)
    two_towns = s.resident(OTOYO, MUROTO)  # 中部 and 東部 (not shaken): one message per report
    muroto = s.resident(MUROTO)
    only_strong = s.resident(KAMI, min_intensity="5強")  # 香美市 (中部) wants 5強 and more

    s.accept(tg.shindo({"631": "5+"}))
    s.deliver()
    firsts = {r.id: s.got(r) for r in (kochi, otoyo, two_towns, only_strong)}
    assert all(len(m) == 1 for m in firsts.values())
    for msgs in firsts.values():
        body = msgs[0].json()["body"]
        assert "高知県中部で震度5強を観測しました" in body and "震源" in body
        assert msgs[0].topic == firsts[kochi.id][0].topic
    assert "大豊町を含む地域" in firsts[otoyo.id][0].json()["body"]
    assert s.got(muroto) == []

    s.accept(tg.report({"3920100": "5+", "3934400": "4"}))  # 香美市 not listed
    s.deliver()
    for r, town, value in ((kochi, "高知市", "震度5強"), (otoyo, "大豊町", "震度4"), (two_towns, "大豊町", "震度4")):
        first, second = s.got(r)
        assert second.topic == first.topic  # the push service and the phone replace the first with it
        assert second.json()["title"] == f"震源・震度情報 {town}で{value}"
        body = second.json()["body"]
        assert f"{town}で{value}を観測しました" in body and "震源は土佐湾（深さ約10km）" in body
        assert "M5.9" in body and "津波の心配はありません" in body
    first, second = s.got(only_strong)  # reached by the first: told its own town is not listed
    assert "香美市の震度は、この情報では発表されていません" in second.json()["body"]
    assert s.got(muroto) == []

    n = _count(s)
    assert s.push(tg.report({"3920100": "5+", "3934400": "4"})).status_code == 200  # the relay retries
    assert _count(s) == n


def test_a_polled_report_is_processed_as_a_pushed_one(seismic: Seismic) -> None:
    """The Atom poller hands the same telegram to the same ingest: the same words reach the same residents."""
    s = seismic
    otoyo, muroto = s.resident(OTOYO), s.resident(MUROTO)
    jma = JmaPublisher()
    with jma.server.running():
        jma.publish(tg.report({"3934400": "4"}, event_id="20261201120000"), "VXSE53", office="010000")
        cfg = SourceConfig(
            name="jma-eqvol",
            kind="jma_atom",
            url=jma.server.url + "/feed.xml",
            interval_s=0.05,
            timeout_s=2.0,
            options={"codes_dir": str(CODES), "offices": ["010000"]},
        )

        async def poll() -> None:
            async with Poller.client() as client:
                result = await SourcePoller(cfg, s.h.settings, s.h.db.sessionmaker, client).poll_once()
                assert result.ok, result.error

        asyncio.run(poll())
    s.accept(tg.report({"3934400": "4"}, event_id="20261201130000"))  # the same report, another quake, pushed
    s.deliver()
    polled, pushed = (m.json() for m in s.got(otoyo))
    assert polled["title"] == pushed["title"] == "震源・震度情報 大豊町で震度4"
    assert s.got(muroto) == []
