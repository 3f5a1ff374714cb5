"""The schema is built by migrations alone: one head, and the models match what they create.

"Match" is what ``alembic check`` means: tables, columns, column types, nullability, indexes and unique
constraints, on both backends. The one difference allowed: the PostGIS GiST indexes on geometry columns,
which the migrations create on PostgreSQL only (SQLite stores geometry as WKB bytes, unindexed).
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Index, MetaData, Text
from sqlalchemy.engine import Connection

import pushsvc.models  # noqa: F401  (registers every table)
from pushsvc.db import Base
from pushsvc.migrate import alembic_config
from tests.conftest import TestDatabase


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and name in {"spatial_ref_sys", "alembic_version"}:
        return False
    postgis_only = (
        type_ == "index"
        and reflected
        and compare_to is None
        and obj.dialect_options["postgresql"].get("using") == "gist"
    )
    return not postgis_only


def schema_drift(conn: Connection, metadata: MetaData) -> list[Any]:
    """What ``alembic check`` would report between the migrated database and ``metadata``."""
    ctx = MigrationContext.configure(conn, opts={"include_object": _include, "compare_type": True})
    return list(compare_metadata(ctx, metadata))


def test_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_models_match_the_migrated_schema(db: TestDatabase) -> None:
    with db.engine.connect() as conn:
        assert schema_drift(conn, Base.metadata) == []


def test_a_changed_type_nullability_or_index_is_drift(db: TestDatabase) -> None:
    """The comparison above can fail: a model that changed a column's type, its nullability or an index."""
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    subscriptions = changed.tables["subscriptions"]
    subscriptions.c.endpoint.type = Text()
    subscriptions.c.created_at.nullable = not subscriptions.c.created_at.nullable
    Index("ix_subscriptions_lang", subscriptions.c.lang)
    with db.engine.connect() as conn:
        drift = schema_drift(conn, changed)
    flat = [d for entry in drift for d in (entry if isinstance(entry, list) else [entry])]
    kinds = {(d[0], d[3] if d[0].startswith("modify") else d[1].name) for d in flat}
    assert kinds == {
        ("modify_type", "endpoint"),
        ("modify_nullable", "created_at"),
        ("add_index", "ix_subscriptions_lang"),
    }
