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

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from pushsvc import i18n
from pushsvc.feeds.river.models import JST, Stage, Station

Severity = Literal["info", "warning", "emergency"]
ATTRIBUTION = "国土交通省「川の防災情報」"


@dataclass(frozen=True)
class StageText:
    name_ja: str
    alert_level: int
    severity: Severity


# The wording, in every language, is in the message catalogue (pushsvc.i18n: stage.*, river.action.N).
STAGE_TEXT: dict[Stage, StageText] = {
    Stage.EVACUATION: StageText("避難判断水位", 3, "warning"),
    Stage.DANGER: StageText("氾濫危険水位", 4, "emergency"),
    Stage.FLOODING: StageText("氾濫発生水位", 5, "emergency"),
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
    # Title and body in every language of the catalogue (pushsvc.i18n); ja/en equal title_ja/title_en…
    title: dict[str, str] = field(default_factory=dict, compare=False)
    body: dict[str, str] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO 8601 time, lists); the per-language texts are left to the notification."""
        doc = asdict(self)
        del doc["title"], doc["body"]
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


def _stage_msg(station: Station, stage: Stage) -> i18n.Msg:
    kriver = stage_name_ja(station, stage) == "危険水位"
    return i18n.Msg("stage.danger_kriver" if kriver else f"stage.{stage.name.lower()}")


def _station_names(station: Station) -> dict[str, str]:
    """The Japanese label for Japanese, 'name (river)' for every other language (names stay Japanese)."""
    river_en = f" ({station.river})" if station.river else ""
    return {"ja": station.label, "en": f"{station.name}{river_en}"}


def _when_by_lang(at: datetime) -> dict[str, str]:
    local = at.astimezone(JST)
    return {"ja": _when(at), "en": f"{local.month}/{local.day} {local:%H:%M}"}


def _texts(title: dict[str, str], body: dict[str, str]) -> dict[str, Any]:
    return {"title_ja": title["ja"], "body_ja": body["ja"], "title_en": title["en"], "body_en": body["en"],
            "title": title, "body": body}


def rise_alert(station: Station, stage: Stage, level: float, threshold: float, at: datetime) -> RiverAlert:
    text = STAGE_TEXT[stage]
    stage_msg = _stage_msg(station, stage)
    common: dict[str, i18n.Param] = {"station": _station_names(station), "stage": stage_msg}
    title = i18n.texts("river.rise.title", **common)
    body = i18n.texts("river.rise.body", **common, level=f"{level:.2f}", time=_when_by_lang(at),
                      threshold=f"{threshold:.2f}", action=i18n.Msg(f"river.action.{text.alert_level}"))
    return RiverAlert(
        **_base(station, stage, "rise", at),
        severity=text.severity,
        alert_level=text.alert_level,
        level=level,
        threshold=threshold,
        **_texts(title, body),
    )


def fall_alert(station: Station, stage: Stage, level: float | None, threshold: float, at: datetime) -> RiverAlert:
    start = station.thresholds.start
    now: i18n.Param
    if level is None:
        now = i18n.Msg("river.below_start_at", start=f"{start:.2f}") if start is not None \
            else i18n.Msg("river.below_start")
    else:
        now = {"ja": f"{level:.2f}m", "en": f"{level:.2f} m"}
    common: dict[str, i18n.Param] = {"station": _station_names(station), "stage": _stage_msg(station, stage)}
    title = i18n.texts("river.fall.title", **common)
    body = i18n.texts("river.fall.body", **common, level=now, time=_when_by_lang(at), threshold=f"{threshold:.2f}")
    return RiverAlert(
        **_base(station, stage, "fall", at),
        severity="info",
        alert_level=None,
        level=level,
        threshold=threshold,
        **_texts(title, body),
    )
