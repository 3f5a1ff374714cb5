"""The schema is built by migrations alone: one head, and the models match what they create."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import pushsvc.models  # noqa: F401  (registers every table)
from pushsvc.db import Base
from pushsvc.migrate import alembic_config
from tests.conftest import TestDatabase


def test_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_models_match_the_migrated_schema(db: TestDatabase) -> None:
    def include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
        return not (type_ == "table" and name in {"spatial_ref_sys", "alembic_version"})

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include, "compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    # Index and constraint names are ours to choose per backend; tables and columns must match.
    structural = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")]
    assert structural == []
