"""Each broken feed the issue found, served over loopback HTTP through the real poller and delivery worker:
no resident message from any of them, the other gauges' and telegrams' alerts still go out, and
``/api/v1/feeds`` names the failing source and why."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from pushsvc.dev.localfeed import AREA_INFO_PATH, LocalFeedServer, Misbehaviour
from pushsvc.feeds.sources import SourceConfig
from pushsvc.main import create_app
from tests.feeds.conftest import PollDriver, kriver_source
from tests.feeds.jma.kochi import AKI, CODES, KOCHI, kochi_warning, rewrite, sample
from tests.feeds.jma.publisher import JmaPublisher
from tests.feeds.river.conftest import GAUGES_CSV, river_file
from tests.fixtures.delivery import Harness, Resident

KAJIYA = "3900000050"  # 鍛冶屋瀬橋, 四万十町 39412: start 206.81, danger 212.71
SHIINA = "3900000064"  # 椎名, 室戸市 39202: start 4.00, danger 8.12
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _gauges() -> dict[str, dict[str, str]]:
    with river_file("stations", GAUGES_CSV.name).open(encoding="utf-8-sig") as fh:
        return {r["code"]: r for r in csv.DictReader(fh)}


def item(code: str, level: float, minutes: int, *, obs_time: str | None = None) -> dict[str, Any]:
    g = _gauges()[code]
    at = obs_time or (T0 + timedelta(minutes=minutes)).astimezone().isoformat()
    return {
        "code": code,
        "name": g["name"],
        "obsTime": at,
        "level": level,
        "townCode": g["townCode"],
        "prefCode": "39000",
        "startLevel": float(g["startLevel_観測開始水位"]),
        "fladLevel": float(g["fladLevel_危険水位"]),
        "warnLevel": None,
    }


class RiverFeed:
    """A k.river area_info that serves whatever ``body`` is now."""

    def __init__(self) -> None:
        self.body = b"[]"
        self.server = LocalFeedServer({AREA_INFO_PATH: lambda: self.body})

    def serve(self, doc: Any) -> None:
        self.body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()  # NaN/Infinity as JS tokens


def _health(harness: Harness, name: str) -> dict[str, Any]:
    return next(s for s in harness.client.get("/api/v1/feeds").json()["sources"] if s["name"] == name)


def _got(harness: Harness, *people: Resident) -> list[list[str]]:
    return [[m.json()["title"] for m in harness.push.received(r.device)] for r in people]


def test_wrong_shape_after_a_danger_alert_is_a_feed_error_not_an_all_clear(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    feed = RiverFeed()
    with feed.server.running():
        town = [harness.subscribe("39412") for _ in range(2)]
        driver = driver_factory(kriver_source(feed.server.url + AREA_INFO_PATH))
        feed.serve([item(KAJIYA, 212.0, 0)])
        assert driver.poll().ok
        feed.serve([item(KAJIYA, 213.0, 10)])
        assert [a.kind for a in driver.poll().sent] == ["rise"]
        for broken in ({"foo": [1, 2]}, [{"foo": 1}], "gauges", 42):
            feed.serve(broken)
            result = driver.poll()
            assert not result.ok and "not a k.river area_info document" in (result.error or ""), broken
            assert result.sent == []
        harness.run_worker()
        health = _health(harness, "kochi-kriver")
    assert _got(harness, *town) == [["【危険水位超過・警戒レベル4相当】鍛冶屋瀬橋"]] * 2  # no false "fell below"
    assert health["status"] == "failing" and "not a k.river area_info document" in health["last_error"]
    listed = harness.client.get("/api/v1/alerts", params={"municipality": "39412"}).json()["alerts"]
    assert [a["level"] for a in listed] == [4]  # nothing concluded: the danger alert is still in force


def test_non_finite_out_of_range_and_future_readings_are_rejected_one_by_one(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    feed = RiverFeed()
    with feed.server.running():
        shimanto, muroto = harness.subscribe("39412"), harness.subscribe("39202")
        driver = driver_factory(kriver_source(feed.server.url + AREA_INFO_PATH))
        steps: list[tuple[Any, Any]] = [
            (212.0, 5.0),  # 椎名 reports from 2099: rejected, and it must not freeze the gauge
            (213.0, 7.9),
            (float("nan"), 8.5),  # one gauge NaN: the other's danger alert in the same document still goes out
            (float("inf"), 8.6),
            (-1e308, 8.7),
            (float("-inf"), 8.7),
        ]
        problems: list[list[str]] = []
        for i, (kajiya, shiina) in enumerate(steps):
            doc = [
                item(KAJIYA, kajiya, 10 * i),
                item(SHIINA, shiina, 10 * i, obs_time="2099-01-01T00:00:00+09:00" if i == 0 else None),
            ]
            feed.serve(doc)
            result = driver.poll()
            assert result.ok, result.error
            problems.append(_health(harness, "kochi-kriver")["problems"])
        harness.run_worker()
        health = _health(harness, "kochi-kriver")
    assert _got(harness, shimanto) == [["【危険水位超過・警戒レベル4相当】鍛冶屋瀬橋"]]  # and no "fell below"
    assert _got(harness, muroto) == [["【危険水位超過・警戒レベル4相当】椎名"]]
    assert "in the future" in problems[0][0] and SHIINA in problems[0][0]
    assert problems[1] == []
    assert all(KAJIYA in p[0] for p in problems[2:])
    assert "not a finite number" in problems[2][0] and "outside" in problems[4][0]
    assert (health["status"], health["healthy"]) == ("degraded", False)
    stations = {s["code"]: s for s in harness.client.get("/api/v1/rivers/stations").json()["stations"]}
    assert stations[KAJIYA]["level"] == 213.0 and stations[SHIINA]["level"] == 8.7


def test_a_gauge_vanishing_at_8_6_m_sends_nothing_and_shows_as_no_data(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    feed = RiverFeed()
    with feed.server.running():
        muroto = harness.subscribe("39202")
        driver = driver_factory(kriver_source(feed.server.url + AREA_INFO_PATH))
        for i, level in enumerate((6.0, 7.5, 8.6)):
            feed.serve([item(SHIINA, level, 10 * i), item(KAJIYA, 207.0, 10 * i)])
            assert driver.poll().ok
        for i in range(3, 6):  # gone: but 椎名 cannot have fallen 4.6 m in half an hour
            feed.serve([item(KAJIYA, 207.0, 10 * i)])
            assert driver.poll().ok
        harness.run_worker()
        health = _health(harness, "kochi-kriver")
    assert _got(harness, muroto) == [["【危険水位超過・警戒レベル4相当】椎名"]]
    assert health["healthy"] is False and any(SHIINA in p and "no data" in p for p in health["problems"])


def test_broken_telegram_links_are_retried_on_their_own_and_never_block_the_others(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    jma = JmaPublisher()
    evil = "/data/20260602120300_9_VPWW54_390000.xml"  # named like a Kochi telegram, on another host
    other = LocalFeedServer({evil: kochi_warning({KOCHI: [("大雨特別警報", "33", "発表")]})})
    with jma.server.running(), other.running():
        kochi, aki = harness.subscribe(KOCHI[:5]), harness.subscribe(AKI[:5])
        missing = jma.publish(None, "VPWW54", title="気象警報・注意報")  # 404 for now
        hanging = jma.publish(b"<never/>", "VXKO50")
        jma.server.route_misbehaviour[hanging] = Misbehaviour(hang_s=3.0)
        jma.publish(rewrite(sample("landslide/17_04_01_250630_VXWW50.xml"), {"1420600": KOCHI}), "VXWW50")
        foreign = other.url.replace("127.0.0.1", "localhost")
        jma.publish(None, "VPWW54", link=foreign + evil)  # a link to a host the source does not allow
        redirected = jma.publish(None, "VPWW54")
        jma.server.route_misbehaviour[redirected] = Misbehaviour(redirect=foreign + evil)
        driver = driver_factory(jma.source())
        started = time.monotonic()
        first = driver.poll()
        assert first.ok, first.error
        assert [(a.kind, a.municipalities) for a in first.sent] == [("issued", ("39201",))]
        assert time.monotonic() - started < 2.5  # the hanging one timed out on its own (1 s)
        health = _health_of(harness, jma)
        assert health["status"] == "degraded" and not health["healthy"]
        text = "\n".join(health["problems"])
        assert "HTTP 404" in text and "within 1 s" in text and "allowed_hosts" in text

        jma.server.routes[missing] = kochi_warning({AKI: [("大雨警報", "03", "発表")]})  # JMA fixes its server
        del jma.server.route_misbehaviour[hanging]
        time.sleep(0.25)  # the first retry is due after interval × 2
        again = driver.poll()
        assert [(a.kind, a.municipalities) for a in again.sent] == [("issued", ("39203",))]
        harness.run_worker()
        health = _health_of(harness, jma)
    assert _got(harness, kochi) == [["【警戒レベル4相当】土砂災害警戒情報（発表）"]]  # never the foreign 特別警報
    assert _got(harness, aki) == [["【警戒レベル3相当】大雨警報（発表）"]]
    assert all("not fetched" not in p for p in health["problems"]), health["problems"]  # the retried ones are done
    assert sum("allowed_hosts" in p for p in health["problems"]) == 2, health["problems"]  # link and redirect


def _health_of(harness: Harness, jma: JmaPublisher) -> dict[str, Any]:
    return _health(harness, "jma-extra")


def test_overall_health_is_unhealthy_while_any_configured_source_is(
    harness: Harness, tmp_path: Path, driver_factory: Callable[..., PollDriver]
) -> None:
    feed = RiverFeed()
    with feed.server.running():
        feed.serve([item(KAJIYA, 207.0, 0)])
        url = feed.server.url + AREA_INFO_PATH
        feeds = tmp_path / "feeds.toml"
        feeds.write_text(
            f'[[source]]\nname = "kochi-kriver"\nkind = "kriver_area"\nurl = "{url}"\n'
            f'stations_file = "{river_file("stations", GAUGES_CSV.name)}"\n'
            '[[source]]\nname = "never"\nkind = "jma_atom"\nurl = "http://127.0.0.1:9/feed.xml"\n',
            encoding="utf-8",
        )
        settings = harness.settings.model_copy(update={"feeds_file": feeds})
        assert driver_factory(kriver_source(url), settings).poll().ok
        never = driver_factory(
            SourceConfig(
                name="never",
                kind="jma_atom",
                url="http://127.0.0.1:9/feed.xml",
                interval_s=0.05,
                timeout_s=0.5,
                options={"codes_dir": str(CODES)},
            ),
            settings,
        )
        assert not never.poll().ok
        with TestClient(create_app(settings)) as client:
            body = client.get("/api/v1/feeds").json()
    by_name = {s["name"]: s for s in body["sources"]}
    assert body["healthy"] is False
    assert (by_name["kochi-kriver"]["status"], by_name["kochi-kriver"]["healthy"]) == ("ok", True)
    assert (by_name["never"]["status"], by_name["never"]["healthy"]) == ("never succeeded", False)
    assert by_name["never"]["last_error"]


def test_a_source_gone_silent_keeps_its_alerts_listed_but_flagged_stale(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    feed = RiverFeed()
    settings = harness.settings.model_copy(update={"feed_unhealthy_after_s": 0.2, "feed_max_backoff_s": 0.1})
    with feed.server.running():
        driver = driver_factory(kriver_source(feed.server.url + AREA_INFO_PATH), settings)
        feed.serve([item(KAJIYA, 212.0, 0)])
        assert driver.poll().ok
        feed.serve([item(KAJIYA, 213.0, 10)])
        assert driver.poll().ok
        feed.server.misbehaviour = Misbehaviour(status=503)
        time.sleep(0.3)
        assert not driver.poll().ok
        [silent] = _listed_in(harness, "39412")
        with TestClient(create_app(settings)) as client:
            [health] = client.get("/api/v1/feeds").json()["sources"]
        feed.server.misbehaviour = None
        feed.serve([item(KAJIYA, 213.1, 20)])
        assert driver.poll().ok
        [back] = _listed_in(harness, "39412")
    assert (silent["level"], silent["stale"]) == (4, True)  # still the gauge's last word, marked as such
    assert health["stale_alerts"] == 1 and health["healthy"] is False
    assert back["stale"] is False and back["id"] == silent["id"]


def _listed_in(harness: Harness, code: str) -> list[dict[str, Any]]:
    return harness.client.get("/api/v1/alerts", params={"municipality": code}).json()["alerts"]
