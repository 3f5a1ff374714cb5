"""The alert page a notification opens: plain HTML, Japanese first, readable without JavaScript."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from pushsvc.portal.schemas import AlertPage
from pushsvc.timeutil import JST

TEMPLATE = Template((Path(__file__).parent / "templates" / "alert.html").read_text(encoding="utf-8"))
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'self'"
NAMES = {
    "en": "English",
    "zh-Hans": "简体中文",
    "zh-Hant": "繁體中文",
    "ko": "한국어",
    "vi": "Tiếng Việt",
    "tl": "Tagalog",
    "ne": "नेपाली",
    "id": "Bahasa Indonesia",
    "pt": "Português",
}


def pick_lang(query_lang: str | None, accept_language: str | None, available: list[str]) -> str | None:
    """The second language to show under the Japanese text: ?lang=, else the browser's first choice."""
    wanted = (
        [query_lang]
        if query_lang
        else [part.split(";")[0].strip() for part in (accept_language or "").split(",") if part.strip()]
    )
    for w in wanted:
        for lang in available:
            if lang != "ja" and (w == lang or w.split("-")[0] == lang.split("-")[0]):
                return lang
    return None


def _section(lang: str, title: str, body: str, heading: bool) -> str:
    tag = "h1" if heading else "h2"
    return (
        f'<section lang="{html.escape(lang)}"><{tag}>{html.escape(title)}</{tag}>'
        f'<p class="body">{html.escape(body)}</p></section>'
    )


def render(page: AlertPage, *, second: str | None) -> str:
    ja = page.translations.get("ja") or {"title": page.title, "body": page.body}
    sections = [_section("ja", ja["title"], ja["body"], True)]
    if second and second in page.translations:
        sections.append(_section(second, page.translations[second]["title"], page.translations[second]["body"], False))
    others = [x for x in page.translations if x not in ("ja", second)]
    if others:
        links = " ・ ".join(
            f'<a href="?lang={html.escape(x)}" lang="{html.escape(x)}">{html.escape(NAMES.get(x, x))}</a>'
            for x in others
        )
        sections.append(f"<p>{links}</p>")
    status = "取消" if page.status == "cancelled" else "発表中" if page.active else "終了"
    credits = ["「国土数値情報（行政区域データ）」（国土交通省）を加工して作成"]
    if page.attribution:
        credits.insert(0, page.attribution)
    return TEMPLATE.substitute(
        title_ja=html.escape(ja["title"]),
        severity=html.escape(page.severity),
        severity_label=html.escape(page.severity_label),
        category_label=html.escape(page.category_label),
        status_class="" if page.active else "ended",
        status_label=status,
        sections="\n".join(sections),
        created=page.created_at.astimezone(JST).strftime("%Y年%m月%d日 %H:%M"),
        expires=page.expires_at.astimezone(JST).strftime("%Y年%m月%d日 %H:%M"),
        areas=html.escape("、".join(m.name or m.code for m in page.municipalities) or "高知県"),
        attribution=html.escape(" / ".join(credits)),
        json_url=f"/api/v1/alerts/{page.id}",
        cap_url=html.escape(page.cap_url),
        feed_url="/api/v1/alerts.atom",
    )
