# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server group membership; the action log also records refused requests.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("server_group_id", sa.String(36)))
        batch.create_index("ix_instances_server_group_id", ["server_group_id"])
    with op.batch_alter_table("instance_actions") as batch:
        # a refused request has no instance: its entry carries the requested name
        batch.add_column(sa.Column("instance_name", sa.String(255)))
        batch.add_column(sa.Column("error_code", sa.String(64)))
        batch.create_index("ix_instance_actions_project_name", ["project_id", "instance_name"])


def downgrade() -> None:
    with op.batch_alter_table("instance_actions") as batch:
        batch.drop_index("ix_instance_actions_project_name")
        batch.drop_column("error_code")
        batch.drop_column("instance_name")
    with op.batch_alter_table("instances") as batch:
        batch.drop_index("ix_instances_server_group_id")
        batch.drop_column("server_group_id")
