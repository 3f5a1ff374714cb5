"""Per-municipality, per-level exceptions to the two-operator rule for 避難情報.

The rule itself is operators' (``operators.service``: an emergency needs a second operator). A
municipality may decide that at night, with one person on duty, that person issues 避難指示 alone
(``PUSHSVC_EVACUATION_SINGLE_ISSUER``, e.g. ``39201=4@22:00-06:00``). This only says whether and why the
exception applies; operators' submit records it in the audit log and the console shows it to every
other operator. Kept apart so a rework of the approval rule touches one call site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class SingleIssuerRule:
    municipality_code: str
    max_level: int
    start: time | None = None  # JST wall clock; None = at any hour
    end: time | None = None

    def applies(self, code: str, level: int, now: datetime) -> bool:
        if code != self.municipality_code or level > self.max_level:
            return False
        if self.start is None or self.end is None:
            return True
        t = now.astimezone(JST).time().replace(tzinfo=None)
        return self.start <= t < self.end if self.start < self.end else (t >= self.start or t < self.end)

    def describe(self) -> str:
        hours = f" {self.start:%H:%M}–{self.end:%H:%M} JST" if self.start and self.end else ""
        return f"municipality {self.municipality_code} lets one operator issue up to level {self.max_level}{hours}"


def parse_rules(text: str) -> list[SingleIssuerRule]:
    """``39201=4@22:00-06:00;39204=5``; a malformed entry is a configuration error at start, not a guess."""
    rules = []
    for part in filter(None, (p.strip() for p in text.replace(",", ";").split(";"))):
        code, _, rest = part.partition("=")
        level, _, hours = rest.partition("@")
        if not (code.isdigit() and len(code) == 5 and level in ("3", "4", "5")):
            raise ValueError(f"evacuation_single_issuer entry {part!r}: expected CODE=LEVEL[@HH:MM-HH:MM]")
        start = end = None
        if hours:
            a, _, b = hours.partition("-")
            start, end = time.fromisoformat(a), time.fromisoformat(b)
        rules.append(SingleIssuerRule(code, int(level), start, end))
    return rules


def single_issuer_reason(config: str, code: str, level: int, now: datetime) -> str | None:
    """Why one operator may issue ``level`` in ``code`` now, or None (the usual approval applies)."""
    for rule in parse_rules(config):
        if rule.applies(code, level, now):
            return rule.describe()
    return None
