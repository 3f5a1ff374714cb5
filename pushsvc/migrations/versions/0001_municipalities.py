"""Municipal boundaries (PostGIS geometry with a GiST index; WKB on SQLite).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushsvc.db import GeometryType

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "municipalities",
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("prefecture_code", sa.String(2), nullable=False),
        sa.Column("prefecture", sa.String(16), nullable=False),
        sa.Column("district", sa.String(32), nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("geom", GeometryType("MULTIPOLYGON"), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_municipalities")),
    )
    op.create_index(op.f("ix_municipalities_prefecture_code"), "municipalities", ["prefecture_code"])
    if bind.dialect.name == "postgresql":
        op.create_index("ix_municipalities_geom", "municipalities", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_table("municipalities")
