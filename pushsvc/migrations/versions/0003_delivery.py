"""Notifications, delivery batches leased by workers, and failed attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushsvc.db import GeometryType

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("target_codes", sa.JSON(), nullable=False),
        sa.Column("target_geom", GeometryType("GEOMETRY"), nullable=True),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        *[
            sa.Column(n, sa.Integer(), nullable=False)
            for n in ("targeted", "sent", "gone", "failed", "retrying", "expired")
        ],
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("first_sent_at", TS, nullable=True),
        sa.Column("half_sent_at", TS, nullable=True),
        sa.Column("last_sent_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["reference_id"], ["notifications.id"], name=op.f("fk_notifications_reference_id_notifications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_status"), "notifications", ["status"])
    op.create_table(
        "delivery_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pending_ids", sa.JSON(), nullable=False),
        sa.Column("sent_ids", sa.JSON(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retrying", sa.Integer(), nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            ondelete="CASCADE",
            name=op.f("fk_delivery_batches_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_batches")),
    )
    op.create_index(op.f("ix_delivery_batches_notification_id"), "delivery_batches", ["notification_id"])
    op.create_index("ix_delivery_batches_claim", "delivery_batches", ["status", "not_before"])
    op.create_table(
        "delivery_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            ondelete="CASCADE",
            name=op.f("fk_delivery_failures_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_failures")),
    )
    op.create_index(op.f("ix_delivery_failures_notification_id"), "delivery_failures", ["notification_id"])


def downgrade() -> None:
    op.drop_table("delivery_failures")
    op.drop_table("delivery_batches")
    op.drop_table("notifications")
