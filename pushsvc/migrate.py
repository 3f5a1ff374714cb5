"""Run Alembic migrations from code, on either backend (also used by tests: no ``create_all``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The migration scripts' heads: they are files of this package, read once per process."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    """What ``alembic_version`` says the database is at; empty when it has never been migrated."""
    try:
        with engine.connect() as conn:
            return frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:  # no alembic_version table yet
        return frozenset()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade under an advisory lock on PostgreSQL so several API workers can start at once.

    A database already at head is left alone after one ``SELECT``: running Alembic to find nothing to
    do cost 6-7 ms on SQLite and ~18 ms on PostgreSQL per app start, and the test suite starts an app
    several hundred times per backend on a database its fixture migrated once.
    """
    if revision == "head" and current_revisions(engine) == head_revisions():
        return
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(4815162342)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
