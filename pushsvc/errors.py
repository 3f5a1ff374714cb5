"""Typed errors rendered as RFC 9457 problem details, so every client sees the same shape."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Relative: resolved against the server that answered, which explains each type at /problems/{slug}.
TYPE_BASE = "/problems/"


class ProblemError(Exception):
    """An error that knows its HTTP status and, where a field is to blame, which one."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.headers = headers
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.field:
            body["field"] = self.field
            body["errors"] = [{"field": self.field, "detail": self.detail}]
        return body


class ValidationProblem(ProblemError):
    status = 422
    title = "Invalid input"
    slug = "invalid-input"


class OutsideServiceArea(ValidationProblem):
    title = "Outside the service area"
    slug = "outside-service-area"


class NotFound(ProblemError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Unauthorized(ProblemError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(ProblemError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class Conflict(ProblemError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class PayloadTooLarge(ProblemError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class TooManyRequests(ProblemError):
    status = 429
    title = "Too many requests"
    slug = "too-many-requests"


class RateLimiter:
    """A sliding one-minute window per key (an operator, a client address), in memory, per process.

    The one limiter of the service: operator tokens, failed operator logins and KPI events each hold
    one. Keys are never stored; past ``max_keys`` the oldest state is dropped rather than grow.
    """

    def __init__(self, per_minute: int, *, window_s: float = 60.0, max_keys: int = 50_000) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: dict[object, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: object, now: float) -> deque[float]:
        if key not in self._hits and len(self._hits) >= self.max_keys:
            self._hits.clear()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def wait(self, key: object, now: float | None = None) -> float | None:
        """None if ``key`` may go on (nothing counted); otherwise seconds until it may."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._recent(key, now)
            return self.window_s - (now - hits[0]) if len(hits) >= self.per_minute else None

    def hit(self, key: object, now: float | None = None) -> int:
        """Count one event for ``key``; returns how many it has in the window, this one included."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._recent(key, now)
            hits.append(now)
            return len(hits)

    def check(self, key: object, now: float | None = None) -> float | None:
        """None if allowed (and counted); otherwise seconds until the next event would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._recent(key, now)
            if len(hits) >= self.per_minute:
                return self.window_s - (now - hits[0])
            hits.append(now)
            return None

    def enforce(self, key: object, detail: str, now: float | None = None) -> None:
        """``check``, raising 429 with ``Retry-After`` when over the limit."""
        wait = self.check(key, now)
        if wait is not None:
            raise TooManyRequests(detail, headers={"Retry-After": str(max(1, int(wait) + 1))})


def limiter_of(state: Any, name: str, per_minute: int) -> RateLimiter:
    """The limiter an app keeps on ``app.state`` under ``name``, made afresh if its setting changed."""
    limiter: RateLimiter | None = getattr(state, name, None)
    if limiter is None or limiter.per_minute != per_minute:
        limiter = RateLimiter(per_minute)
        setattr(state, name, limiter)
    return limiter


class ServiceUnavailable(ProblemError):
    status = 503
    title = "Service unavailable"
    slug = "service-unavailable"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=int(body["status"]), media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: Sequence[Any]) -> str:
    """('body', 'places', 0, 'lat') -> 'places[0].lat'; the request part ('query', 'body') is dropped."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or (str(loc[0]) if loc else "body")


def _wants_page(request: Request) -> bool:
    """A resident's browser opening a page (not the JSON API) gets an HTML error page, not problem JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/metrics", "/healthz", "/static/", "/docs-assets/")):
        return False
    return "text/html" in request.headers.get("accept", "")


_PAGE_TEXT = {
    404: ("ページが見つかりません", "お探しのページは見つかりませんでした。削除されたか、番号が違う可能性があります。")
}


def html_error(status: int) -> HTMLResponse:
    title, text = _PAGE_TEXT.get(status, ("エラーが発生しました", "しばらくしてからもう一度お試しください。"))
    body = (
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width,initial-scale=1"><title>{title}</title></head><body>'
        f'<main><h1>{title}</h1><p>{text}</p><p><a href="/">トップページへ</a></p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": "default-src 'none'"})


def problem_types() -> dict[str, str]:
    """slug -> title of every problem type this server answers with (for /problems/{slug})."""
    found: dict[str, str] = {}
    todo: list[type[ProblemError]] = [ProblemError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.slug, cls.title)
        todo.extend(cls.__subclasses__())
    return found


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        if _wants_page(request):
            return html_error(exc.status)
        return problem_response(exc.to_problem(request.url.path), exc.headers)

    @app.get("/problems/{slug}", include_in_schema=False)
    async def _problem_type(slug: str) -> Response:
        title = problem_types().get(slug)
        if title is None:
            return html_error(404)
        return HTMLResponse(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"</head><body><h1>{title}</h1><p>Problem type <code>{slug}</code> of the pushsvc API "
            f"(RFC 9457). The body names the offending <code>field</code>.</p></body></html>"
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(e.get("loc", ())), "detail": str(e.get("msg", "invalid"))} for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "detail": "invalid"}
        body = {
            "type": TYPE_BASE + "invalid-input",
            "title": "Invalid input",
            "status": 422,
            "detail": f"{first['field']}: {first['detail']}",
            "instance": request.url.path,
            "field": first["field"],
            "errors": errors,
        }
        return problem_response(body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_page(request) and exc.status_code == 404:
            return html_error(404)
        body = {
            "type": "about:blank",
            "title": str(exc.detail) if exc.status_code != 404 else "Not found",
            "status": exc.status_code,
            "detail": str(exc.detail),
            "instance": request.url.path,
        }
        return problem_response(body, getattr(exc, "headers", None))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            return await _unexpected(request, exc)
        log.warning("database connection lost on %s %s", request.method, request.url.path)
        problem = ServiceUnavailable("the database connection was lost; try again")
        return problem_response(problem.to_problem(request.url.path), {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {
            "type": "about:blank",
            "title": "Internal server error",
            "status": 500,
            "detail": "The server failed to handle this request; nothing was changed.",
            "instance": request.url.path,
        }
        return problem_response(body)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; ``field`` names the input to blame, where there is one",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}},
        },
    },
}


def document_problems(app: FastAPI) -> None:
    """Every error answer in the OpenAPI document is what the handlers above send: problem JSON.

    FastAPI documents its 422 as ``application/json`` with its own shape and nothing else; here each
    operation's error responses, and a ``default`` for the statuses any route may give (401, 403, 404,
    409, 413, 429, 503), point at one ``Problem`` schema, so a client (or schemathesis) can rely on them.
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = original()
        spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in spec.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = problem
                        response.setdefault("description", "problem details")
                responses["default"] = {"description": "an error, as problem details", "content": problem}
        for name in ("HTTPValidationError", "ValidationError"):
            spec["components"]["schemas"].pop(name, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
