"""Test fixtures: every test that uses ``db`` runs once on SQLite and once on PostgreSQL/PostGIS.

Each backend's database is built by running the Alembic migrations (never ``create_all``) and loaded
with the real Kochi boundaries from ``../shared``. After each test, every table but the boundaries is
emptied, so tests can commit freely and other processes (workers) see the same data.

PostgreSQL: ``PUSHSVC_TEST_PG_URL`` (default: the local server, trust auth). A throwaway database per
run is created and dropped. With ``PUSHSVC_TEST_REQUIRE_PG=1`` (CI) an unreachable server is an error,
not a skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from pushsvc.cache import clear_all
from pushsvc.config import Settings
from pushsvc.db import Base, make_engine, make_sessionmaker, session_scope
from pushsvc.geo import service as geo_service
from pushsvc.geo.n03 import load_boundaries
from pushsvc.main import create_app
from pushsvc.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PUSHSVC_SHARED", ROOT.parent / "shared"))
BOUNDARIES = Path(os.environ.get("PUSHSVC_TEST_BOUNDARIES", SHARED / "municipal_boundaries" / "N03-21_39_210101.json"))
PG_URL = os.environ.get("PUSHSVC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("PUSHSVC_TEST_REQUIRE_PG") == "1"
# Anything that falls back to a default path (a CLI command, Settings()) writes under a temporary directory,
# never into the checkout: the VAPID key and data files a test run makes are not the repository's.
_SCRATCH = Path(tempfile.mkdtemp(prefix="pushsvc-tests-"))
atexit.register(shutil.rmtree, _SCRATCH, True)
os.environ.setdefault("PUSHSVC_VAPID_KEY_FILE", str(_SCRATCH / "vapid.pem"))
os.environ.setdefault("PUSHSVC_DATA_DIR", str(_SCRATCH / "data"))
KEEP_TABLES = {"municipalities", "alembic_version"}


@dataclass
class TestDatabase:
    __test__ = False  # a fixture object, not a test class
    backend: str
    url: str
    engine: Engine
    sessionmaker: sessionmaker[Session]
    key_dir: Path

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": self.url,
            "boundaries": None,
            "vapid_key_file": self.key_dir / "vapid.pem",
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def clean(self) -> None:
        with self.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in KEEP_TABLES:
                    conn.execute(delete(table))
        clear_all()  # per-process snapshots (portal rivers, notices…) must not outlive the rows they copied


def _create_pg_database(extension: str = "postgis") -> tuple[str, Engine] | str:
    """A throwaway database, or why there is none (unreachable server, PostGIS not installed): checked
    before anything is created, so a skipped run leaves no ``pushsvc_test_*`` database behind."""
    admin_url = make_url(PG_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
            available = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = :n"), {"n": extension}
            ).first()
    except Exception as exc:
        if REQUIRE_PG:
            raise RuntimeError(f"PostgreSQL required but unreachable at {PG_URL}: {exc}") from exc
        return f"PostgreSQL not reachable at {PG_URL} (set PUSHSVC_TEST_REQUIRE_PG=1 to fail instead)"
    if available is None:
        admin.dispose()
        reason = (
            f"PostgreSQL at {PG_URL} has no {extension} extension installed (Debian: "
            f"apt-get install postgresql-<major>-postgis-3); the PostGIS half of the suite is skipped"
        )
        if REQUIRE_PG:
            raise RuntimeError(reason)
        return reason
    name = f"pushsvc_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return admin_url.set(database=name).render_as_string(hide_password=False), admin


def _drop_pg_database(admin: Engine, url: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    admin: Engine | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'pushsvc.db'}"
    else:
        created = _create_pg_database()
        if isinstance(created, str):
            pytest.skip(created)
        url, admin = created
    engine = make_engine(url)
    try:
        upgrade(engine)
        factory = make_sessionmaker(engine)
        with session_scope(factory) as session:
            geo_service.import_boundaries(session, load_boundaries(BOUNDARIES, prefecture="39"), source=str(BOUNDARIES))
        yield TestDatabase(request.param, url, engine, factory, tmp_path_factory.mktemp("keys"))
    finally:
        engine.dispose()
        if admin is not None:
            _drop_pg_database(admin, url)


@pytest.fixture
def db(database: TestDatabase) -> Iterator[TestDatabase]:
    yield database
    database.clean()


@pytest.fixture
def session(db: TestDatabase) -> Iterator[Session]:
    s = db.sessionmaker()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def settings(db: TestDatabase, tmp_path: Path) -> Settings:
    return db.settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port (for real browsers); yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
