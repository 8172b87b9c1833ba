# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Initial schema: instances, action log, claims, IP allocations, volumes.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("flavor", sa.JSON, nullable=False),
        sa.Column("image_id", sa.String(255)),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("plan", sa.JSON),
        sa.Column("vm_state", sa.String(32), nullable=False),
        sa.Column("task_state", sa.String(32)),
        sa.Column("power_state", sa.String(32), nullable=False, server_default="nostate"),
        sa.Column("fault", sa.JSON),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("launch_index", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _ts("created_at", nullable=False), _ts("updated_at"), _ts("launched_at"), _ts("deleted_at"),
        sa.Column("deleted", sa.String(36), nullable=False, server_default=""),
        sa.UniqueConstraint("project_id", "name", "deleted", name="uniq_instances0project_name_deleted"),
    )
    op.create_table(
        "instance_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        _ts("start_time", nullable=False), _ts("finish_time"),
        sa.Column("message", sa.Text),
    )
    op.create_table(
        "instance_actions_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.Integer, sa.ForeignKey("instance_actions.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("event", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255)),
        _ts("start_time", nullable=False), _ts("finish_time"),
        sa.Column("result", sa.String(255)),
        sa.Column("details", sa.Text),
    )
    op.create_table(
        "resource_claims",
        sa.Column("instance_uuid", sa.String(36), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False, index=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("vcpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("disk_gb", sa.Integer, nullable=False),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "ip_allocations",
        sa.Column("network_id", sa.String(255), primary_key=True),
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("mac", sa.String(17), nullable=False, unique=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("hostname", sa.String(255)),
        sa.Column("vif_index", sa.Integer, nullable=False, server_default="0"),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("instance_uuid", sa.String(36), index=True),
        sa.Column("size_gb", sa.Integer, nullable=False),
        sa.Column("device_name", sa.String(255)),
        sa.Column("source_type", sa.String(32)),
        sa.Column("delete_on_termination", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(32), nullable=False),
        _ts("created_at", nullable=False),
        sa.Column("deleted", sa.String(36), nullable=False, server_default=""),
    )
    lock = op.create_table(
        "placement_lock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    )
    op.bulk_insert(lock, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    for name in ("placement_lock", "volumes", "ip_allocations", "resource_claims",
                 "instance_actions_events", "instance_actions", "instances"):
        op.drop_table(name)
