"""Transitions → the words residents read: level, what happened, where, what to do, in Japanese and English.

One message per municipality per statement: every transition one statement made for one municipality
(several 解除, a 切替 and a 解除 …) becomes one text; municipalities whose texts would be identical share
one notification (``group``). The level and the action come from ``levels``; nothing here is per source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pushsvc.alerts.levels import ACTIONS, SEVERITY_RANK, level_label, severity_for
from pushsvc.alerts.schemas import Transition, Value
from pushsvc.types import Severity

CHANGE_JA = {
    "issued": "発表",
    "raised": "切替",
    "lowered": "切替",
    "lifted": "解除",
    "cancelled": "取消",
    "corrected": "訂正",
}
CHANGE_EN = {
    "issued": "issued",
    "raised": "raised",
    "lowered": "lowered",
    "lifted": "lifted",
    "cancelled": "withdrawn",
    "corrected": "corrected",
}
NOTIFYING = frozenset(CHANGE_JA)


@dataclass(frozen=True)
class Message:
    title_ja: str
    title_en: str
    body_ja: str
    body_en: str
    severity: Severity
    level: int | None  # the highest 警戒レベル now in force among what the message is about
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Group:
    """One notification: the same message for one or more municipalities."""

    areas: tuple[str, ...]
    transitions: tuple[Transition, ...]
    message: Message


def _current(t: Transition) -> Value | None:
    """What is in force after the transition (None: nothing, as far as this message goes)."""
    return t.after if t.change in ("issued", "raised", "lowered", "corrected", "cancelled") else None


def _join(names: Iterable[str], sep: str = "、") -> str:
    return sep.join(dict.fromkeys(names))


Sentence = Callable[[Transition, str, tuple[str, str]], tuple[str, str]]


def _issued(t: Transition, where: str, issuer: tuple[str, str]) -> tuple[str, str]:
    v = t.value
    return f"{where}に{v.name_ja}が発表されました。", f"{v.name_en} issued for {where}."


def _switched(t: Transition, where: str, issuer: tuple[str, str]) -> tuple[str, str]:
    if t.before is None or t.after is None:
        return "", ""
    return (
        f"{where}の{t.before.name_ja}は{t.after.name_ja}に切り替わりました。",
        f"The {t.before.name_en.lower()} for {where} has been {CHANGE_EN[t.change]} to a {t.after.name_en.lower()}.",
    )


def _cancelled(t: Transition, where: str, issuer: tuple[str, str]) -> tuple[str, str]:
    v = t.value
    if t.undoes == "lifted":
        return (
            f"先ほどお知らせした{where}の{v.name_ja}の解除は取り消されました。{v.name_ja}は引き続き発表中です。",
            f"The earlier lifting of the {v.name_en.lower()} for {where} has been withdrawn: it is still in force.",
        )
    now = (
        f"現在は{t.after.name_ja}が発表中です。" if t.after else "",
        f" A {t.after.name_en.lower()} is in force." if t.after else "",
    )
    what = CHANGE_JA.get(t.undoes or "issued", "発表")
    by_ja, by_en = (f"{issuer[0]}により", f" by {issuer[1]}") if issuer[0] else ("", "")
    return (
        f"先ほどお知らせした{where}の{v.name_ja}（{what}）は{by_ja}取り消されました。{now[0]}",
        f"The earlier {v.name_en.lower()} for {where} has been withdrawn{by_en}. Please disregard it.{now[1]}",
    )


def _corrected(t: Transition, where: str, issuer: tuple[str, str]) -> tuple[str, str]:
    was = t.before
    if t.after is None:
        return (
            f"{where}の{was.name_ja if was else ''}は誤りでした。現在発表されていません。",
            f"The {was.name_en.lower() if was else 'alert'} for {where} was sent in error: none is in force.",
        )
    if was is None:
        return (
            f"訂正：{where}に{t.after.name_ja}が発表されています。",
            f"Correction: a {t.after.name_en.lower()} is in force for {where}.",
        )
    return (
        f"{where}の{was.name_ja}は誤りで、正しくは{t.after.name_ja}です。",
        f"Correction: the {was.name_en.lower()} for {where} is a {t.after.name_en.lower()}.",
    )


_SENTENCES: dict[str, Sentence] = {
    "issued": _issued,
    "raised": _switched,
    "lowered": _switched,
    "cancelled": _cancelled,
    "corrected": _corrected,
}


def _sentence(t: Transition, where: str, issuer: tuple[str, str]) -> tuple[str, str]:
    """One transition as (ja, en); a 解除 is said with the others of its message (``_lifted``)."""
    said = _SENTENCES.get(t.change)
    return said(t, where, issuer) if said else ("", "")


def _lifted(lifted: Sequence[Transition], where: str) -> tuple[str, str]:
    names_ja = _join(t.value.name_ja for t in lifted)
    names_en = _join((t.value.name_en.lower() for t in lifted), ", ")
    return (
        f"{where}の{names_ja}は解除されました。",
        f"The {names_en} for {where} {'has' if len(lifted) == 1 else 'have'} been lifted.",
    )


def _closing(level: int | None, lifted: Sequence[Transition], current: Sequence[Value]) -> tuple[str, str] | None:
    """What to do at the 警戒レベル now in force; after a last 解除, to keep watching."""
    if level is not None and level in ACTIONS:
        return f"【{level_label(level, 'ja')}】{ACTIONS[level].ja}", f"{level_label(level, 'en')}: {ACTIONS[level].en}"
    if lifted and not current:
        return (
            "再び発表されることがあります。今後の情報に注意してください。",
            "It may be issued again: keep up with the latest information.",
        )
    return None


def _severity(current: Sequence[Value]) -> Severity:
    severities = [severity_for(v.level, v.severity) for v in current if v.level is not None] + [
        v.severity for v in current if v.level is None
    ]
    return max(severities, key=lambda s: SEVERITY_RANK[s], default="info")


def _said(
    others: Sequence[Transition],
    lifted: Sequence[Transition],
    current: Sequence[Value],
    level: int | None,
    where: str,
    issuer: tuple[str, str],
) -> tuple[str, str]:
    """The body (ja, en): each change, the 解除 together, then what to do now."""
    said = [_sentence(t, where, issuer) for t in others]
    if lifted:
        said.append(_lifted(lifted, where))
    closing = _closing(level, lifted, current)
    if closing is not None:
        said.append(closing)
    return " ".join(ja for ja, _ in said), " ".join(en for _, en in said)


def partition(transitions: Sequence[Transition]) -> tuple[list[Transition], list[Transition], list[Transition]]:
    """(what tells residents something, the 解除 among it, the rest): every 解除 is said in one sentence."""
    ts = [t for t in transitions if t.change in NOTIFYING]
    return ts, [t for t in ts if t.change == "lifted"], [t for t in ts if t.change != "lifted"]


def in_force(others: Sequence[Transition]) -> list[Value]:
    """What is in force after these transitions, as far as the message goes."""
    return [v for v in (_current(t) for t in others) if v is not None]


def headline(
    ts: Sequence[Transition], lifted: Sequence[Transition], others: Sequence[Transition]
) -> tuple[Transition, list[Transition], bool]:
    """(the transition the title is about, the 解除 it names, whether there is more than it says)."""
    lead = max(others, key=_weight) if others else lifted[0]
    return lead, list(lifted) if lead in lifted else [], len(ts) > 1 and lead not in lifted


def top_level(current: Sequence[Value]) -> int | None:
    """The highest 警戒レベル now in force among what the message is about."""
    levels = [v.level for v in current if v.level is not None]
    return max(levels) if levels else None


def compose(transitions: Sequence[Transition], where: str, issuer: tuple[str, str] = ("", "")) -> Message:
    """One message for all ``transitions`` of one statement at ``where`` (a name, or names joined);
    ``issuer`` (ja, en) names who withdrew what a 取消 withdraws."""
    ts, lifted, others = partition(transitions)
    assert ts, "nothing to say"
    current = in_force(others)
    level = top_level(current)
    body_ja, body_en = _said(others, lifted, current, level, where, issuer)
    title_ja, title_en = _title(*headline(ts, lifted, others))
    return Message(title_ja, title_en, body_ja, body_en, _severity(current), level, tuple(t.change for t in ts))


def _weight(t: Transition) -> tuple[int, int]:
    cur = _current(t)
    return ((cur.level or 0) if cur is not None else -1, t.id)


def _title(lead: Transition, lifted: Sequence[Transition], more: bool) -> tuple[str, str]:
    v = lead.value
    if lifted:
        return (
            f"{_join(t.value.name_ja for t in lifted)}（解除）",
            f"{_join((t.value.name_en for t in lifted), ', ')} lifted",
        )
    extra_ja, extra_en = ("ほか", " and more") if more else ("", "")
    cur = _current(lead)
    prefix_ja = f"【{level_label(cur.level, 'ja')}】" if cur and cur.level and lead.change != "cancelled" else ""
    prefix_en = f"{level_label(cur.level, 'en')}: " if cur and cur.level and lead.change != "cancelled" else ""
    if lead.change in ("raised", "lowered") and lead.before is not None:
        return (
            f"{prefix_ja}{v.name_ja}（{lead.before.name_ja}から切替）{extra_ja}",
            f"{prefix_en}{v.name_en} (was {lead.before.name_en.lower()}){extra_en}",
        )
    return (
        f"{prefix_ja}{v.name_ja}（{CHANGE_JA[lead.change]}）{extra_ja}",
        f"{prefix_en}{v.name_en} {CHANGE_EN[lead.change]}{extra_en}",
    )


def group(
    transitions: Iterable[Transition], name: Callable[[str], str], issuer: tuple[str, str] = ("", "")
) -> list[Group]:
    """Per municipality one message; municipalities with the same changes share one (``name``: code → name).

    Transitions that tell nobody anything (``expired``) are left out.
    """
    per_area: dict[str, list[Transition]] = {}
    for t in transitions:
        if t.change in NOTIFYING:
            per_area.setdefault(t.area, []).append(t)
    by_sig: dict[tuple[object, ...], list[str]] = {}
    for area, ts in per_area.items():
        sig = tuple(
            sorted(
                (
                    t.phenomenon,
                    t.change,
                    t.undoes or "",
                    t.before.product if t.before else "",
                    t.after.product if t.after else "",
                )
                for t in ts
            )
        )
        by_sig.setdefault(sig, []).append(area)
    out = []
    for areas in by_sig.values():
        codes = tuple(sorted(areas))
        where = _join(name(a) for a in codes)
        message = compose(per_area[codes[0]], where, issuer)
        out.append(Group(codes, tuple(t for a in codes for t in per_area[a]), message))
    return out
