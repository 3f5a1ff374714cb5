"""Web Push subscriptions, their places (GiST on PostgreSQL), and the VAPID key fingerprint.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushsvc.db import GeometryType

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("p256dh", sa.String(128), nullable=False),
        sa.Column("auth", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("categories_mask", sa.Integer(), nullable=False),
        sa.Column("follow_current_location", sa.Boolean(), nullable=False),
        sa.Column("test_device", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_subscriptions_endpoint")),
    )
    op.create_table(
        "subscription_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(40), nullable=True),
        sa.Column("municipality_code", sa.String(5), nullable=False),
        sa.Column("match", sa.String(12), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("geom", GeometryType("POINT"), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_places_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_places")),
    )
    op.create_index(op.f("ix_subscription_places_subscription_id"), "subscription_places", ["subscription_id"])
    op.create_index(op.f("ix_subscription_places_municipality_code"), "subscription_places", ["municipality_code"])
    # SQLite has no spatial index: area targeting there prefilters on a bounding box over these columns.
    op.create_index("ix_subscription_places_lat_lon", "subscription_places", ["lat", "lon"])
    if bind.dialect.name == "postgresql":
        op.create_index("ix_subscription_places_geom", "subscription_places", ["geom"], postgresql_using="gist")
    op.create_table(
        "vapid_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vapid_identity")),
    )


def downgrade() -> None:
    op.drop_table("vapid_identity")
    op.drop_table("subscription_places")
    op.drop_table("subscriptions")
