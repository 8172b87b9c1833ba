# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bare-metal nodes: their provision state, the whole-node claim, and their event log.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "baremetal_nodes",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("provision_state", sa.String(32), nullable=False, server_default="enroll"),
        sa.Column("target_provision_state", sa.String(32)),
        sa.Column("power_state", sa.String(16)),
        sa.Column("maintenance", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("maintenance_reason", sa.Text),
        sa.Column("instance_uuid", sa.String(36), unique=True),
        sa.Column("last_error", sa.Text),
        sa.Column("inspected", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("provision_updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "baremetal_node_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("node", sa.String(255), nullable=False, index=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32)),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("instance_uuid", sa.String(36)),
        sa.Column("request_id", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("project_id", sa.String(255)),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("baremetal_node_events")
    op.drop_table("baremetal_nodes")
