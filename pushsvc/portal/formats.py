"""Alerts as Atom 1.0 and OASIS CAP 1.2, for other systems to read (kept small on purpose).

Times are written in JST with an explicit offset, as CAP requires ("2026-06-02T14:10:00+09:00").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from pushsvc.config import Settings
from pushsvc.portal.schemas import CATEGORY_LABELS, AlertOut

JST = ZoneInfo("Asia/Tokyo")
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_CATEGORY = {"river": "Met", "weather": "Met", "landslide": "Geo", "quake_tsunami": "Geo",
                "evacuation": "Safety", "area_info": "Other"}
CAP_SEVERITY = {"emergency": "Extreme", "warning": "Severe", "advisory": "Moderate", "info": "Minor"}
CAP_URGENCY = {"emergency": "Immediate", "warning": "Expected", "advisory": "Future", "info": "Unknown"}
CAP_LANG = {"ja": "ja-JP", "en": "en-US", "zh-Hans": "zh-CN", "zh-Hant": "zh-TW", "ko": "ko-KR", "vi": "vi-VN",
            "tl": "tl-PH", "ne": "ne-NP", "id": "id-ID", "pt": "pt-BR"}


def jst(dt: datetime) -> str:
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).astimezone(JST).isoformat(timespec="seconds")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def sender(settings: Settings) -> str:
    return urlsplit(settings.public_base_url).hostname or "pushsvc"


def atom_feed(alerts: Sequence[AlertOut], *, settings: Settings, self_url: str, now: datetime) -> bytes:
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "ja"})

    def a(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        return _sub(parent, f"{{{ATOM_NS}}}{tag}", text, **attrs)

    a(feed, "id", f"tag:{sender(settings)},2026:alerts")
    a(feed, "title", "防災情報（発表中）")
    a(feed, "updated", jst(max((x.created_at for x in alerts), default=now)))
    a(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    author = a(feed, "author")
    a(author, "name", sender(settings))
    credits = sorted({x.attribution for x in alerts if x.attribution})
    if credits:
        a(feed, "rights", "、".join(credits))
    for x in alerts:
        entry = a(feed, "entry")
        a(entry, "id", f"tag:{sender(settings)},2026:alert:{x.id}")
        a(entry, "title", x.title)
        a(entry, "updated", jst(x.created_at))
        a(entry, "published", jst(x.created_at))
        a(entry, "link", rel="alternate", href=x.url, type="text/html")
        a(entry, "link", rel="alternate", href=f"{x.url.replace('/alerts/', '/api/v1/alerts/')}.cap",
          type="application/cap+xml")
        a(entry, "category", term=x.category, label=CATEGORY_LABELS.get(x.category, {}).get("ja", x.category))
        a(entry, "summary", x.body or x.title)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def cap_alert(alert: AlertOut, translations: dict[str, dict[str, str]], *, settings: Settings,
              reference: AlertOut | None = None) -> bytes:
    """One alert as CAP 1.2; a cancelled alert becomes a Cancel that references the original."""
    ET.register_namespace("", CAP_NS)
    root = ET.Element(f"{{{CAP_NS}}}alert")

    def c(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        return _sub(parent, f"{{{CAP_NS}}}{tag}", text)

    who = sender(settings)
    cancelled = alert.status == "cancelled"
    c(root, "identifier", f"{who}.alert.{alert.id}" + (".cancel" if cancelled else ""))
    c(root, "sender", who)
    c(root, "sent", jst(alert.created_at))
    c(root, "status", "Actual")
    c(root, "msgType", "Cancel" if cancelled else "Update" if reference else "Alert")
    c(root, "scope", "Public")
    refs = []
    if cancelled:
        refs.append(f"{who},{who}.alert.{alert.id},{jst(alert.created_at)}")
    if reference is not None:
        refs.append(f"{who},{who}.alert.{reference.id},{jst(reference.created_at)}")
    if refs:
        c(root, "references", " ".join(refs))
    for lang, text in translations.items():
        info = c(root, "info")
        c(info, "language", CAP_LANG.get(lang, lang))
        c(info, "category", CAP_CATEGORY.get(alert.category, "Other"))
        c(info, "event", CATEGORY_LABELS.get(alert.category, {}).get(lang)
          or CATEGORY_LABELS.get(alert.category, {}).get("ja", alert.category))
        c(info, "urgency", "Past" if not alert.active else CAP_URGENCY.get(alert.severity, "Unknown"))
        c(info, "severity", CAP_SEVERITY.get(alert.severity, "Unknown"))
        c(info, "certainty", "Observed" if alert.source in ("river", "jma") else "Likely")
        c(info, "expires", jst(alert.expires_at))
        c(info, "senderName", who)
        c(info, "headline", text["title"][:160])
        if text.get("body"):
            c(info, "description", text["body"])
        c(info, "web", alert.url)
        area = c(info, "area")
        c(area, "areaDesc", "、".join(m.name or m.code for m in alert.municipalities) or "高知県")
        for m in alert.municipalities:
            geocode = c(area, "geocode")
            c(geocode, "valueName", "JIS X 0402")
            c(geocode, "value", m.code)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
