# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state store's tables (SQLAlchemy Core). Alembic migrations create them.

Live rows are those with ``deleted == ''``; a deleted instance keeps its row with
``deleted`` set to its uuid, so (project_id, name, deleted) stays unique and a
name can be reused after delete, as in Nova.
"""
from __future__ import annotations

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if sa is not None:
    metadata = sa.MetaData()

    instances = sa.Table(
        "instances", metadata,
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("launched_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("deleted", sa.String(36), nullable=False, server_default=""),
        sa.Column("server_group_id", sa.String(36), index=True),
        sa.UniqueConstraint("project_id", "name", "deleted", name="uniq_instances0project_name_deleted"),
    )

    instance_actions = sa.Table(
        "instance_actions", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finish_time", sa.DateTime(timezone=True)),
        sa.Column("message", sa.Text),
        # refused requests have no instance (instance_uuid ''): name and error say what and why
        sa.Column("instance_name", sa.String(255)),
        sa.Column("error_code", sa.String(64)),
    )

    instance_action_events = sa.Table(
        "instance_actions_events", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.Integer, sa.ForeignKey("instance_actions.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("event", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finish_time", sa.DateTime(timezone=True)),
        sa.Column("result", sa.String(255)),
        sa.Column("details", sa.Text),
    )

    # One row per instance placed on a host: what the scheduler consumed there.
    claims = sa.Table(
        "resource_claims", metadata,
        sa.Column("instance_uuid", sa.String(36), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False, index=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("vcpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("disk_gb", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    ip_allocations = sa.Table(
        "ip_allocations", metadata,
        sa.Column("network_id", sa.String(255), primary_key=True),
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("mac", sa.String(17), nullable=False, unique=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("hostname", sa.String(255)),
        sa.Column("vif_index", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    volumes = sa.Table(
        "volumes", metadata,
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.String(36), nullable=False, server_default=""),
    )

    # What a host still holds of an instance that left it (deleted while the host was down,
    # replaced by recreate, or a failed build whose clean-up failed): its resources and
    # addresses count as used until a later run cleans the host (the compute_cleanup step).
    leftovers = sa.Table(
        "leftovers", metadata,
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

    # Bare-metal nodes (docs/baremetal.md): the inventory says what a node is, this row where it
    # is in Ironic's provision states (module_utils/baremetal/states.py). instance_uuid is the
    # whole-node claim: set under the placement lock, unique, so no node is ever double-booked.
    baremetal_nodes = sa.Table(
        "baremetal_nodes", metadata,
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("provision_state", sa.String(32), nullable=False, server_default="enroll"),
        sa.Column("target_provision_state", sa.String(32)),
        sa.Column("power_state", sa.String(16)),
        sa.Column("maintenance", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("maintenance_reason", sa.Text),
        sa.Column("instance_uuid", sa.String(36), unique=True),
        sa.Column("last_error", sa.Text),
        # what inspection read from the BMC, and where it differs from the inventory
        sa.Column("inspected", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("provision_updated_at", sa.DateTime(timezone=True)),
    )

    # Each node's event log: every move, who asked, and how it ended.
    baremetal_node_events = sa.Table(
        "baremetal_node_events", metadata,
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

    # A hypervisor the operator disabled (Nova's os-services: `stratus hypervisor disable`) or forced
    # down (`stratus hypervisor down`): the scheduler's ComputeFilter leaves it out, as it does a host
    # the inventory says is disabled or not up.
    compute_services = sa.Table(
        "compute_services", metadata,
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(255)),
        # the operator says the host is down (Nova's force_down, after fencing it): evacuate may move its servers
        sa.Column("forced_down", sa.Boolean, nullable=False, server_default=sa.false()),
    )

    # Nova's migration records: a resize, cold migration or live migration of a server from source_compute
    # to dest_compute. While its status holds (resources/migration_records.HOLDING) the source keeps the
    # server's old resources (vcpus, memory_mb, disk_gb: its old claim), so a revert always fits; old_plan
    # and old_flavor are what a revert restores and what a confirm cleans from the source.
    migrations = sa.Table(
        "migrations", metadata,
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

    # Identity (`stratus api`'s Keystone v3 subset, docs/api.md): projects, users, their roles in projects,
    # and tokens. A password is kept as its argon2 hash, a token as the sha256 of the token: the store never
    # holds either in a form that signs anyone in.
    identity_projects = sa.Table(
        "identity_projects", metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    identity_users = sa.Table(
        "identity_users", metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("default_project_id", sa.String(64)),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    identity_role_assignments = sa.Table(
        "identity_role_assignments", metadata,
        sa.Column("user_id", sa.String(64), sa.ForeignKey("identity_users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("identity_projects.id", ondelete="CASCADE"),
                  primary_key=True, index=True),
        sa.Column("role", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    identity_tokens = sa.Table(
        "identity_tokens", metadata,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("audit_id", sa.String(32), nullable=False, unique=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )

    # Key pairs and server groups made through `stratus api` (migration 0009), beside the catalog's
    # (stratus_keypairs, stratus_server_groups). A key pair is a user's; a private key is never kept.
    key_pairs = sa.Table(
        "key_pairs", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uniq_key_pairs0user_id_name"),
    )

    server_groups = sa.Table(
        "server_groups", metadata,
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False, index=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    # A one-row table whose row every placement transaction locks: the claim, the
    # quota count and the IP allocation of a request happen under it, so two runs
    # cannot both take the last unit of anything (SQLite: BEGIN IMMEDIATE does the same).
    placement_lock = sa.Table(
        "placement_lock", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    )
else:
    metadata = instances = instance_actions = instance_action_events = None
    claims = ip_allocations = volumes = placement_lock = leftovers = None
    baremetal_nodes = baremetal_node_events = compute_services = migrations = None
    identity_projects = identity_users = identity_role_assignments = identity_tokens = None
    key_pairs = server_groups = None
