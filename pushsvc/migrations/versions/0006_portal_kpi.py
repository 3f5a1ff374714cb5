"""Evacuation sites, portal notices and acknowledgements, KPI events and daily counts.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushsvc.db import GeometryType

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "shelters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("municipality_code", sa.String(5), nullable=False),
        sa.Column("hazards_mask", sa.Integer(), nullable=False),
        sa.Column("also_evacuation_centre", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("geom", GeometryType("POINT"), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("imported_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelters")),
        sa.UniqueConstraint("site_id", name=op.f("uq_shelters_site_id")),
    )
    op.create_index(op.f("ix_shelters_municipality_code"), "shelters", ["municipality_code"])
    if bind.dialect.name == "postgresql":
        op.create_index("ix_shelters_geom", "shelters", ["geom"], postgresql_using="gist")
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("important", sa.Boolean(), nullable=False),
        sa.Column("municipality_codes", sa.JSON(), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_index(op.f("ix_notices_expires_at"), "notices", ["expires_at"])
    op.create_table(
        "notice_acks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("acked_at", TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], ondelete="CASCADE", name=op.f("fk_notice_acks_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            ondelete="CASCADE",
            name=op.f("fk_notice_acks_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_acks")),
        sa.UniqueConstraint("notice_id", "subscription_id", name=op.f("uq_notice_acks_notice_id")),
    )
    op.create_index(op.f("ix_notice_acks_subscription_id"), "notice_acks", ["subscription_id"])
    op.create_table(
        "kpi_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("municipality_code", sa.String(5), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_events")),
    )
    op.create_index(op.f("ix_kpi_events_day"), "kpi_events", ["day"])
    op.create_table(
        "kpi_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("municipality_code", sa.String(5), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_daily")),
        sa.UniqueConstraint("day", "kind", "municipality_code", "category", name=op.f("uq_kpi_daily_day")),
    )
    op.create_index(op.f("ix_kpi_daily_day"), "kpi_daily", ["day"])
    op.create_table(
        "kpi_salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_kpi_salts")),
    )
    op.create_table(
        "kpi_visitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_visitors")),
        sa.UniqueConstraint("day", "digest", name=op.f("uq_kpi_visitors_day")),
    )


def downgrade() -> None:
    for table in ("kpi_visitors", "kpi_salts", "kpi_daily", "kpi_events", "notice_acks", "notices", "shelters"):
        op.drop_table(table)
