"""Operators, area presets, operator messages, their municipalities, and the append-only audit log.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushsvc.db import GeometryType

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("municipalities", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("name", name=op.f("uq_operators_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_operators_token_hash")),
    )
    op.create_table(
        "area_presets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("geom", GeometryType("GEOMETRY"), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["operators.id"], name=op.f("fk_area_presets_created_by_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_presets")),
        sa.UniqueConstraint("name", name=op.f("uq_area_presets_name")),
    )
    op.create_table(
        "operator_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("area", GeometryType("GEOMETRY"), nullable=True),
        sa.Column("target_codes", sa.JSON(), nullable=False),
        sa.Column("prefecture_wide", sa.Boolean(), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("cap_identifier", sa.String(255), nullable=True),
        sa.Column("cap_sender", sa.String(255), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("scheduled_at", TS, nullable=True),
        sa.Column("approval_deadline", TS, nullable=True),
        sa.Column("approved_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["operators.id"], name=op.f("fk_operator_messages_author_id_operators")),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["operators.id"], name=op.f("fk_operator_messages_approver_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"], ["operator_messages.id"], name=op.f("fk_operator_messages_reference_id_operator_messages")
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"], ["notifications.id"], name=op.f("fk_operator_messages_notification_id_notifications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_messages")),
    )
    op.create_index(op.f("ix_operator_messages_status"), "operator_messages", ["status"])
    op.create_index(op.f("ix_operator_messages_author_id"), "operator_messages", ["author_id"])
    op.create_index(op.f("ix_operator_messages_cap_identifier"), "operator_messages", ["cap_identifier"])
    op.create_table(
        "message_municipalities",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(5), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["operator_messages.id"],
            ondelete="CASCADE",
            name=op.f("fk_message_municipalities_message_id_operator_messages"),
        ),
        sa.PrimaryKeyConstraint("message_id", "municipality_code", name=op.f("pk_message_municipalities")),
    )
    op.create_index(
        op.f("ix_message_municipalities_municipality_code"), "message_municipalities", ["municipality_code"]
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("operator_name", sa.String(80), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_operator_id"), "audit_log", ["operator_id"])
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("message_municipalities")
    op.drop_table("operator_messages")
    op.drop_table("area_presets")
    op.drop_table("operators")
