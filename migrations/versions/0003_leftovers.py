# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leftovers: what a host still holds of an instance that left it (delete while the host was
down, a replaced server, the remains of a failed build that could not be cleaned at once).

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "leftovers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False, index=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("vcpus", sa.Integer, nullable=False, server_default="0"),
        sa.Column("memory_mb", sa.Integer, nullable=False, server_default="0"),
        sa.Column("disk_gb", sa.Integer, nullable=False, server_default="0"),
        sa.Column("addresses", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("host", "instance_uuid", name="uniq_leftovers0host_instance"),
    )


def downgrade() -> None:
    op.drop_table("leftovers")
