"""Feeds: poll state per source, alerts sent from feeds (dedupe, 取消 lookup), river stations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feed_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("etag", sa.String(256), nullable=True),
        sa.Column("last_modified", sa.String(64), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("last_change_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", TS, nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_feed_sources_name")),
    )
    op.create_table(
        "feed_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_key", sa.String(255), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("municipalities", sa.JSON(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            ondelete="SET NULL",
            name=op.f("fk_feed_alerts_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_alerts")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_feed_alerts_alert_key")),
    )
    op.create_index(op.f("ix_feed_alerts_source"), "feed_alerts", ["source"])
    op.create_index(op.f("ix_feed_alerts_event_id"), "feed_alerts", ["event_id"])
    op.create_table(
        "river_stations",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("river", sa.String(128), nullable=True),
        sa.Column("municipality", sa.String(5), nullable=False),
        sa.Column("downstream", sa.JSON(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        *[
            sa.Column(f"{n}_level", sa.Float(), nullable=True)
            for n in ("start", "standby", "caution", "evacuation", "danger", "flooding")
        ],
        sa.Column("level", sa.Float(), nullable=True),
        sa.Column("observed_at", TS, nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_river_stations")),
    )
    op.create_index(op.f("ix_river_stations_municipality"), "river_stations", ["municipality"])


def downgrade() -> None:
    op.drop_table("river_stations")
    op.drop_table("feed_alerts")
    op.drop_table("feed_sources")
