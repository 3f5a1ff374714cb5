"""Priority lanes: a notification's lane, copied onto each of its batches and claimed most urgent first.

Revision ID: i13_priority
Revises: i16_evacuation
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i13_priority"
down_revision = "i16_evacuation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="3"))
    with op.batch_alter_table("delivery_batches") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="3"))
    # Existing rows: the lane their severity would get today (EEW/tsunami producers set it from now on).
    for table in ("notifications",):
        op.execute(
            f"UPDATE {table} SET priority = CASE WHEN category = 'quake_tsunami' AND severity IN "
            "('warning', 'emergency') THEN 0 WHEN severity = 'emergency' THEN 1 "
            "WHEN severity = 'warning' THEN 2 ELSE 3 END"
        )
    op.execute(
        "UPDATE delivery_batches SET priority = (SELECT n.priority FROM notifications n "
        "WHERE n.id = delivery_batches.notification_id)"
    )
    op.create_index("ix_delivery_batches_lane", "delivery_batches", ["status", "priority", "not_before"])


def downgrade() -> None:
    op.drop_index("ix_delivery_batches_lane", table_name="delivery_batches")
    with op.batch_alter_table("delivery_batches") as batch:
        batch.drop_column("priority")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("priority")
