"""Control and Head: the envelope every JMA telegram shares, parsed once for all kinds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import Element

from pushsvc.feeds.jma.xmlsafe import NS_HEAD, NS_JMX, TelegramError, child, children, ns_of, require, text

STATUSES = ("通常", "訓練", "試験")
INFO_TYPES = ("発表", "訂正", "取消")


@dataclass(frozen=True)
class Control:
    title: str
    datetime: datetime
    status: str  # 通常 | 訓練 | 試験 — only 通常 may reach residents
    editorial_office: str
    publishing_office: str


@dataclass(frozen=True)
class HeadlineItem:
    """One ``Headline/Information/Item``: a kind for a list of area codes (used by flood forecasts)."""

    info_type: str
    kind_name: str
    kind_code: str
    condition: str
    areas: tuple[tuple[str, str], ...]  # (code, name)


@dataclass(frozen=True)
class Head:
    title: str
    report_datetime: datetime
    target_datetime: datetime | None
    event_id: str
    info_type: str  # 発表 | 訂正 | 取消
    serial: str
    info_kind: str
    headline: str
    headline_items: tuple[HeadlineItem, ...] = field(default=())


@dataclass(frozen=True)
class Telegram:
    """Any telegram: the envelope plus, in subclasses, a typed body. Unknown kinds stay plain ``Telegram``."""

    control: Control
    head: Head
    telegram_id: str

    @property
    def is_actual(self) -> bool:
        return self.control.status == "通常"

    @property
    def is_cancel(self) -> bool:
        return self.head.info_type == "取消"


def parse_datetime(value: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TelegramError(f"bad {what} {value!r}") from exc


def parse_control(root: Element) -> Control:
    if ns_of(root) != NS_JMX or root.tag != f"{{{NS_JMX}}}Report":
        raise TelegramError(f"not a JMA Report: root element {root.tag!r}")
    ctl = require(child(root, NS_JMX, "Control"), "Control")
    status = text(ctl, NS_JMX, "Status")
    if status not in STATUSES:
        raise TelegramError(f"unknown Control/Status {status!r}")
    return Control(
        title=text(ctl, NS_JMX, "Title"),
        datetime=parse_datetime(text(ctl, NS_JMX, "DateTime"), "Control/DateTime"),
        status=status,
        editorial_office=text(ctl, NS_JMX, "EditorialOffice"),
        publishing_office=text(ctl, NS_JMX, "PublishingOffice"),
    )


def _headline_items(headline: Element | None) -> tuple[HeadlineItem, ...]:
    items: list[HeadlineItem] = []
    for info in children(headline, NS_HEAD, "Information"):
        for item in children(info, NS_HEAD, "Item"):
            kind = child(item, NS_HEAD, "Kind")
            areas = tuple(
                (text(a, NS_HEAD, "Code"), text(a, NS_HEAD, "Name"))
                for a in children(child(item, NS_HEAD, "Areas"), NS_HEAD, "Area")
            )
            items.append(
                HeadlineItem(
                    info_type=info.get("type", ""),
                    kind_name=text(kind, NS_HEAD, "Name"),
                    kind_code=text(kind, NS_HEAD, "Code"),
                    condition=text(kind, NS_HEAD, "Condition"),
                    areas=areas,
                )
            )
    return tuple(items)


def parse_head(root: Element) -> Head:
    head = require(child(root, NS_HEAD, "Head"), "Head")
    info_type = text(head, NS_HEAD, "InfoType")
    if info_type not in INFO_TYPES:
        raise TelegramError(f"unknown Head/InfoType {info_type!r}")
    target = text(head, NS_HEAD, "TargetDateTime")
    headline = child(head, NS_HEAD, "Headline")
    return Head(
        title=text(head, NS_HEAD, "Title"),
        report_datetime=parse_datetime(text(head, NS_HEAD, "ReportDateTime"), "Head/ReportDateTime"),
        target_datetime=parse_datetime(target, "Head/TargetDateTime") if target else None,
        event_id=text(head, NS_HEAD, "EventID"),
        info_type=info_type,
        serial=text(head, NS_HEAD, "Serial"),
        info_kind=text(head, NS_HEAD, "InfoKind"),
        headline=text(headline, NS_HEAD, "Text"),
        headline_items=_headline_items(headline),
    )


def body_of(root: Element) -> tuple[Element | None, str]:
    """The Body element and its namespace (meteorology1, seismology1, … differ by family)."""
    for el in root:
        if el.tag.endswith("}Body"):
            return el, ns_of(el)
    return None, ""
