"""Stations, thresholds and readings: the plain values every river adapter produces and the engine consumes.

Everything here is a frozen dataclass of strings, floats and timezone-aware UTC datetimes, so the poller can
log, store or ship it as JSON without knowing where it came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from functools import cached_property

from pushsvc.timeutil import JST

LEVEL_RANGE_M = (-100.0, 5000.0)  # any gauge datum in Japan (Kochi's highest crisis gauges read ~240 m)
FUTURE_TOLERANCE = timedelta(minutes=15)  # clock skew between the publisher and us


def reading_problem(level: float, at: datetime, now: datetime | None) -> str | None:
    """Why one reading cannot be used at all (None = usable): not a number, out of range, or from the future.

    Checked one by one so the rest of a snapshot is still used; a reading in the future would otherwise
    freeze its gauge (every later real reading looks older).
    """
    if not math.isfinite(level):
        return f"level {level!r} is not a finite number"
    if not LEVEL_RANGE_M[0] <= level <= LEVEL_RANGE_M[1]:
        return f"level {level:g} m is outside {LEVEL_RANGE_M[0]:g}…{LEVEL_RANGE_M[1]:g} m"
    if now is not None and at > now + FUTURE_TOLERANCE:
        return f"observed at {at.isoformat()}, in the future"
    return None


class Stage(IntEnum):
    """Where a level sits among the station's thresholds; ordered so that comparisons mean 'higher water'."""

    NORMAL = 0
    START = 1  # 観測開始水位 (crisis-management gauges only)
    STANDBY = 2  # 水防団待機水位 (Lv1)
    CAUTION = 3  # 氾濫注意水位 (Lv2)
    EVACUATION = 4  # 避難判断水位 (Lv3)
    DANGER = 5  # 氾濫危険水位 (Lv4; k.river 危険水位)
    FLOODING = 6  # 氾濫発生水位 (Lv5)


ALERT_STAGES: tuple[Stage, ...] = (Stage.EVACUATION, Stage.DANGER, Stage.FLOODING)


def parse_time(text: str) -> datetime:
    """Timestamps in the feeds are JST, with or without an offset ('2026-06-02T22:00:00+09:00',
    '2025/09/17 09:10', '2025-09-17 09:10:00', '2025-09-09'); return aware UTC."""
    text = text.strip().replace("/", "-")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=JST)
    return dt.astimezone(UTC)


def municipality_code(raw: str | int) -> str:
    """The 5-digit N03 / JIS X 0402 code from the forms feeds use.

    k.river ``townCode`` is already the 5-digit code as a string ("39202" = 室戸市), but numeric copies lose the
    leading zero (Hokkaido "1100"), JIS-with-check-digit is 6 digits ("392014") and JMA uses 7 ("3920200").
    """
    text = str(raw).strip()
    if not text.isdigit():
        raise ValueError(f"municipality code {raw!r} is not numeric")
    if (len(text) == 7 and text.endswith("0")) or len(text) == 6:
        text = text[:5]
    elif len(text) == 4:
        text = "0" + text
    if len(text) != 5 or not 1 <= int(text[:2]) <= 47:
        raise ValueError(f"municipality code {raw!r} is not a JIS municipality code")
    return text


@dataclass(frozen=True)
class Thresholds:
    """Threshold levels in metres on the station's own datum; ``None`` = not set for this station."""

    start: float | None = None
    standby: float | None = None
    caution: float | None = None
    evacuation: float | None = None
    danger: float | None = None
    flooding: float | None = None

    def of(self, stage: Stage) -> float | None:
        return {
            Stage.START: self.start,
            Stage.STANDBY: self.standby,
            Stage.CAUTION: self.caution,
            Stage.EVACUATION: self.evacuation,
            Stage.DANGER: self.danger,
            Stage.FLOODING: self.flooding,
        }.get(stage)

    def stage(self, level: float | None) -> Stage:
        """The highest stage whose threshold the level has reached (``None`` = below the start level)."""
        if level is None:
            return Stage.NORMAL
        reached = [s for s in Stage if s is not Stage.NORMAL and (t := self.of(s)) is not None and level >= t]
        return max(reached, default=Stage.NORMAL)


@dataclass(frozen=True)
class Station:
    """A gauge and who lives by it: its own municipality plus configured downstream ones."""

    code: str
    name: str
    municipality: str
    thresholds: Thresholds
    source: str  # "k.river" (crisis-management gauge) or "kawabou"
    river: str | None = None
    downstream: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None

    def stage(self, level: float | None) -> Stage:
        return self.thresholds.stage(level)

    @property
    def targets(self) -> tuple[str, ...]:
        """Municipalities to notify: own first, then downstream, each once."""
        return tuple(dict.fromkeys((self.municipality, *self.downstream)))

    @cached_property
    def alert_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in ALERT_STAGES if self.thresholds.of(s) is not None)

    @property
    def label(self) -> str:
        """'鍛冶屋瀬橋' or '伊野（仁淀川）' for messages."""
        return f"{self.name}（{self.river}）" if self.river else self.name

    def with_config(self, *, river: str | None = None, downstream: Iterable[str] = ()) -> Station:
        return replace(
            self,
            river=river or self.river,
            downstream=tuple(dict.fromkeys((*self.downstream, *(municipality_code(m) for m in downstream)))),
        )


@dataclass(frozen=True)
class Reading:
    """One observed level; ``level=None`` means 'listed as below its start level' (gone from k.river)."""

    station_code: str
    observed_at: datetime
    level: float | None


@dataclass(frozen=True)
class Snapshot:
    """One poll of one source. ``complete`` = the source lists every station above its start level, so a
    station of that source that is not listed has fallen below it (k.river area_info)."""

    source: str
    taken_at: datetime
    readings: tuple[Reading, ...] = field(default=())
    complete: bool = False
    label: str = ""  # where it came from (file, URL path), for logs
    unreadable: tuple[str, ...] = ()  # listed, but their reading was rejected: not "fell", just unknown now
