"""Serves the console shell at ``/console/``; its scripts and styles are plain files under ``/static/console/``.

Nothing is loaded from the internet: the map is drawn from our own boundaries endpoint, charts are SVG.
The console holds no secrets: the operator's token is kept in the tab's ``sessionStorage`` only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

CONSOLE = Path(__file__).resolve().parent.parent / "static" / "console"
HEADERS = {
    "Cache-Control": "no-cache",
    # Only our own origin: no CDN, no tiles, no inline script; the token never leaves for another host.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/console")
def console_redirect() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/")
def console() -> FileResponse:
    return FileResponse(CONSOLE / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)
