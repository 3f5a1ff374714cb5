"""避難情報: saved district areas, evacuation orders, shelters' open/closed state, and the notification
fields (extra, Topic) an operator message carries for domains that send through operators.

Revision ID: i16_evacuation
Revises: i18_training_enrol
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushsvc.db import GeometryType

revision = "i16_evacuation"
down_revision = "i18_training_enrol"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evacuation_districts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(5), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_en", sa.String(80), nullable=False),
        sa.Column("geom", GeometryType("GEOMETRY"), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evacuation_districts")),
        sa.UniqueConstraint("municipality_code", "name", name=op.f("uq_evacuation_districts_municipality_code")),
    )
    op.create_index(op.f("ix_evacuation_districts_municipality_code"), "evacuation_districts", ["municipality_code"])
    op.create_table(
        "evacuation_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(5), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("hazards", sa.JSON(), nullable=False),
        sa.Column("area_kind", sa.String(16), nullable=False),
        sa.Column("districts", sa.JSON(), nullable=False),
        sa.Column("area", GeometryType("GEOMETRY"), nullable=True),
        sa.Column("area_label", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("shelter_ids", sa.JSON(), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("pending_message_id", sa.Integer(), nullable=True),
        sa.Column("pending", sa.JSON(), nullable=True),
        sa.Column("single_issuer", sa.Boolean(), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("cap_sender", sa.String(255), nullable=True),
        sa.Column("cap_identifier", sa.String(255), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("lifted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evacuation_orders")),
    )
    for col in ("municipality_code", "status", "pending_message_id", "cap_identifier"):
        op.create_index(op.f(f"ix_evacuation_orders_{col}"), "evacuation_orders", [col])
    op.create_table(
        "shelter_states",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.String(16), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_shelter_states")),
    )
    op.add_column("operator_messages", sa.Column("extra", sa.JSON(), nullable=True))
    op.add_column("operator_messages", sa.Column("topic", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operator_messages") as batch:
        batch.drop_column("topic")
        batch.drop_column("extra")
    op.drop_table("shelter_states")
    for col in ("cap_identifier", "pending_message_id", "status", "municipality_code"):
        op.drop_index(op.f(f"ix_evacuation_orders_{col}"), table_name="evacuation_orders")
    op.drop_table("evacuation_orders")
    op.drop_index(op.f("ix_evacuation_districts_municipality_code"), table_name="evacuation_districts")
    op.drop_table("evacuation_districts")
