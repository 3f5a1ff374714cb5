"""A JMA telegram → what it states for the alert-state model (``pushsvc.alerts``): the JMA mapping.

Pure and database-free. A telegram is identified the way JMA identifies it — editorial office, InfoKind,
ReportDateTime and EventID (empty for warnings) — because a 取消 or 訂正 repeats exactly these of the
telegram it replaces. What the telegram is authoritative for becomes the statement's ``Scope``:
VPWW53/54 restate every warning of every municipality they list, so a kind no longer listed there has
been lifted; each VPWW55–61 form only its own hazards; VXWW50 and VXKO their own product; quake
information only ever adds (no scope, and a weaker later report never lowers what was felt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pushsvc.alerts.schemas import AreaValue, Scope, Statement, Value
from pushsvc.feeds.jma.areas import AreaResolver
from pushsvc.feeds.jma.common import Telegram
from pushsvc.feeds.jma.normalise import snapshot
from pushsvc.feeds.jma.records import AreaStatus

Mode = Literal["statement", "cancel", "correction", "skip"]
CATEGORY_BY_PREFIX = (
    ("weather:", "weather"),
    ("landslide", "landslide"),
    ("river:", "river"),
    ("quake:", "quake_tsunami"),
    ("tsunami", "quake_tsunami"),
)


@dataclass(frozen=True)
class JmaStatement:
    """What to do with one telegram: apply, cancel or correct ``statement`` (or skip, saying why)."""

    mode: Mode
    statement: Statement
    skipped: str | None = None


def telegram_ref(t: Telegram) -> str:
    """JMA's identity of a telegram: a 取消/訂正 carries the same four values as what it replaces."""
    h = t.head
    return f"{t.control.editorial_office}|{h.info_kind}|{h.report_datetime.isoformat()}|{h.event_id}"[:255]


def category_of(phenomenon: str) -> str:
    return next((c for prefix, c in CATEGORY_BY_PREFIX if phenomenon.startswith(prefix)), "weather")


def _value(s: AreaStatus) -> Value:
    detail = {"ja": s.detail_ja, "en": s.detail_en} if s.detail_ja or s.detail_en else {}
    if s.area_name:  # stated for a JMA area (津波予報区 高知県), not the town itself: messages name the area
        detail["area"] = s.area_name
    return Value(s.kind_name, s.kind_name, s.kind_en, s.level, s.severity, s.rank, detail)


def statement_of(t: Telegram, resolver: AreaResolver, *, source: str) -> JmaStatement:
    """The statement a telegram makes in the resolver's prefecture, and whether it applies, cancels or corrects."""
    empty = Statement(source=source, ref=telegram_ref(t), at=t.head.report_datetime)
    if not t.is_actual:
        return JmaStatement("skip", empty, f"Control/Status {t.control.status}")
    if t.is_cancel:
        return JmaStatement("cancel", empty)
    snap = snapshot(t, resolver)
    if snap is None:
        return JmaStatement("skip", empty, f"not a notifying telegram: {t.control.title}")
    items = tuple(AreaValue(s.topic, s.n03_code, _value(s)) for s in snap.statuses)
    scope = (
        Scope(prefix=snap.scope_prefix, phenomena=snap.scope_topics, areas=snap.covered) if snap.scope_prefix else None
    )
    st = Statement(
        source=source, ref=empty.ref, at=empty.at, items=items, scope=scope, only_raise=not snap.scope_prefix
    )
    return JmaStatement("correction" if t.head.info_type == "訂正" else "statement", st)
