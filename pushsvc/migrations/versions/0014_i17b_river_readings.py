"""Gauge readings kept for the resident page's charts (pruned by housekeeping).

Revision ID: i17b_river_readings
Revises: i15_quakes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i17b_river_readings"
down_revision = "i15_quakes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "river_readings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("station", sa.String(32), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.UniqueConstraint("station", "observed_at", name="uq_river_readings_station_at"),
    )
    op.create_index("ix_river_readings_observed_at", "river_readings", ["observed_at"])


def downgrade() -> None:
    op.drop_index("ix_river_readings_observed_at", table_name="river_readings")
    op.drop_table("river_readings")
