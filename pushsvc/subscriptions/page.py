"""The resident page: ``/``, the service worker at ``/sw.js`` (root scope), the manifest, static files.

Everything is served from the package; the page loads nothing from the internet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent.parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}
# The page loads nothing from another origin: scripts, styles, images, fetches and the worker are all ours.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**NO_CACHE, "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"},
    )


@router.get("/sw.js")
def service_worker() -> FileResponse:
    # Served from the root so its scope covers the whole site; no-cache so updates reach phones.
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript; charset=utf-8",
        headers={**NO_CACHE, "Service-Worker-Allowed": "/"},
    )


@router.get("/manifest.webmanifest")
def manifest() -> FileResponse:
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json", headers=NO_CACHE)
