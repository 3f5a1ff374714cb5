"""A kawabou (水位周知河川) station with five thresholds, polled over loopback HTTP as a live feed: 避難判断
(Lv3), 氾濫危険 (Lv4) and 氾濫発生 (Lv5) alerts reach the residents of its municipality, once each."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pushsvc.dev.localfeed import LocalFeedServer
from pushsvc.feeds.sources import SourceConfig
from tests.conftest import SHARED
from tests.feeds.conftest import PollDriver
from tests.fixtures.delivery import Harness

THRESHOLDS = SHARED / "samples" / "river" / "stations" / "kochi_kawabou_thresholds_from_livecam-jp.json"
EDAGAWA = "0998500400017"  # 枝川 (宇治川): rsrv 1.9, warn 2.2, spcl 2.8, dng 3.4, fld 3.85
PATH = "/kawabou/file/files/obslist/twninfo/tm/stg/3901.json"


def _doc(level: float, minutes: int, *, other: float | str = 1.0) -> bytes:
    at = (datetime.now(UTC) - timedelta(hours=2) + timedelta(minutes=minutes)).astimezone()
    stamp = at.strftime("%Y/%m/%d %H:%M")
    return json.dumps(
        {
            "prefTwn": [
                {
                    "twnCd": "39",
                    "stg": [
                        {"obsFcd": EDAGAWA, "obsTime": stamp, "stg": level},
                        {"obsFcd": "0998500400018", "obsTime": stamp, "stg": other},  # 柳瀬: another station, quiet
                    ],
                }
            ]
        }
    ).encode()


def test_kawabou_station_levels_become_lv3_lv4_lv5_alerts_and_the_fall_lifts_them(
    harness: Harness,
    driver_factory: Callable[..., PollDriver],
) -> None:
    body = {"doc": _doc(2.0, 0)}
    server = LocalFeedServer({PATH: lambda: body["doc"]})
    with server.running():
        driver = driver_factory(
            SourceConfig(
                name="kochi-kawabou",
                kind="kawabou",
                url=server.url + PATH,
                interval_s=0.05,
                timeout_s=1.0,
                options={"stations_file": str(THRESHOLDS)},
            )
        )
        assert driver.poll().ok
        stations = {s["code"]: s for s in harness.client.get("/api/v1/rivers/stations").json()["stations"]}
        town = stations[EDAGAWA]["municipality_code"]
        assert stations[EDAGAWA]["thresholds"] == {
            "start": None,
            "standby": 1.9,
            "caution": 2.2,
            "evacuation": 2.8,
            "danger": 3.4,
            "flooding": 3.85,
        }
        residents = [harness.subscribe(town) for _ in range(2)]
        listed: list[list[int | None]] = []
        for i, level in enumerate((2.5, 2.9, 3.2, 3.5, 3.9, 3.7, 2.5), start=1):
            body["doc"] = _doc(level, 10 * i, other="" if i == 3 else 1.0)  # a missing value: ignored
            result = driver.poll()
            assert result.ok, result.error
            listed.append(
                [
                    a["level"]
                    for a in harness.client.get("/api/v1/alerts", params={"municipality": town}).json()["alerts"]
                ]
            )
        harness.run_worker()
    titles = [
        [m.json()["title"] for m in sorted(harness.push.received(r.device), key=lambda m: int(m.json()["id"]))]
        for r in residents
    ]
    assert (
        titles[0]
        == titles[1]
        == [
            "【避難判断水位超過・警戒レベル3相当】枝川（宇治川）",
            "【氾濫危険水位超過・警戒レベル4相当】枝川（宇治川）",
            "【氾濫発生水位超過・警戒レベル5相当】枝川（宇治川）",
            "【水位低下】枝川（宇治川）：氾濫発生水位を下回りました",
        ]
    )
    assert listed == [[], [3], [3], [4], [5], [5], []]  # what is in force, gauge by gauge, then nothing
