# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's live migration (admin): the conductor's checks and record, and the ends the hypervisor steps
write (Nova's compute manager: pre_live_migration, _post_live_migration, _rollback_live_migration).

The request, in one locked transaction: an ACTIVE server doing nothing else, not bare metal (its volumes move
with it); the destination by the scheduler (room for its volumes too; or the admin's host, checked by the
filters unless forced); both hosts reachable for libvirt's migration (``stratus_migration_uri``, and the destination's
``stratus_migration_address``); a migration record (live-migration, queued: the source keeps the old
resources while it holds), the claim moved to the destination, task_state migrating, the instance action.

Then the destination is prepared (status preparing; its volumes pre-created there empty, same name, size and
format, for libvirt's copy; the plan gets the destination's disk paths, the record keeps the source's plan),
the source migrates (running), and the
server ends on the destination (completed) or back on its source (failed: the destination's half is a
leftover there, cleaned by the next step on that host). The statuses: queued, preparing, running, then
completed, or failed (error when the guest runs on neither host).
"""
from __future__ import annotations

import dataclasses
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.live_migration import (
    valid_host, valid_migration_uri,
)
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions, views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, move
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.server_actions import (
    BAREMETAL, find_server, power_done, power_failed,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import migration_records
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, instances, migrations

LIVE = server_actions.ACTIONS["live_migrate"]
TYPE = "live-migration"
# what the destination's step takes (to prepare) and what the source's step takes (to migrate, or to find
# where a killed run left the guest)
TO_PREPARE = ("queued", "preparing")
TO_MIGRATE = ("preparing", "running")
URI_VAR, ADDRESS_VAR = "stratus_migration_uri", "stratus_migration_address"


class LiveMigration(t.NamedTuple):
    changed: bool
    server: dict[str, t.Any]
    host: t.Optional[str]   # the source: its step migrates
    dest: t.Optional[str]   # the destination: its step prepares


def migration_vars(host: str, hostvars: t.Mapping[str, t.Any], address: bool) -> tuple[str, t.Optional[str]]:
    """A hypervisor's migration URI (and address), checked whole; MigrationPreCheckError naming the variable."""
    mine = hostvars.get(host) or {}
    names = (URI_VAR, ADDRESS_VAR) if address else (URI_VAR,)
    for name in names:
        if not mine.get(name):
            raise StratusError("MigrationPreCheckError", "Migration pre-check error: hypervisor %s has no %s (how "
                               "the other hypervisor's libvirt reaches it)" % (host, name), name)
    try:
        uri = valid_migration_uri(mine[URI_VAR], URI_VAR)
        return uri, valid_host(mine[ADDRESS_VAR], ADDRESS_VAR) if address else None
    except StratusError as exc:
        raise StratusError("MigrationPreCheckError", "Migration pre-check error: hypervisor %s: %s"
                           % (host, exc.message), exc.field) from None


def prepared_plan(plan: BuildPlan, sizes_gb: t.Mapping[str, int]) -> BuildPlan:
    """The plan the destination prepares: its local disks as a build makes them, and each volume pre-created
    empty in its volume pool with the same name, size (the store's, `sizes_gb` by volume id) and format (qcow2)
    for libvirt's migration to copy into; what the preparation makes goes again on a rollback."""
    devices = []
    for dev in plan.block_devices:
        if dev.kind in move.VOLUME_KINDS:
            size = sizes_gb.get(str(dev.volume_id))
            dev = dataclasses.replace(dev, kind="new_volume", image_id=None, base_format=None,
                                      size_bytes=size * move.GiB if size is not None else dev.size_bytes)
        devices.append(dev)
    return dataclasses.replace(plan, block_devices=devices)


def _already_there(conn: Connection, row: t.Any, target: t.Optional[str]) -> bool:
    """A rerun of a live migration that is done: the server is on the host it named, by such a migration."""
    if target is None or row.host != target or row.task_state is not None:
        return False
    last = migration_records.latest(conn, row.uuid)
    return last is not None and (last.migration_type, last.dest_compute, last.status) == (TYPE, target, "completed")


def request_live_migrate(ref: str, caller: Caller, hypervisors: t.Sequence[str], hostvars: t.Mapping[str, t.Any],
                         catalog: Catalog, config: SchedulerConfig, target: t.Optional[str], force: bool,
                         db_url: t.Optional[str], check_mode: bool, request_id: str) -> LiveMigration:
    """Check and record a live migration; nothing is written when it is refused or in check mode."""
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = find_server(conn, caller, ref)
        caller.authorize(LIVE.policy, {"project_id": row.project_id, "user_id": row.user_id}, "action")
        plan = read_plan(row.plan or {}, uuid=row.uuid)
        if plan.driver == BAREMETAL:
            raise StratusError("InvalidRequest", "%s is a bare-metal server: its node is its host" % row.name, "server")
        if _already_there(conn, row, target):
            return LiveMigration(False, views.server_view(row), None, None)
        server_actions.needed(LIVE, row)
        if row.task_state == LIVE.task_state:  # an interrupted one: its steps take it over
            record = migration_records.in_progress(conn, row.uuid)
            if record is not None and record.migration_type == TYPE:
                return LiveMigration(True, views.server_view(row), record.source_compute, record.dest_compute)
        source = str(row.host or "")
        migration_vars(source, hostvars, address=False)
        dest = move.select_destination(conn, row, plan, plan.flavor, hypervisors, hostvars, catalog, config,
                                       target, force)
        migration_vars(dest, hostvars, address=True)
        if check_mode:
            return LiveMigration(True, dict(views.server_view(row), task_state=LIVE.task_state), source, dest)
        now = lifecycle.now()
        migration_records.start(conn, row, TYPE, dest, row.flavor or {}, "queued", request_id, now)
        conn.execute(claims.update().where(claims.c.instance_uuid == row.uuid).values(host=dest))
        lifecycle.set_task_state(conn, [row.uuid], LIVE.task_state)
        lifecycle.start_action(conn, row.uuid, LIVE.instance_action, request_id, caller.project_id, caller.user_id,
                               "from %s to %s" % (source, dest))
        lifecycle.record_event(conn, row.uuid, "conductor_live_migrate_instance", dest, "Success",
                               "from %s to %s%s" % (source, dest, " (forced)" if force else ""))
        row = conn.execute(sa.select(instances).where(instances.c.uuid == row.uuid)).first()
        return LiveMigration(True, views.server_view(row), source, dest)


def _moving(conn: Connection, uuids: t.Optional[t.Sequence[str]]) -> list[tuple[t.Any, t.Any]]:
    """(server, its live migration record in progress) of the servers migrating, among `uuids`."""
    query = sa.select(instances).where(instances.c.deleted == "", instances.c.task_state == LIVE.task_state)
    if uuids is not None:
        query = query.where(instances.c.uuid.in_(list(uuids)))
    found = []
    for row in conn.execute(query.order_by(instances.c.name)):
        record = migration_records.in_progress(conn, row.uuid)
        if record is not None and record.migration_type == TYPE:
            found.append((row, record))
    return found


def migrating_to(conn: Connection, host: str, uuids: t.Optional[t.Sequence[str]] = None) -> list[tuple[t.Any, t.Any]]:
    """The servers the destination `host` prepares for."""
    return [(r, m) for r, m in _moving(conn, uuids) if m.dest_compute == host and m.status in TO_PREPARE]


def migrating_from(conn: Connection, host: str, uuids: t.Optional[t.Sequence[str]] = None) -> list[tuple[t.Any, t.Any]]:
    """The servers the source `host` migrates, or finds after a killed run."""
    return [(r, m) for r, m in _moving(conn, uuids)
            if m.source_compute == host and r.host == host and m.status in TO_MIGRATE]


def set_status(conn: Connection, record: t.Any, status: str) -> None:
    migration_records.set_status(conn, record.id, status, lifecycle.now())


def _fresh(conn: Connection, uuid: str, record_id: int) -> tuple[t.Optional[t.Any], t.Optional[t.Any]]:
    """The server and its record, unless either moved on meanwhile (deleted, another run ended it)."""
    row = conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()
    record = conn.execute(sa.select(migrations).where(migrations.c.id == record_id)).first()
    if row is None or row.deleted or row.task_state != LIVE.task_state or record is None or \
            record.status not in migration_records.HOLDING:
        return None, None
    return row, record


def prepared(conn: Connection, uuid: str, disks: list[dict[str, t.Any]]) -> None:
    """The destination is ready: the plan has the disks made there (the record keeps the source's plan)."""
    row = conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(
        plan=read_plan(row.plan, uuid=uuid).with_disks(disks).to_dict()))


def completed(db_url: t.Optional[str], uuid: str, record_id: int, start: t.Any, details: str,
              source_left: t.Optional[str] = None) -> None:
    """Nova's _post_live_migration: the server is the destination's (host, plan with its disks), ACTIVE with
    no task_state, the record completed (the source's hold released), the event. `source_left`: why the
    source could not be cleaned (its disks and DHCP entry are then a leftover there)."""
    with store.transaction(db_url, locked=True) as conn:
        row, record = _fresh(conn, uuid, record_id)
        if row is None:
            return
        if source_left:
            lifecycle.record_leftover(conn, record.source_compute, row, "live-migrated to %s, not cleaned: %s"
                                      % (record.dest_compute, source_left), keep_addresses=False,
                                      plan=move.moved_copy(read_plan(record.old_plan, uuid=uuid)))
        conn.execute(instances.update().where(instances.c.uuid == uuid).values(host=record.dest_compute))
        move.volumes_moved(conn, uuid, record.dest_compute)
        set_status(conn, record, "completed")
        fresh = conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()
        power_done(conn, fresh, record.dest_compute, start, details, action=LIVE)


def rolled_back(db_url: t.Optional[str], uuid: str, record_id: int, start: t.Any, fault: dict[str, t.Any],
                dest_cleaned: bool, lost: bool = False) -> None:
    """Nova's _rollback_live_migration: the claim back on the source, the server there with its old plan, ACTIVE
    with no task_state and the fault, the record failed, the event with the error. Unless `dest_cleaned`, what
    the destination holds of it is a leftover there. `lost`: the guest runs nowhere (ERROR, record error)."""
    with store.transaction(db_url, locked=True) as conn:
        row, record = _fresh(conn, uuid, record_id)
        if row is None:
            return
        if not dest_cleaned:
            lifecycle.record_leftover(conn, record.dest_compute, row, "live migration from %s failed: %s"
                                      % (record.source_compute, fault.get("message")), keep_addresses=False,
                                      plan=move.moved_copy(read_plan(row.plan, uuid=uuid)))
        conn.execute(claims.update().where(claims.c.instance_uuid == uuid).values(host=record.source_compute))
        conn.execute(instances.update().where(instances.c.uuid == uuid).values(
            host=record.source_compute, plan=dict(record.old_plan)))
        set_status(conn, record, "error" if lost else "failed")
        fresh = conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()
        power_failed(conn, fresh, record.source_compute, start, fault, action=LIVE)
        if lost:
            conn.execute(instances.update().where(instances.c.uuid == uuid).values(vm_state="error"))
