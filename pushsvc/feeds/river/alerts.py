"""``RiverAlert``: what the engine hands the notification side, with its Japanese and English text.

Level, action and severity come from the one table in ``pushsvc.alerts.levels`` (避難判断水位 Lv3 → warning;
氾濫危険水位 / k.river 危険水位 Lv4 → emergency; 氾濫発生水位 Lv5 → emergency), so a gauge and a JMA flood
forecast of the same level say the same thing. Falling back below a level says which level (if any) is
still in force, with that level's severity, or ``info`` when none is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from pushsvc import i18n
from pushsvc.alerts.levels import Product, level_label, product
from pushsvc.feeds.river.records import Stage, Station
from pushsvc.timeutil import JST
from pushsvc.types import Severity

ATTRIBUTION = "国土交通省「川の防災情報」"
STAGE_PRODUCT = {Stage.EVACUATION: "避難判断水位", Stage.DANGER: "氾濫危険水位", Stage.FLOODING: "氾濫発生水位"}
STAGE_EN = {
    Stage.EVACUATION: "evacuation judgement level",
    Stage.DANGER: "flood danger level",
    Stage.FLOODING: "flooding level",
}


def stage_name_ja(station: Station, stage: Stage) -> str:
    """k.river calls the crisis gauges' danger threshold 危険水位; kawabou says 氾濫危険水位."""
    if stage is Stage.DANGER and station.source == "k.river":
        return "危険水位"
    return STAGE_PRODUCT[stage]


def stage_product(station: Station, stage: Stage) -> Product:
    """The level table's row for a stage of this gauge."""
    return product(stage_name_ja(station, stage))


def _action(row: Product, lang: str) -> str:
    action = row.action
    if action is None or row.level is None:
        return ""
    return (
        f"【{level_label(row.level, 'ja')}】{action.ja}"
        if lang == "ja"
        else f"{level_label(row.level, 'en')}: {action.en}"
    )


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
    alert_level: int | None  # 警戒レベル相当 of what is in force after it (None: nothing)
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
    stage_after: str | None = None  # the stage in force after this alert (None: none, the gauge re-armed)
    # Title and body in every language of the catalogue (pushsvc.i18n); ja/en are title_ja/title_en…
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


def _level_action(row: Product | None) -> dict[str, str]:
    """【警戒レベルN相当】action in every language (the catalogue's words for ``_action``)."""
    if row is None or row.level is None or row.action is None:
        return {}
    return i18n.texts(
        "state.action", level=i18n.Msg("state.level", level=row.level), action=i18n.Msg(f"level.{row.level}.action")
    )


def _in_all_languages(alert: RiverAlert, title: dict[str, str], body: dict[str, str]) -> RiverAlert:
    """The alert with its texts in every language: its own Japanese and English, the catalogue's for the rest."""
    return replace(
        alert,
        title={**title, "ja": alert.title_ja, "en": alert.title_en},
        body={**body, "ja": alert.body_ja, "en": alert.body_en},
    )


def rise_alert(station: Station, stage: Stage, level: float, threshold: float, at: datetime) -> RiverAlert:
    row = stage_product(station, stage)
    name_ja, name_en = row.name_ja, STAGE_EN[stage]
    river_en = f" ({station.river})" if station.river else ""
    lv = f"・{level_label(row.level, 'ja')}" if row.level else ""
    alert = RiverAlert(
        **_base(station, stage, "rise", at),
        severity=row.severity,
        alert_level=row.level,
        level=level,
        threshold=threshold,
        title_ja=f"【{name_ja}超過{lv}】{station.label}",
        body_ja=(
            f"{station.label}の水位が{level:.2f}m（{_when(at)}観測）となり、{name_ja}（{threshold:.2f}m）を"
            f"超えました。{_action(row, 'ja')}"
        ),
        title_en=f"River above {name_en}: {station.name}{river_en}",
        body_en=(
            f"The water level at {station.name}{river_en} is {level:.2f} m, above the {name_en} "
            f"({threshold:.2f} m). {_action(row, 'en')}"
        ),
        stage_after=stage.name.lower(),
    )
    common: dict[str, i18n.Param] = {"station": _station_names(station), "stage": _stage_msg(station, stage)}
    prefix: dict[str, str] = (
        {
            lang: i18n.fragment("state.prefix", lang, level=i18n.Msg("state.level", level=row.level))
            for lang in i18n.LANGUAGES
        }
        if row.level
        else {}
    )
    title = {lang: prefix.get(lang, "") + text for lang, text in i18n.texts("river.rise.title", **common).items()}
    body = i18n.texts(
        "river.rise.body",
        **common,
        level=f"{level:.2f}",
        time=_when_by_lang(at),
        threshold=f"{threshold:.2f}",
        action=_level_action(row),
    )
    return _in_all_languages(alert, title, body)


def fall_alert(
    station: Station, stage: Stage, level: float | None, threshold: float, at: datetime, still: Stage | None = None
) -> RiverAlert:
    """Back below ``stage``; ``still`` is the stage that remains in force (its action is repeated)."""
    name_ja = stage_name_ja(station, stage)
    name_en = STAGE_EN[stage]
    river_en = f" ({station.river})" if station.river else ""
    remaining = stage_product(station, still) if still is not None else None
    start = station.thresholds.start
    if level is None:
        now_ja = f"観測開始水位（{start:.2f}m）未満" if start is not None else "観測開始水位未満"
        now_en = "below the gauge's observation start level"
    else:
        now_ja, now_en = f"{level:.2f}m", f"{level:.2f} m"
    still_ja = f"{remaining.name_ja}は超えています。{_action(remaining, 'ja')}" if remaining else ""
    still_en = f" It is still above the {STAGE_EN[still]}. {_action(remaining, 'en')}" if remaining and still else ""
    alert = RiverAlert(
        **_base(station, stage, "fall", at),
        severity=remaining.severity if remaining else "info",
        alert_level=remaining.level if remaining else None,
        level=level,
        threshold=threshold,
        title_ja=f"【水位低下】{station.label}：{name_ja}を下回りました",
        body_ja=(
            f"{station.label}の水位は{now_ja}（{_when(at)}観測）で、{name_ja}（{threshold:.2f}m）を下回りました。"
            f"{still_ja}再び上昇するおそれがあります。川には近づかず、市町村の避難情報に従ってください。"
        ),
        title_en=f"River back below {name_en}: {station.name}{river_en}",
        body_en=(
            f"The water level at {station.name}{river_en} is {now_en}, back below the {name_en} "
            f"({threshold:.2f} m).{still_en} It may rise again: stay away from the river and follow your "
            "municipality's evacuation information."
        ),
        stage_after=still.name.lower() if still is not None else None,
    )
    now: i18n.Param = (
        {"ja": now_ja, "en": now_en}
        if level is not None
        else (
            i18n.Msg("river.below_start_at", start=f"{start:.2f}")
            if start is not None
            else i18n.Msg("river.below_start")
        )
    )
    common: dict[str, i18n.Param] = {"station": _station_names(station), "stage": _stage_msg(station, stage)}
    body = i18n.texts("river.fall.body", **common, level=now, time=_when_by_lang(at), threshold=f"{threshold:.2f}")
    if remaining is not None and still is not None:
        body = i18n.join(body, i18n.texts("river.still", stage=_stage_msg(station, still)), _level_action(remaining))
    return _in_all_languages(alert, i18n.texts("river.fall.title", **common), body)
