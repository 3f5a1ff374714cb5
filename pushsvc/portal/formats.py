"""Alerts as Atom 1.0 and OASIS CAP 1.2 (written by ``pushsvc.cap.writer``), for other systems to read.

Times are written in JST with an explicit offset, as CAP requires ("2026-06-02T14:10:00+09:00").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from pushsvc.cap import writer
from pushsvc.cap.codes import URGENCY
from pushsvc.config import Settings
from pushsvc.portal.schemas import CATEGORY_LABELS, AlertOut

ATOM_NS = "http://www.w3.org/2005/Atom"


jst = writer.cap_time


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def sender(settings: Settings) -> str:
    return writer.sender_of(settings.public_base_url)


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
        a(
            entry,
            "link",
            rel="alternate",
            href=f"{x.url.replace('/alerts/', '/api/v1/alerts/')}.cap",
            type="application/cap+xml",
        )
        a(entry, "category", term=x.category, label=CATEGORY_LABELS.get(x.category, {}).get("ja", x.category))
        a(entry, "summary", x.body or x.title)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def cap_alert(
    alert: AlertOut, translations: dict[str, dict[str, str]], *, settings: Settings, references: Sequence[AlertOut] = ()
) -> bytes:
    """One alert as CAP 1.2; a cancelled alert becomes a Cancel that references the original; a correction
    is an Update referencing every alert it corrects."""
    who = sender(settings)
    cancelled = alert.status == "cancelled"
    refs = []
    if cancelled:
        refs.append((who, f"{who}.alert.{alert.id}", alert.created_at))
    refs.extend((who, f"{who}.alert.{r.id}", r.created_at) for r in references)
    labels = CATEGORY_LABELS.get(alert.category, {})
    return writer.write(
        writer.CapDocument(
            identifier=f"{who}.alert.{alert.id}" + (".cancel" if cancelled else ""),
            sender=who,
            sent=alert.created_at,
            msg_type="Cancel" if cancelled else "Update" if references else "Alert",
            references=refs,
            infos=[
                writer.CapInfo(
                    language=lang,
                    category=alert.category,
                    severity=alert.severity,
                    event=labels.get(lang) or labels.get("ja", alert.category),
                    urgency="Past" if not alert.active else URGENCY.get(alert.severity, "Unknown"),
                    certainty="Observed" if alert.source in ("river", "jma") else "Likely",
                    expires=alert.expires_at,
                    headline=text["title"],
                    description=text.get("body") or None,
                    web=alert.url,
                    parameters=sorted(alert.parameters.items()),
                )
                for lang, text in translations.items()
            ],
            area_desc="、".join(m.name or m.code for m in alert.municipalities) or "高知県",
            geocodes=[m.code for m in alert.municipalities],
        )
    )
