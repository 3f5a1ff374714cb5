"""Every notification a follow-up references, not only the first (a JMA 取消 can withdraw several).

Existing single references are copied in, so follow-up delivery reads one table.

Revision ID: 0008_refs
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_refs"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_references",
        sa.Column(
            "notification_id", sa.Integer(), sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("reference_id", sa.Integer(), sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", "reference_id"),
    )
    op.create_index("ix_notification_references_reference_id", "notification_references", ["reference_id"])
    op.execute(
        "INSERT INTO notification_references (notification_id, reference_id) "
        "SELECT id, reference_id FROM notifications WHERE reference_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_notification_references_reference_id", table_name="notification_references")
    op.drop_table("notification_references")
