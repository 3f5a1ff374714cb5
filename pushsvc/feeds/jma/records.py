"""The normalised shape of a telegram: per-municipality status, and what the telegram is authoritative for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pushsvc.feeds.jma.common import Telegram
from pushsvc.types import Severity

Category = Literal["weather", "landslide", "river", "quake_tsunami"]


@dataclass(frozen=True)
class AreaStatus:
    """What one telegram says is in force for one municipality on one topic (rank 0 is never stored)."""

    n03_code: str
    topic: str  # weather:大雨, landslide, river:<予報区域>, quake:<EventID>, tsunami
    category: Category
    kind_name: str
    kind_en: str
    kind_code: str
    rank: int  # higher = more severe within the topic
    severity: Severity
    detail_ja: str = ""
    detail_en: str = ""
    level: int | None = None  # 警戒レベル相当, from pushsvc.alerts.levels
    area_name: str = ""  # the JMA area the status was stated for (津波予報区 高知県), when not the town itself


@dataclass(frozen=True)
class Snapshot:
    """A telegram reduced to statuses, plus what it is authoritative for.

    A previous status of a covered municipality on an in-scope topic that the telegram no longer lists has
    been lifted. ``covered=None`` means every municipality (tsunami, river forecasts list all of theirs).
    """

    telegram: Telegram
    event_id: str
    statuses: tuple[AreaStatus, ...]
    covered: frozenset[str] | None
    scope_prefix: str  # "" = implies no lifting (quake information only ever adds)
    scope_topics: frozenset[str] | None = None

    def in_scope(self, n03_code: str, topic: str) -> bool:
        if not self.scope_prefix or not topic.startswith(self.scope_prefix):
            return False
        if self.scope_topics is not None and topic not in self.scope_topics:
            return False
        return self.covered is None or n03_code in self.covered
