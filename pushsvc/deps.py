"""FastAPI dependency aliases, defined once (``SessionDep``, ``SettingsDep``, ``WorkDep``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Concatenate, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from pushsvc.config import Settings
from pushsvc.db import session_scope

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


async def get_settings_dep(request: Request) -> Settings:
    """Async on purpose: a sync dependency costs a thread-pool hop per request, and this does no I/O."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; the request boundary commits, services never do.

    Used with ``scope="function"`` so the commit runs before the answer is sent: a client told 201/204
    can read its write back at once, and a failed commit is an error it sees, not a false success.
    """
    with session_scope(request.app.state.sessionmaker) as session:
        yield session


class UnitOfWork:
    """The whole of a request's database work (session, service calls, commit) in one thread-pool hop.

    For the routes residents hit in bulk (sign-up, the portal, location refresh). A sync route with
    ``SessionDep`` costs three hops: the dependency's enter and exit and the route itself; measured on
    sign-up, the hops and their wake-ups were a quarter of the server's CPU per request. At most
    ``db.POOL_SIZE`` units run at once (``app.state.db_limiter``): with the thread pool's default 40, a
    burst opened overflow connections that the pool closed again, forking a PostgreSQL backend per
    request (sign-up at 32 in flight: 249-278 requests/s with 40 threads, 348-374 with 8, same loaded
    machine). Running the same functions on the event loop through ``AsyncSession.run_sync`` and
    psycopg's async mode cost more CPU per sign-up instead (2.56 against 2.37 ms), and there a thread
    lock held across a query deadlocks. A connection lost mid-unit gets the unit retried once. The
    boundary is ``SessionDep``'s: commit on success, roll back on any error, services never commit.
    """

    def __init__(self, factory: sessionmaker[Session], limiter: anyio.CapacityLimiter) -> None:
        self.factory = factory
        self.limiter = limiter

    async def __call__(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        def unit() -> T:
            try:
                with session_scope(self.factory) as session:
                    return fn(session, *args, **kwargs)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            # The connection died under us (a database restart; db._ping_when_idle pings only idle
            # ones) and the pool has dropped it: do the whole unit again on a fresh connection. Safe
            # for the routes that use this: sign-up is an upsert that counts a sign-up once, the rest
            # read or replace.
            log.warning("database connection lost; retrying the request's unit of work once")
            with session_scope(self.factory) as session:
                return fn(session, *args, **kwargs)

        return await anyio.to_thread.run_sync(unit, limiter=self.limiter)


async def get_work(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.sessionmaker, request.app.state.db_limiter)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
WorkDep = Annotated[UnitOfWork, Depends(get_work)]
