"""Safe, namespace-aware XML access: telegrams come from the network, so parsing must never explode."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml import ElementTree as DET

from pushsvc.errors import ProblemError

NS_JMX = "http://xml.kishou.go.jp/jmaxml1/"
NS_HEAD = "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
NS_EB = "http://xml.kishou.go.jp/jmaxml1/elementBasis1/"
NS_ATOM = "http://www.w3.org/2005/Atom"
MAX_BYTES = 20 * 1024 * 1024  # the largest real telegram is ~5 MB (集約通報); anything bigger is garbage


class TelegramError(ProblemError):
    """A telegram or feed that cannot be trusted: malformed, truncated, hostile or of the wrong shape."""

    status = 422
    title = "Unusable JMA telegram"
    slug = "bad-telegram"


def parse_xml(data: bytes | str, *, max_bytes: int = MAX_BYTES) -> Element:
    """Parse with defusedxml: no DTDs, no entity expansion, no external fetches; every failure is typed."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise TelegramError(f"document of {len(raw)} bytes exceeds the {max_bytes}-byte limit")
    if not raw.strip():
        raise TelegramError("empty document")
    try:
        root: Element = DET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise TelegramError(f"refused unsafe XML: {type(exc).__name__}") from exc
    except (ParseError, ValueError) as exc:
        raise TelegramError(f"malformed XML: {exc}") from exc
    return root


def ns_of(el: Element) -> str:
    """The namespace URI of an element (``""`` if none); bodies differ by telegram family."""
    return el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""


def local(el: Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}" if ns else name


def child(el: Element | None, ns: str, *path: str) -> Element | None:
    """Follow a path of same-namespace children; ``None`` as soon as one is missing."""
    cur = el
    for name in path:
        if cur is None:
            return None
        cur = cur.find(q(ns, name))
    return cur


def children(el: Element | None, ns: str, name: str) -> list[Element]:
    return [] if el is None else el.findall(q(ns, name))


def text(el: Element | None, ns: str = "", *path: str) -> str:
    """Stripped text at a path, ``""`` when absent: JMA leaves many elements empty (``<EventID/>``)."""
    target = child(el, ns, *path) if path else el
    return (target.text or "").strip() if target is not None else ""


def number(value: str) -> float | None:
    """A JMA number, ``None`` for empty, unparsable or NaN values (JMA writes NaN for 不明)."""
    try:
        result = float(value)
    except ValueError:
        return None
    return None if result != result else result


def require(el: Element | None, what: str) -> Element:
    if el is None:
        raise TelegramError(f"missing {what}")
    return el
