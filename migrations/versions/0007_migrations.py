# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migrations (Nova's migration records): a resize, cold migration or live migration of a server between
hosts, with its status; while it is under way (and until a resize is confirmed) the source host keeps the
server's old resources.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "migrations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("migration_type", sa.String(32), nullable=False),
        sa.Column("source_compute", sa.String(255), nullable=False, index=True),
        sa.Column("dest_compute", sa.String(255), nullable=False, index=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("old_flavor", sa.JSON, nullable=False),
        sa.Column("new_flavor", sa.JSON, nullable=False),
        sa.Column("old_plan", sa.JSON, nullable=False),
        sa.Column("old_vm_state", sa.String(32), nullable=False),
        sa.Column("vcpus", sa.Integer, nullable=False, server_default="0"),
        sa.Column("memory_mb", sa.Integer, nullable=False, server_default="0"),
        sa.Column("disk_gb", sa.Integer, nullable=False, server_default="0"),
        sa.Column("request_id", sa.String(255)),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("migrations")
