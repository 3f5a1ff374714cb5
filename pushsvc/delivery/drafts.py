"""What delivery speaks: severities, priority lanes, TTLs, the draft a source hands in, the message a worker sends.

See ``service`` for the lanes table and the rules; this module holds the vocabulary so every stage shares it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from shapely.geometry.base import BaseGeometry

from pushsvc import i18n
from pushsvc.timeutil import JST

SEVERITIES = ("info", "advisory", "warning", "emergency")
QUIET_HOURS_APPLY = frozenset({"info", "advisory"})  # silent within a resident's quiet hours
FINAL_STATUSES = frozenset({"done", "cancelled", "expired"})
# RFC 8030 Urgency: "low" lets a phone on battery wait for power or Wi-Fi; emergencies wake it at once.
URGENCY = {"info": "low", "advisory": "normal", "warning": "high", "emergency": "high"}

PRIORITY_LIFE, PRIORITY_EMERGENCY, PRIORITY_WARNING, PRIORITY_ROUTINE = 0, 1, 2, 3
PRIORITIES = (PRIORITY_LIFE, PRIORITY_EMERGENCY, PRIORITY_WARNING, PRIORITY_ROUTINE)
FAIR_EVERY = 8  # one claim in this many takes the oldest due batch below lane 0 (no starvation)
TTL_EEW_S = 60  # a 緊急地震速報 is useless once the shaking has arrived: a phone offline for a minute drops it
TTL_WARNING_S = 6 * 3600
TTL_NOTICE_S = 86400
LAST_CHANCE_S = 2.0  # a retry that would land after the TTL is made this long before it runs out instead


def default_priority(category: str, severity: str) -> int:
    """The lane of a message whose producer did not choose one."""
    if category == "quake_tsunami" and severity in ("warning", "emergency"):
        return PRIORITY_LIFE
    if severity == "emergency":
        return PRIORITY_EMERGENCY
    if severity == "warning":
        return PRIORITY_WARNING
    return PRIORITY_ROUTINE


def default_ttl(severity: str) -> int:
    """Seconds a push service keeps a message for an offline phone when the producer gave no TTL."""
    return TTL_WARNING_S if severity in ("warning", "emergency") else TTL_NOTICE_S


@dataclass
class NotificationDraft:
    """What any source (operator, river, JMA, CAP) asks delivery to send."""

    source: str
    category: str
    severity: str
    title: dict[str, str]
    body: dict[str, str]
    municipality_codes: Sequence[str] = ()
    area: BaseGeometry | None = None
    url: str | None = None
    ttl_seconds: int | None = None  # None: by kind (``default_ttl``); EEW producers pass ``TTL_EEW_S``
    topic: str | None = None
    test: bool = False
    reference_id: int | None = None
    also_references: Sequence[int] = ()  # further notifications this corrects (a JMA 取消 withdrawing several)
    extra: dict[str, Any] = field(default_factory=dict)
    recipient_ids: Collection[int] | None = None  # exact recipients (corrections), instead of the target
    priority: int | None = None  # lane (``PRIORITY_*``, 0 first); None: ``default_priority`` of category/severity
    # Commit the first batch before resolving everyone else (``enqueue.create_notification``): for
    # 緊急地震速報 and tsunami warnings, where the first push must leave within half a second.
    first_batch_early: bool = False

    def lane(self) -> int:
        return default_priority(self.category, self.severity) if self.priority is None else self.priority

    def ttl(self) -> int:
        return default_ttl(self.severity) if self.ttl_seconds is None else self.ttl_seconds


@dataclass(frozen=True)
class ClaimedBatch:
    batch_id: int
    notification_id: int
    attempt: int
    pending_ids: list[int]
    worker_id: str


@dataclass(frozen=True)
class Message:
    """The notification as a worker needs it to send: texts by language, headers, deadline."""

    id: int
    category: str
    severity: str
    title: dict[str, str]
    body: dict[str, str]
    url: str
    ttl_seconds: int
    topic: str
    expires_at: datetime
    status: str
    priority: int = PRIORITY_ROUTINE

    def text(self, lang: str) -> tuple[str, str]:
        """Title and body in the resident's language, else やさしい日本語 where given, else Japanese."""
        return i18n.pick(self.title, lang) or self.title["ja"], i18n.pick(self.body, lang) or ""

    @property
    def urgency(self) -> str:
        return "high" if self.priority <= PRIORITY_EMERGENCY else URGENCY.get(self.severity, "normal")

    def silent_for(self, quiet_start: time | None, quiet_end: time | None, now: datetime) -> bool:
        """Whether this message reaches a resident within their quiet hours, so it must not make a sound."""
        return self.severity in QUIET_HOURS_APPLY and _quiet_until(now, quiet_start, quiet_end) is not None


def _quiet_until(now: datetime, start: time | None, end: time | None) -> datetime | None:
    """When a resident's quiet hours (JST wall clock) end, if ``now`` falls inside them."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(JST)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=JST).astimezone(UTC)
