"""Merge the alert-state/quake chain (i12, i15) with the delivery priority lanes (i13), built in parallel.

Revision ID: i15_merge_lanes
Revises: i15_quakes, i13_priority
Create Date: 2026-12-01
"""
from __future__ import annotations

revision = "i15_merge_lanes"
down_revision = ("i15_quakes", "i13_priority")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
