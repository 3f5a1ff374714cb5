"""Change detection: compare a telegram with the previous per-municipality state and keep only news.

State is a plain JSON-able dict ``{n03: {topic: entry}}`` so the caller can persist it anywhere. Restated
warnings produce nothing; new or stronger ones notify; weaker ones and lifted ones get a short message;
a 取消 produces ``cancel`` events for every municipality that got the cancelled event.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushsvc.feeds.jma.areas import AreaResolver
from pushsvc.feeds.jma.common import Telegram
from pushsvc.feeds.jma.model import AreaEvent, AreaStatus, Change, Severity, Snapshot
from pushsvc.feeds.jma.normalise import event_key, snapshot
from pushsvc.feeds.jma.tsunami import tsunami_texts

State = dict[str, dict[str, dict[str, Any]]]
CHANGE_JA = {"issued": "発表", "upgraded": "引き上げ", "downgraded": "切り替え", "lifted": "解除", "cancel": "取消"}
CHANGE_EN = {"issued": "issued", "upgraded": "raised", "downgraded": "lowered", "lifted": "lifted",
             "cancel": "cancelled"}


@dataclass(frozen=True)
class ChangeSet:
    """What to send, the state to persist afterwards, and why nothing was sent when ``skipped`` is set."""

    events: tuple[AreaEvent, ...]
    state: State
    skipped: str | None = None
    cancelled_event_id: str | None = None


def _entry(s: AreaStatus, event_id: str, t: Telegram) -> dict[str, Any]:
    entry = {"category": s.category, "kind": s.kind_name, "kind_en": s.kind_en, "code": s.kind_code, "rank": s.rank,
             "severity": s.severity, "event_id": event_id, "telegram_id": t.telegram_id,
             "since": t.head.report_datetime.isoformat()}
    return {**entry, "area": s.area_name} if s.area_name else entry


def _as_status(n03: str, topic: str, e: Mapping[str, Any]) -> AreaStatus:
    return AreaStatus(n03, topic, e["category"], e["kind"], e["kind_en"], e["code"], int(e["rank"]), e["severity"],
                      area_name=e.get("area", ""))


def _texts(change: Change, s: AreaStatus, prev: str, names: str) -> tuple[str, str, str, str]:
    if s.topic == "tsunami" and change != "cancel":
        return tsunami_texts(change, s.kind_name, s.kind_en, s.rank, prev, s.area_name, s.detail_ja, s.detail_en)
    title_ja = f"{s.kind_name}（{CHANGE_JA[change]}）"
    title_en = f"{s.kind_en} {CHANGE_EN[change]}"
    if change == "lifted":
        body_ja, body_en = f"{names}の{s.kind_name}は解除されました。", f"The {s.kind_en.lower()} has been lifted."
    elif change == "cancel":
        body_ja = f"先ほどお知らせした{names}の{s.kind_name}は取り消されました。"
        body_en = f"The earlier {s.kind_en.lower()} has been withdrawn by JMA. Please disregard it."
    else:
        was_ja, was_en = (f"（{prev}から）", " (was lower)") if change == "upgraded" and prev else ("", "")
        body_ja = f"{names}に{s.kind_name}{was_ja}。{s.detail_ja}".rstrip("。") + "。"
        body_en = f"{s.kind_en}{was_en} for {names}. {s.detail_en}".strip()
    return title_ja, title_en, body_ja, body_en


def _events(found: list[tuple[Change, AreaStatus, str]], snap: Snapshot, names: AreaResolver) -> tuple[AreaEvent, ...]:
    groups: dict[tuple[Change, str, str, str, str], list[AreaStatus]] = {}
    for change, s, prev in found:
        groups.setdefault((change, s.topic, s.kind_name, prev, s.detail_ja), []).append(s)
    out = []
    t = snap.telegram
    for (change, topic, kind, prev, _), members in groups.items():
        lead = members[0]
        munis = tuple(sorted({m.n03_code for m in members}))
        label = "、".join(names.name(c) for c in munis)
        severity: Severity = "info" if change in ("lifted", "cancel") else lead.severity
        title_ja, title_en, body_ja, body_en = _texts(change, lead, prev, label)
        out.append(AreaEvent(
            municipalities=munis, category=lead.category, severity=severity, change=change, topic=topic,
            kind_name=kind, previous_kind_name=prev, title_ja=title_ja, title_en=title_en, body_ja=body_ja,
            body_en=body_en, event_id=snap.event_id, telegram_id=t.telegram_id,
            report_datetime=t.head.report_datetime, correction=t.head.info_type == "訂正",
        ))
    return tuple(out)


def _pruned(state: State) -> State:
    return {n03: topics for n03, topics in state.items() if topics}


def _cancel(prev: State, snap: Snapshot, names: AreaResolver) -> ChangeSet:
    state = copy.deepcopy(prev)
    found: list[tuple[Change, AreaStatus, str]] = []
    for n03, topics in prev.items():
        for topic, e in topics.items():
            if e.get("event_id") == snap.event_id:
                found.append(("cancel", _as_status(n03, topic, e), ""))
                del state[n03][topic]
    return ChangeSet(_events(found, snap, names), _pruned(state), cancelled_event_id=snap.event_id)


def detect_changes(prev: State, telegram: Telegram, resolver: AreaResolver) -> ChangeSet:
    """Events worth sending for ``telegram`` given ``prev`` state, and the new state. Never mutates ``prev``."""
    if not telegram.is_actual:
        return ChangeSet((), copy.deepcopy(prev), skipped=f"Control/Status {telegram.control.status}")
    if telegram.is_cancel:
        return _cancel(prev, Snapshot(telegram, event_key(telegram), (), None, ""), resolver)
    snap = snapshot(telegram, resolver)
    if snap is None:
        return ChangeSet((), copy.deepcopy(prev), skipped=f"not a notifying telegram: {telegram.control.title}")
    state = copy.deepcopy(prev)
    found: list[tuple[Change, AreaStatus, str]] = []
    seen = set()
    for s in snap.statuses:
        seen.add((s.n03_code, s.topic))
        old = prev.get(s.n03_code, {}).get(s.topic)
        old_rank = int(old["rank"]) if old else 0
        if old_rank == s.rank:
            continue  # restatement (継続): nothing to say
        if s.rank < old_rank and s.topic.startswith("quake:"):
            continue  # a later, lower intensity report never un-shakes anyone
        change: Change = "issued" if old is None else "upgraded" if s.rank > old_rank else "downgraded"
        found.append((change, s, old["kind"] if old else ""))
        state.setdefault(s.n03_code, {})[s.topic] = _entry(s, snap.event_id, telegram)
    for n03, topics in prev.items():
        for topic, e in topics.items():
            if (n03, topic) not in seen and snap.in_scope(n03, topic):
                found.append(("lifted", _as_status(n03, topic, e), ""))
                del state[n03][topic]
    return ChangeSet(_events(found, snap, resolver), _pruned(state))
