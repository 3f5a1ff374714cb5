"""Earthquakes and push-in telegrams: a minimum 震度 per subscription, and the relays allowed to push JMA XML.

Revision ID: i15_quakes
Revises: i13_priority
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i15_quakes"
down_revision = "i13_priority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("min_quake_intensity", sa.Integer(), nullable=False, server_default="3"))
    op.create_table(
        "feed_push_sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("feed_push_sources")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("min_quake_intensity")
