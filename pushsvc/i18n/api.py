"""The resident page's own text in one language, from the message catalogue (so the page and the
notifications share one set of translations): ``GET /api/v1/i18n/{lang}``."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from pushsvc import i18n
from pushsvc.httpcache import cached
from pushsvc.types import Lang

router = APIRouter(tags=["i18n"])
CACHE = "public, max-age=300"


@router.get("/api/v1/i18n/{lang}", responses={200: {"description": "{lang, messages: {msgid: text}}"}})
def messages(request: Request, lang: Lang) -> Response:
    """Every catalogue message in ``lang`` (Japanese where a translation is missing), with an ETag."""
    body = json.dumps(
        {"lang": lang, "languages": list(i18n.LANGUAGES), "messages": i18n.page_messages(lang)},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return cached(request, body, "application/json", CACHE)
