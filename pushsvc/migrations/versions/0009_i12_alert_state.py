"""Alert state: what each source says is in force per area (alert_states) and every change (alert_transitions).

Revision ID: i12_alert_state
Revises: 0008_refs
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i12_alert_state"
down_revision = "0008_refs"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("phenomenon", sa.String(128), nullable=False),
        sa.Column("area", sa.String(5), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("confirmed_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("statement", sa.String(255), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            ondelete="SET NULL",
            name=op.f("fk_alert_states_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_states")),
        sa.UniqueConstraint(
            "source", "phenomenon", "area", "district", name=op.f("uq_alert_states_source_phenomenon_area_district")
        ),
    )
    op.create_index("ix_alert_states_status_area", "alert_states", ["status", "area"])
    op.create_table(
        "alert_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("statement", sa.String(255), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("notification_ids", sa.JSON(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("undoes", sa.String(16), nullable=True),
        sa.Column("stated_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert_states.id"],
            ondelete="CASCADE",
            name=op.f("fk_alert_transitions_alert_id_alert_states"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_transitions")),
    )
    op.create_index(op.f("ix_alert_transitions_alert_id"), "alert_transitions", ["alert_id"])
    op.create_index(op.f("ix_alert_transitions_statement"), "alert_transitions", ["statement"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_transitions_statement"), table_name="alert_transitions")
    op.drop_index(op.f("ix_alert_transitions_alert_id"), table_name="alert_transitions")
    op.drop_table("alert_transitions")
    op.drop_index("ix_alert_states_status_area", table_name="alert_states")
    op.drop_table("alert_states")
