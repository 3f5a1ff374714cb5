"""``RiverAlert``: what the engine hands the notification side, with its Japanese and English text.

Severity, and why (Japan's 5-level 警戒レベル, which residents already know from TV and municipal alerts):
- 避難判断水位 (Lv3 相当, 高齢者等避難)            → ``warning``
- 氾濫危険水位 / k.river 危険水位 (Lv4 相当, 避難指示) → ``emergency``: everyone must leave dangerous places
  now; Lv4 is the last level at which evacuating is still safe, so it must not look like a Lv3 notice.
- 氾濫発生水位 (Lv5 相当, 緊急安全確保)            → ``emergency``
- the water falling back below a level            → ``info``
``alert_level`` keeps the 3/4/5 distinction for clients that want it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from pushsvc.feeds.river.models import Stage, Station
from pushsvc.timeutil import JST

Severity = Literal["info", "warning", "emergency"]
ATTRIBUTION = "国土交通省「川の防災情報」"


@dataclass(frozen=True)
class StageText:
    name_ja: str
    name_en: str
    alert_level: int
    severity: Severity
    action_ja: str
    action_en: str


STAGE_TEXT: dict[Stage, StageText] = {
    Stage.EVACUATION: StageText(
        "避難判断水位",
        "evacuation judgement level",
        3,
        "warning",
        "高齢者等は危険な場所から避難してください（警戒レベル3相当：高齢者等避難）。",
        "Older people and anyone who needs time to evacuate should leave dangerous places now "
        "(equivalent to alert level 3).",
    ),
    Stage.DANGER: StageText(
        "氾濫危険水位",
        "flood danger level",
        4,
        "emergency",
        "危険な場所から全員避難してください（警戒レベル4相当）。",
        "Everyone must evacuate from dangerous places now (equivalent to alert level 4).",
    ),
    Stage.FLOODING: StageText(
        "氾濫発生水位",
        "flooding level",
        5,
        "emergency",
        "氾濫が発生しているおそれがあります。命の危険があります。直ちに身の安全を確保してください（警戒レベル5相当）。",
        "Flooding may already be happening and lives are in danger: take the safest action immediately "
        "(equivalent to alert level 5).",
    ),
}


def stage_name_ja(station: Station, stage: Stage) -> str:
    """k.river calls the crisis gauges' danger threshold 危険水位; kawabou says 氾濫危険水位."""
    if stage is Stage.DANGER and station.source == "k.river":
        return "危険水位"
    return STAGE_TEXT[stage].name_ja


@dataclass(frozen=True)
class RiverAlert:
    """One notification-worthy change at one station; ``id`` is deterministic so re-runs dedupe."""

    id: str
    kind: Literal["rise", "fall"]
    station_code: str
    station_name: str
    river: str | None
    stage: str  # "evacuation" | "danger" | "flooding": the threshold crossed
    severity: Severity
    alert_level: int | None  # 警戒レベル相当 for rises
    level: float | None  # None: the gauge fell below its start level (left the k.river feed)
    threshold: float
    observed_at: datetime  # aware UTC
    topic: str
    municipalities: tuple[str, ...]  # N03 codes: own municipality, then downstream
    title_ja: str
    body_ja: str
    title_en: str
    body_en: str
    attribution: str = ATTRIBUTION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO 8601 time, lists)."""
        doc = asdict(self)
        doc["observed_at"] = self.observed_at.isoformat()
        doc["municipalities"] = list(self.municipalities)
        return doc


def topic_for_station(code: str) -> str:
    """One topic per station: a newer message about the same gauge replaces the older one on the phone."""
    return f"river-{code}"


def _when(at: datetime) -> str:
    local = at.astimezone(JST)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def _base(station: Station, stage: Stage, kind: Literal["rise", "fall"], at: datetime) -> dict[str, Any]:
    return {
        "id": f"river-{station.code}-{kind}-{stage.name.lower()}-{at:%Y%m%dT%H%M%SZ}",
        "kind": kind,
        "station_code": station.code,
        "station_name": station.name,
        "river": station.river,
        "stage": stage.name.lower(),
        "observed_at": at,
        "topic": topic_for_station(station.code),
        "municipalities": station.targets,
    }


def rise_alert(station: Station, stage: Stage, level: float, threshold: float, at: datetime) -> RiverAlert:
    text = STAGE_TEXT[stage]
    name_ja = stage_name_ja(station, stage)
    river_en = f" ({station.river})" if station.river else ""
    return RiverAlert(
        **_base(station, stage, "rise", at),
        severity=text.severity,
        alert_level=text.alert_level,
        level=level,
        threshold=threshold,
        title_ja=f"【{name_ja}超過】{station.label}",
        body_ja=(
            f"{station.label}の水位が{level:.2f}m（{_when(at)}観測）となり、{name_ja}（{threshold:.2f}m）を"
            f"超えました。{text.action_ja}"
        ),
        title_en=f"River above {text.name_en}: {station.name}{river_en}",
        body_en=(
            f"The water level at {station.name}{river_en} is {level:.2f} m, above the {text.name_en} "
            f"({threshold:.2f} m). {text.action_en}"
        ),
    )


def fall_alert(station: Station, stage: Stage, level: float | None, threshold: float, at: datetime) -> RiverAlert:
    name_ja = stage_name_ja(station, stage)
    name_en = STAGE_TEXT[stage].name_en
    river_en = f" ({station.river})" if station.river else ""
    start = station.thresholds.start
    if level is None:
        now_ja = f"観測開始水位（{start:.2f}m）未満" if start is not None else "観測開始水位未満"
        now_en = "below the gauge's observation start level"
    else:
        now_ja, now_en = f"{level:.2f}m", f"{level:.2f} m"
    return RiverAlert(
        **_base(station, stage, "fall", at),
        severity="info",
        alert_level=None,
        level=level,
        threshold=threshold,
        title_ja=f"【水位低下】{station.label}：{name_ja}を下回りました",
        body_ja=(
            f"{station.label}の水位は{now_ja}（{_when(at)}観測）で、{name_ja}（{threshold:.2f}m）を下回りました。"
            "再び上昇するおそれがあります。川には近づかず、市町村の避難情報に従ってください。"
        ),
        title_en=f"River back below {name_en}: {station.name}{river_en}",
        body_en=(
            f"The water level at {station.name}{river_en} is {now_en}, back below the {name_en} "
            f"({threshold:.2f} m). It may rise again: stay away from the river and follow your municipality's "
            "evacuation information."
        ),
    )
