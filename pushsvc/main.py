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
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushsvc import __version__
from pushsvc.config import Settings, get_settings
from pushsvc.db import POOL_SIZE, make_engine, make_sessionmaker, session_scope
from pushsvc.deps import SessionDep
from pushsvc.errors import PayloadTooLarge, install_handlers, problem_response
from pushsvc.geo import service as geo_service
from pushsvc.runtime import settle_heap
from pushsvc.subscriptions import identity as vapid_identity

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Refuses bodies over the limit with 413 before the app reads them, declared or streamed."""

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
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large
            return message

        await self.app(scope, limited, send)


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

    app = FastAPI(
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
    from pushsvc.feeds.pushin_api import PATH as JMA_PUSH_PATH

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       wider={JMA_PUSH_PATH: settings.jma_push_max_bytes})

    from pushsvc.geo.api import router as geo_router

    app.include_router(geo_router)

    from pushsvc.subscriptions.api import router as subscriptions_router
    from pushsvc.subscriptions.page import STATIC
    from pushsvc.subscriptions.page import router as page_router

    app.include_router(subscriptions_router)
    from pushsvc.delivery.api import router as delivery_router

    app.include_router(delivery_router)
    from pushsvc.feeds.api import router as feeds_router

    app.include_router(feeds_router)
    from pushsvc.feeds.pushin_api import router as jma_push_router

    app.include_router(jma_push_router)
    from pushsvc.operators.api import router as operators_router

    app.include_router(operators_router)
    app.include_router(page_router)
    from pushsvc.console.page import router as console_router

    app.include_router(console_router)
    from pushsvc.kpi.api import router as kpi_router
    from pushsvc.portal.api import router as portal_router
    from pushsvc.shelters.api import router as shelters_router

    app.include_router(portal_router)
    app.include_router(shelters_router)
    app.include_router(kpi_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["ops"])
    def healthz(db_session: SessionDep) -> JSONResponse:
        try:
            db_session.execute(text("SELECT 1"))
            count = geo_service.count_municipalities(db_session, settings.prefecture)
        except Exception as exc:  # the database being down is the one thing this must report
            log.warning("health check failed: %s", exc)
            return problem_response({
                "type": "about:blank", "title": "Database unavailable", "status": 503,
                "detail": "the database did not answer", "database": engine.dialect.name,
            })
        status = "ok" if count else "degraded"
        return JSONResponse({"status": status, "database": engine.dialect.name, "municipalities": count})

    return app


def create_served_app() -> FastAPI:
    """The factory ``pushsvc serve`` gives uvicorn: the app in a long-running worker process."""
    return create_app(long_running=True)
