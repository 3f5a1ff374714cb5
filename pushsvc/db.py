"""Engine, sessions and the geometry column type shared by both backends.

The engine is built by ``make_engine`` from settings, never at import time, so tests and workers each
choose their database. Services never commit: the request or job boundary does (``session_scope``).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import shapely
from geoalchemy2 import Geometry, WKBElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import DateTime, LargeBinary, MetaData, Table, event
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect, Engine, create_engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

log = logging.getLogger(__name__)

SRID = 4326
# Connections kept open per process. Beyond it the pool opens overflow connections and closes them on
# return, and every PostgreSQL connection forks a backend: hot routes stay within it (deps.UnitOfWork).
POOL_SIZE = 10

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class GeometryType(TypeDecorator[BaseGeometry]):
    """A shapely geometry in SRID 4326: a PostGIS ``geometry`` column on PostgreSQL, WKB bytes on SQLite.

    Python code always sees shapely objects, so services need not care which backend is underneath;
    spatial *queries* still go to PostGIS where it exists (see ``pushsvc.geo.service``).
    """

    impl = LargeBinary
    cache_ok = True
    # Read by GeoAlchemy2's DDL hooks: the GiST index is created by our migrations, not by them.
    spatial_index = False
    use_N_D_index = False
    management = False
    use_typmod = None
    srid = SRID
    dimension = 2

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        # GeoAlchemy2's DDL hooks ask with no dialect; we manage our own GiST indexes in migrations.
        if dialect is None:
            return LargeBinary()
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Geometry(self.geometry_type, srid=SRID, spatial_index=False))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return from_shape(value, srid=SRID)
        return shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if isinstance(value, WKBElement):
            return to_shape(value)
        if isinstance(value, str):
            return shapely.from_wkb(bytes.fromhex(value))
        return shapely.from_wkb(bytes(value))


def table_of(model: type[Base]) -> Table:
    """A model's Core table, for statements built once and run on a connection (hot paths)."""
    return cast(Table, model.__table__)


_cache_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def cache_key(db_session: Session) -> str:
    """What per-process caches are keyed by: the database (so tests on two backends in one process never
    share an entry), as the engine's URL rendered once per engine; rendering it per lookup showed in
    profiles of the sign-up hot path."""
    engine = db_session.get_bind().engine
    key = _cache_keys.get(engine)
    if key is None:
        key = _cache_keys[engine] = str(engine.url)
    return key


def is_postgres(bind: Engine | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


class _SQLiteUtcDateTime(SQLITE_DATETIME):
    """``DateTime(timezone=True)`` on SQLite as on PostgreSQL: stored in UTC, read back aware (UTC).

    SQLite has no zone type: by default an aware value was stored as its wall-clock time and read back
    naive, which the API then sent without a zone and browsers took as local time (9 h off in Japan).
    """

    def bind_processor(self, dialect: Dialect) -> Any:
        base = super().bind_processor(dialect)

        def process(value: Any) -> Any:
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return base(value) if base else value

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        base = super().result_processor(dialect, coltype)
        if not self.timezone:
            return base

        def process(value: Any) -> Any:
            out = base(value) if base else value
            return out.replace(tzinfo=UTC) if isinstance(out, datetime) and out.tzinfo is None else out

        return process


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: _SQLiteUtcDateTime}

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


# A connection that sat in the pool this long is pinged before use; one used more recently is not.
PING_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections that have been idle, and only for those.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: measured 90-170 us of CPU and a round trip
    per transaction, ~7% of a sign-up. A database restart or a killed backend is found on a connection
    that waited in the pool; one used under a second ago almost always still works, and when it does
    not, the disconnect invalidates the pool and ``deps.UnitOfWork`` retries once, while other routes
    answer 503 (``errors.install_handlers``). Raising DisconnectionError makes the pool take another.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:  # a brand-new connection needs no ping either
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", float("-inf")) < PING_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("ping failed")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


AFTER_COMMIT = "pushsvc.after_commit"


def after_commit(db_session: Session, step: Callable[[Session], object]) -> None:
    """Run ``step`` once this unit of work has committed, in a transaction of its own (then committed too).

    For work that must not make what was just committed wait: a 緊急地震速報's first batch is committed
    and leased while the rest of its recipients are still being written. Services never commit; the
    boundary (``session_scope``, so every request, job and CLI command) runs the steps in order. A step
    that fails is rolled back and logged, not raised: what committed stands, and the step must be one
    that is resumed from the database (delivery's ``resume_appending``).
    """
    db_session.info.setdefault(AFTER_COMMIT, []).append(step)


def _run_after_commit(session: Session) -> None:
    while steps := session.info.pop(AFTER_COMMIT, None):
        for step in steps:
            try:
                step(session)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("a step after commit failed; it is resumed from the database")


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """The unit-of-work boundary for CLI commands and jobs: commit on success, roll back on error;
    then the steps queued with ``after_commit``."""
    session = factory()
    try:
        try:
            yield session
            session.commit()
        except BaseException:
            session.info.pop(AFTER_COMMIT, None)
            session.rollback()
            raise
        _run_after_commit(session)
    finally:
        session.close()
