from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import pushsvc.models  # noqa: F401  (registers every domain's tables on Base.metadata)
from pushsvc.db import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostGIS and SpatiaLite bring their own tables; they are not ours to manage.
    return not (type_ == "table" and name in {"spatial_ref_sys", "topology", "layer"})


def run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=False,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from pushsvc.config import get_settings

        config.set_main_option("sqlalchemy.url", get_settings().database_url)
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.begin() as conn:
        run(conn)
