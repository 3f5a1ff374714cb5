"""What goes into the alert-state service (a source's statement) and what comes out (transitions, state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from pushsvc.alerts.levels import Product, product
from pushsvc.types import Severity

Change = Literal["issued", "raised", "lowered", "lifted", "cancelled", "corrected", "expired"]
Status = Literal["in_force", "lifted", "cancelled", "expired"]


@dataclass(frozen=True)
class Value:
    """What a source says is in force for one key: a product of the level table, and how severe it is.

    ``rank`` orders values of one phenomenon (raised/lowered); ``severity`` comes from the level unless the
    source has its own scale (震度, 津波) and no level.
    """

    product: str
    name_ja: str
    name_en: str
    level: int | None
    severity: Severity
    rank: int
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        name: str,
        *,
        rank: int | None = None,
        severity: Severity | None = None,
        detail: Mapping[str, Any] | None = None,
        name_en: str | None = None,
    ) -> Value:
        """A value from the level table: level, English name and severity follow the product's row."""
        row: Product = product(name)
        return cls(
            name,
            row.name_ja,
            name_en or row.name_en,
            row.level,
            severity or row.severity,
            rank if rank is not None else (row.level or 0),
            dict(detail or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "name": {"ja": self.name_ja, "en": self.name_en},
            "level": self.level,
            "severity": self.severity,
            "rank": self.rank,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Value:
        name = dict(doc.get("name") or {})
        return cls(
            str(doc["product"]),
            str(name.get("ja", doc["product"])),
            str(name.get("en", "")),
            doc.get("level"),
            doc["severity"],
            int(doc["rank"]),
            dict(doc.get("detail") or {}),
        )

    def same(self, other: Value | None) -> bool:
        """Same product and level: what residents were told still holds."""
        return other is not None and (self.product, self.level, self.rank) == (other.product, other.level, other.rank)


@dataclass(frozen=True)
class AreaValue:
    """One key of a statement; ``value=None`` says the alert is lifted (解除) there."""

    phenomenon: str
    area: str
    value: Value | None
    district: str = ""


@dataclass(frozen=True)
class Scope:
    """What a full restatement is authoritative for: an in-force alert of the source inside it that the
    statement does not name has been lifted. ``areas=None`` = every area; ``phenomena``: exact names;
    ``prefix``: any phenomenon starting with it."""

    prefix: str = ""
    phenomena: frozenset[str] | None = None
    areas: frozenset[str] | None = None

    def covers(self, phenomenon: str, area: str) -> bool:
        if not phenomenon.startswith(self.prefix):
            return False
        if self.phenomena is not None and phenomenon not in self.phenomena:
            return False
        return self.areas is None or area in self.areas


@dataclass(frozen=True)
class Statement:
    """What one source said at one time: per-key values, and optionally the scope it restates in full.

    ``ref`` identifies the statement the way the source does (JMA: office|InfoKind|ReportDateTime|EventID),
    so a later 取消 or 訂正 naming the same ref finds exactly what this one changed.
    """

    source: str
    ref: str
    at: datetime  # the source's time (ReportDateTime, observation time)
    items: tuple[AreaValue, ...] = ()
    scope: Scope | None = None
    only_raise: bool = False  # a lower value is not news (a later, weaker quake report never un-shakes anyone)


@dataclass(frozen=True)
class Transition:
    """A change of state that should tell residents something: what it was, what it is, and why.

    ``notification_ids`` on a ``cancelled`` or ``corrected`` transition are the notifications that told
    residents what is now withdrawn: a correction goes to exactly their recipients.
    """

    id: int
    alert_id: int
    source: str
    phenomenon: str
    area: str
    district: str
    change: Change
    before: Value | None
    after: Value | None
    statement: str
    at: datetime
    notification_ids: tuple[int, ...] = ()
    undoes: Change | None = None  # cancelled/corrected: the change that was withdrawn

    @property
    def value(self) -> Value:
        """The value the message is about: the new one, or for a lift/withdrawal the old one."""
        found = (
            self.after
            if self.change in ("issued", "raised", "lowered", "corrected") and self.after
            else self.before or self.after
        )
        assert found is not None
        return found


class AlertStateOut(BaseModel):
    """One alert in force, as the public feeds and the portal show it."""

    id: int
    source: str
    phenomenon: str
    area: str
    district: str
    product: str
    name: dict[str, str]
    level: int | None
    severity: str
    status: str
    issued_at: datetime
    changed_at: datetime
    confirmed_at: datetime
    stale: bool
    notification_id: int | None
