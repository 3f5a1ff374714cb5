"""HTTP caching for public and per-resident answers: a strong ETag, 304 on a match (portal, alerts, 避難情報)."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response, status
from pydantic import BaseModel

PUBLIC = "public, max-age=30"


def cached(request: Request, body: bytes, media_type: str, cache_control: str) -> Response:
    """A response with a strong ETag; a matching If-None-Match gets 304 and no body."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization, Accept-Language"}
    sent = [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]
    if etag in sent or "*" in sent:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def cached_model(request: Request, model: BaseModel, cache_control: str) -> Response:
    return cached(request, model.model_dump_json().encode(), "application/json", cache_control)
