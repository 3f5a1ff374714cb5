"""A notification whose recipients are still being appended after its first batch was committed; one that a
follow-up (取消, correction) references, marked on its own row.

Revision ID: i15b_appending
Revises: i17b_river_readings
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i15b_appending"
down_revision = "i17b_river_readings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("appending", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("followed_up", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Workers look for unfinished appends every few seconds: only the (rare) appending rows are indexed.
    op.create_index(
        "ix_notifications_appending",
        "notifications",
        ["created_at"],
        postgresql_where=sa.text("appending"),
        sqlite_where=sa.text("appending"),
    )
    op.execute(
        "UPDATE notifications SET followed_up = true WHERE id IN (SELECT reference_id FROM notification_references)"
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_appending", "notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("followed_up")
        batch.drop_column("appending")
