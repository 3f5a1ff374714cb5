"""The one app factory. Engines are built here from settings, never at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushsvc import __version__
from pushsvc.config import Settings, get_settings
from pushsvc.db import POOL_SIZE, make_engine, make_sessionmaker, session_scope
from pushsvc.deps import SessionDep
from pushsvc.errors import PayloadTooLarge, document_problems, install_handlers, problem_response
from pushsvc.geo import service as geo_service
from pushsvc.runtime import settle_heap
from pushsvc.webpush import identity as vapid_identity

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Refuses bodies over the limit with 413 before the app reads them, declared (Content-Length) or chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int, wider: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.wider = wider or {}  # path → its own limit (raw JMA telegrams run to megabytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.wider.get(scope.get("path", ""), self.max_bytes)
        too_large = PayloadTooLarge(f"request body exceeds {limit} bytes", field="body")
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await problem_response(too_large.to_problem(scope.get("path")))(scope, receive, send)
                return
        if any(name == b"content-length" for name, _ in scope.get("headers", [])):
            await self.app(scope, receive, send)  # the server stops reading at the declared length
            return
        # Streamed (chunked) body: read it here, up to the limit, so an oversized one is a 413 before the app
        # sees it (raising from inside the app's read turned into FastAPI's generic 400).
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await problem_response(too_large.to_problem(scope.get("path")))(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def load_boundaries_if_empty(settings: Settings, factory: Any) -> None:
    """The server loads ``PUSHSVC_BOUNDARIES`` at start when the table is empty, so a fresh deploy works."""
    if not settings.boundaries:
        return
    from pushsvc.geo.n03 import load_boundaries

    with session_scope(factory) as session:
        if geo_service.count_municipalities(session, settings.prefecture):
            return
        boundaries = load_boundaries(settings.boundaries, prefecture=settings.prefecture)
        result = geo_service.import_boundaries(session, boundaries, source=str(settings.boundaries))
        log.info("loaded %d municipalities from %s", result.municipalities, settings.boundaries)


def create_app(settings: Settings | None = None, *, migrate: bool = True, long_running: bool = False) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            from pushsvc.migrate import upgrade

            upgrade(engine)
        load_boundaries_if_empty(settings, factory)
        app.state.vapid = vapid_identity.start(settings, factory)
        if long_running:  # not in tests: frozen objects of hundreds of test apps would never be freed
            settle_heap()
        yield
        engine.dispose()

    # FastAPIOffline: Swagger UI and ReDoc from assets shipped in the package, not a CDN a closed network blocks.
    app = FastAPIOffline(
        static_url="/docs-assets",
        title="pushsvc",
        version=__version__,
        description="Location-targeted disaster and area notifications by Web Push.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = factory
    app.state.db_limiter = anyio.CapacityLimiter(POOL_SIZE)  # see deps.UnitOfWork
    install_handlers(app)
    document_problems(app)
    from pushsvc.feeds.pushin_api import PATH as JMA_PUSH_PATH

    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, wider={JMA_PUSH_PATH: settings.jma_push_max_bytes}
    )
    from pushsvc.metrics import RequestTimer, api_registry
    from pushsvc.metrics import router as metrics_router

    app.state.metrics_registry, request_histogram = api_registry(factory, settings)
    app.add_middleware(RequestTimer, histogram=request_histogram)

    from pushsvc.geo.api import router as geo_router

    app.include_router(geo_router)

    from pushsvc.subscriptions.api import router as subscriptions_router
    from pushsvc.subscriptions.page import STATIC
    from pushsvc.subscriptions.page import router as page_router

    app.include_router(subscriptions_router)
    from fastapi import Depends

    from pushsvc.delivery.api import router as delivery_router
    from pushsvc.operators.auth import require_bootstrap_admin

    app.include_router(delivery_router, dependencies=[Depends(require_bootstrap_admin)])
    from pushsvc.feeds.api import router as feeds_router

    app.include_router(feeds_router)
    from pushsvc.feeds.pushin_api import router as jma_push_router

    app.include_router(jma_push_router)
    from pushsvc.operators.api import router as operators_router

    app.include_router(operators_router)
    app.include_router(page_router)
    from pushsvc.console.page import router as console_router

    app.include_router(console_router)
    from pushsvc.kpi import service as kpi_service
    from pushsvc.kpi.api import router as kpi_router
    from pushsvc.portal.api import router as portal_router
    from pushsvc.shelters.api import router as shelters_router

    app.include_router(portal_router)
    app.include_router(shelters_router)
    from pushsvc.evacuation.api import router as evacuation_router

    app.include_router(evacuation_router)
    app.include_router(kpi_router)
    app.include_router(metrics_router)
    from pushsvc.operators.training_api import router as training_router

    app.include_router(training_router)
    kpi_service.listen()  # KPI counts the subscriptions domain's events (pushsvc/events.py)
    from pushsvc.i18n.api import router as i18n_router

    app.include_router(i18n_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["ops"])
    def healthz(db_session: SessionDep) -> JSONResponse:
        try:
            db_session.execute(text("SELECT 1"))
            count = geo_service.count_municipalities(db_session, settings.prefecture)
        except Exception as exc:  # the database being down is the one thing this must report
            log.warning("health check failed: %s", exc)
            return problem_response(
                {
                    "type": "about:blank",
                    "title": "Database unavailable",
                    "status": 503,
                    "detail": "the database did not answer",
                    "database": engine.dialect.name,
                }
            )
        status = "ok" if count else "degraded"
        return JSONResponse({"status": status, "database": engine.dialect.name, "municipalities": count})

    return app


def create_served_app() -> FastAPI:
    """The factory ``pushsvc serve`` gives uvicorn: the app in a long-running worker process."""
    return create_app(long_running=True)
