# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's resize and cold migration, and their confirm and revert, on the controller.

The compute API's checks and records (``request_*``: one locked transaction each), then the ends of the
hypervisor steps (the source's resize_instance, the destination's finish_resize, confirm, revert and
finish_revert), as Nova's compute manager records them. The server's claim moves to the destination when the
resize is recorded (with the new flavor's sizes); its migration record keeps the old sizes held on the source
until the resize is confirmed or reverted (resources/migration_records.py).
"""
from __future__ import annotations

import dataclasses
import datetime
import types
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import quota, server_actions, views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.checks import validate_flavor_image
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, move
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.server_actions import find_server
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import migration_records
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    claims, instance_actions, instances, migrations,
)

RESIZE = server_actions.ACTIONS["resize"]
MIGRATE = server_actions.ACTIONS["migrate"]
CONFIRM = server_actions.ACTIONS["confirm_resize"]
REVERT = server_actions.ACTIONS["revert_resize"]
GiB = 1024 ** 3
LOCAL_KINDS = ("image", "blank")           # the disks in the instance pool (a move copies volumes too)
# the steps (server_actions.ACTIONS' step) this module records
STEPS = ("resize", "confirm", "revert")
MIGRATION_TYPE = {"resize": "resize", "migrate": "migration"}
NOT_RESIZED = "Instance has not been resized."


class MoveResult(t.NamedTuple):
    """A recorded move: the hosts whose steps do it (`first`: the first play's, `then`: the second's)."""

    changed: bool
    server: dict[str, t.Any]
    first: t.Optional[str] = None
    then: t.Optional[str] = None


def _unchanged(row: t.Any) -> MoveResult:
    return MoveResult(False, views.server_view(row))


def _fresh(conn: Connection, uuid: str) -> t.Any:
    return conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()


def resized_plan(plan: BuildPlan, flavor: t.Mapping[str, t.Any]) -> BuildPlan:
    """The server's plan with the new flavor: its root disk grows to the flavor's size (never shrinks)."""
    devices = [dataclasses.replace(dev, size_bytes=max(dev.size_bytes, int(flavor.get("disk") or 0) * GiB))
               if dev.kind == "image" else dev for dev in plan.block_devices]
    return dataclasses.replace(plan, flavor=dict(flavor), block_devices=devices)


def _check_move(row: t.Any, plan: BuildPlan) -> None:
    """A bare-metal server does not move (its node is its host). Volumes move with the server (the source copies
    them into the destination's volume pool, as its local disks)."""
    if plan.driver == "baremetal":
        raise StratusError("InvalidRequest", "%s is a bare-metal server: its node is its host" % row.name, "server")


def _check_new_flavor(caller: Caller, row: t.Any, plan: BuildPlan, new: t.Mapping[str, t.Any],
                      catalog: Catalog) -> None:
    """Nova's resize checks of the new flavor against the server (compute/api.py resize)."""
    old = row.flavor or {}
    if new.get("disabled"):
        raise StratusError("FlavorNotFound", "Flavor %s could not be found." % new.get("id"), "flavor")
    if str(new.get("id")) == str(old.get("id")) and new.get("name") == old.get("name"):
        raise StratusError("CannotResizeToSameFlavor", "When resizing, instances must change flavor!", "flavor")
    image_backed = any(dev.kind == "image" for dev in plan.block_devices)
    if image_backed and int(new.get("disk") or 0) == 0 and int(old.get("disk") or 0) != 0:
        raise StratusError("CannotResizeDisk", "Server disk was unable to be resized because: Resize to zero disk "
                           "flavor is not allowed.", "flavor")
    if image_backed and int(new.get("disk") or 0) < int(old.get("disk") or 0):
        raise StratusError("ResizeError", "Unable to resize disk down.", "flavor")
    image = catalog.find_image(plan.image.id) if plan.image and plan.image.id else None
    validate_flavor_image(caller, new, image if image_backed else None, None)


def _check_upsize_quota(conn: Connection, quotas: t.Optional[t.Mapping[str, t.Any]], row: t.Any,
                        new: t.Mapping[str, t.Any]) -> None:
    """Nova's _check_quota_for_upsize: the cores and ram the new flavor adds must fit the project's quota."""
    limits = quota.Limits(quotas, row.project_id, row.user_id)
    used = quota.usage(conn, row.project_id, row.user_id if limits.per_user else None)
    old = row.flavor or {}
    deltas = {"cores": int(new["vcpus"]) - int(old.get("vcpus", 0)), "ram": int(new["ram"]) - int(old.get("ram", 0))}
    overs = sorted(r for r, d in deltas.items() if d > 0 and 0 <= limits[r] < used[r] + d)
    if overs:
        raise quota.over("Quota exceeded for %s: Requested %s, but already used %s of %s %s" % (
            ", ".join(overs), ", ".join(str(deltas[r]) for r in overs), ", ".join(str(used[r]) for r in overs),
            ", ".join(str(limits[r]) for r in overs), ", ".join(overs)), "flavor")


def request_move(ref: str, action: server_actions.ServerAction, caller: Caller, hypervisors: t.Sequence[str],
                 hostvars: t.Mapping[str, t.Any], catalog: Catalog, config: SchedulerConfig,
                 db_url: t.Optional[str], check_mode: bool, request_id: str, flavor: t.Optional[str] = None,
                 target: t.Optional[str] = None, allow_same_host: bool = False,
                 quotas: t.Optional[t.Mapping[str, t.Any]] = None) -> MoveResult:
    """Check and record a resize (`flavor`) or a cold migration (`target`: an admin's host, else the
    scheduler's pick): the claim moves to the destination, the plan and flavor become the new ones, the
    migration record keeps the old. The result's `first` is the source (resize_instance), `then` the
    destination (finish_resize)."""
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = find_server(conn, caller, ref)
        caller.authorize(action.policy, {"project_id": row.project_id, "user_id": row.user_id}, "action")
        plan = read_plan(row.plan or {}, uuid=row.uuid)
        if plan.driver == "baremetal":
            _check_move(row, plan)
        new = catalog.flavor(flavor, caller.project_id, caller.is_admin) if flavor is not None else None
        record = migration_records.latest(conn, row.uuid)
        if _already_moved(row, record, action, new, target):
            return _unchanged(row)
        server_actions.needed(action, row, lifecycle.action_in_progress(conn, row))
        if row.task_state in action.resumes + (action.task_state,):  # interrupted: its record says where
            held = migration_records.in_progress(conn, row.uuid)
            if held is None or not _same_move(held, action, new, target):  # another move is under way
                raise StratusError("InstanceInvalidState", "Cannot '%s' instance %s while it is in vm_state %s "
                                   "(task_state %s)" % (action.instance_action, row.uuid, row.vm_state,
                                                        row.task_state), "action")
            return MoveResult(True, views.server_view(row), held.source_compute, held.dest_compute)
        _check_move(row, plan)
        if new is not None:
            _check_new_flavor(caller, row, plan, new, catalog)
            _check_upsize_quota(conn, quotas, row, new)
        else:
            new = dict(row.flavor or {})
        dest = move.select_destination(conn, row, plan, new, hypervisors, hostvars, catalog, config, target, False,
                                       allow_same_host=allow_same_host and action.name == "resize")
        source = str(row.host or "")
        if check_mode:
            return MoveResult(True, dict(views.server_view(row), task_state=action.task_state), source, dest)
        now = lifecycle.now()
        migration_records.start(conn, row, MIGRATION_TYPE[action.name], dest, new, "pre-migrating", request_id, now)
        spec = move.request_spec(conn, row, plan, new, catalog, None)
        conn.execute(claims.update().where(claims.c.instance_uuid == row.uuid).values(
            host=dest, vcpus=spec.vcpus, memory_mb=spec.memory_mb, disk_gb=spec.disk_gb))
        conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
            flavor=dict(new), plan=resized_plan(plan, new).to_dict(), task_state=action.task_state, fault=None,
            updated_at=now))
        lifecycle.start_action(conn, row.uuid, action.instance_action, request_id, caller.project_id,
                               caller.user_id, "from %s to %s" % (source, dest))
        return MoveResult(True, views.server_view(_fresh(conn, row.uuid)), source, dest)


def _same_move(record: t.Any, action: server_actions.ServerAction, new: t.Optional[t.Mapping[str, t.Any]],
               target: t.Optional[str]) -> bool:
    """Whether a migration record is what this request asks (its type, new flavor, named host)."""
    if record.migration_type != MIGRATION_TYPE[action.name]:
        return False
    asked = (str(new.get("id")), new.get("name")) if new is not None else None
    if asked is not None and asked != (str(record.new_flavor.get("id")), record.new_flavor.get("name")):
        return False
    return target is None or target == record.dest_compute


def _already_moved(row: t.Any, record: t.Any, action: server_actions.ServerAction,
                   new: t.Optional[t.Mapping[str, t.Any]], target: t.Optional[str]) -> bool:
    """The same request asked again of a server it took to VERIFY_RESIZE: nothing to do (Ansible's idempotence;
    Nova's API would answer 409)."""
    if row.vm_state != "resized" or row.task_state is not None or record is None:
        return False
    return record.status == migration_records.FINISHED and _same_move(record, action, new, target)


def _finished_record(conn: Connection, row: t.Any, action: server_actions.ServerAction,
                     taking_over: tuple[str, ...]) -> t.Optional[t.Any]:
    """The server's finished resize or migration (or one this action was interrupted in: `taking_over`);
    None when the action already ended; InstanceInvalidState when there is nothing to confirm or revert."""
    record = migration_records.latest(conn, row.uuid)
    ended = {"confirm_resize": "confirmed", "revert_resize": "reverted"}[action.name]
    if row.vm_state != "resized" and row.task_state is None and record is not None and record.status == ended:
        return None
    if record is not None and record.status in taking_over and row.task_state in (None, action.task_state):
        return record
    server_actions.needed(action, row, lifecycle.action_in_progress(conn, row))
    if record is None or record.status != migration_records.FINISHED:
        raise StratusError("InstanceInvalidState", NOT_RESIZED, "action")
    return record


def request_confirm(ref: str, caller: Caller, db_url: t.Optional[str], check_mode: bool,
                    request_id: str) -> MoveResult:
    """Nova's confirm_resize: the migration goes finished -> confirming; a cross-host move's source copy becomes
    a leftover (its domain, disks and DHCP entry, cleaned by the source's confirm step, or later by any run that
    reaches the source). The result's `first` is the source."""
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = find_server(conn, caller, ref)
        caller.authorize(CONFIRM.policy, {"project_id": row.project_id, "user_id": row.user_id}, "action")
        record = _finished_record(conn, row, CONFIRM, ("confirming",))
        if record is None:
            return _unchanged(row)
        if check_mode:
            return MoveResult(True, views.server_view(row), record.source_compute)
        if record.status == migration_records.FINISHED:
            confirming(conn, row, record, caller, request_id)
        return MoveResult(True, views.server_view(_fresh(conn, row.uuid)), record.source_compute)


def confirming(conn: Connection, row: t.Any, record: t.Any, caller: t.Optional[Caller], request_id: str,
               why: t.Optional[str] = None) -> None:
    """Record a confirm (by a caller, or by the confirm window: `why`)."""
    now = lifecycle.now()
    migration_records.set_status(conn, record.id, "confirming", now)
    if record.source_compute != record.dest_compute:
        old = types.SimpleNamespace(uuid=row.uuid, project_id=row.project_id, flavor=record.old_flavor,
                                    plan=record.old_plan)
        lifecycle.record_leftover(conn, record.source_compute, old, "resize confirmed: the source's copy",
                                  keep_addresses=False,
                                  plan=move.moved_copy(read_plan(record.old_plan, uuid=row.uuid)))
        # the volumes are the destination's from now on (until here the source's copy was what a revert returns to)
        move.volumes_moved(conn, row.uuid, record.dest_compute)
    lifecycle.start_action(conn, row.uuid, CONFIRM.instance_action, request_id,
                           caller.project_id if caller else row.project_id, caller.user_id if caller else "stratus",
                           why)


def confirm_on_delete(conn: Connection, row: t.Any, request_id: str) -> None:
    """Nova's _confirm_resize_on_deleting: a server deleted while it waits in VERIFY_RESIZE has its move confirmed
    first, so the source's copy (a leftover) and its held resources go too (the delete run's clean-up step)."""
    record = migration_records.latest(conn, row.uuid)
    if row.vm_state != "resized" or record is None or record.status not in (migration_records.FINISHED, "confirming"):
        return
    if record.status == migration_records.FINISHED:
        confirming(conn, row, record, None, request_id, "confirmed: the server is deleted")
    migration_records.set_status(conn, record.id, "confirmed", lifecycle.now())


def request_revert(ref: str, caller: Caller, db_url: t.Optional[str], check_mode: bool,
                   request_id: str) -> MoveResult:
    """Nova's revert_resize: task_state resize_reverting, the migration finished -> reverting. The result's
    `first` is the destination (its copy goes), `then` the source (the old server back)."""
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = find_server(conn, caller, ref)
        caller.authorize(REVERT.policy, {"project_id": row.project_id, "user_id": row.user_id}, "action")
        record = _finished_record(conn, row, REVERT, ("reverting", "reverted"))
        if record is None:
            return _unchanged(row)
        if check_mode:
            return MoveResult(True, dict(views.server_view(row), task_state=REVERT.task_state),
                              record.dest_compute, record.source_compute)
        if record.status == migration_records.FINISHED:
            now = lifecycle.now()
            migration_records.set_status(conn, record.id, "reverting", now)
            lifecycle.set_task_state(conn, [row.uuid], REVERT.task_state)
            lifecycle.start_action(conn, row.uuid, REVERT.instance_action, request_id, caller.project_id,
                                   caller.user_id)
        return MoveResult(True, views.server_view(_fresh(conn, row.uuid)), record.dest_compute, record.source_compute)


# --- the confirm window (Nova's resize_confirm_window and its periodic task) -----------------------------------

def _finished_before(conn: Connection, cutoff: datetime.datetime) -> list[t.Any]:
    """Resizes and migrations finished (waiting for a confirm) since before `cutoff`."""
    out = []
    for record in conn.execute(sa.select(migrations).where(migrations.c.status == migration_records.FINISHED)
                               .order_by(migrations.c.id)):
        when = record.updated_at or record.created_at
        if when.tzinfo is None:  # SQLite gives the stored UTC time back without its zone
            when = when.replace(tzinfo=datetime.timezone.utc)
        if when <= cutoff:
            out.append(record)
    return out


def confirm_due(db_url: t.Optional[str], window: int, check_mode: bool, request_id: str) -> list[MoveResult]:
    """Confirm every resize and migration finished longer than `window` seconds ago (0: never), as Nova's
    _poll_unconfirmed_resizes does; each result's `first` is the source whose confirm step cleans it."""
    if window <= 0:
        return []
    out = []
    with store.transaction(db_url, locked=not check_mode) as conn:
        cutoff = lifecycle.now() - datetime.timedelta(seconds=window)
        for record in _finished_before(conn, cutoff):
            row = _fresh(conn, record.instance_uuid)
            if row is None or row.deleted or row.vm_state != "resized" or row.task_state is not None:
                continue
            if not check_mode:
                confirming(conn, row, record, None, request_id,
                           "confirmed automatically after the resize confirm window (%d s)" % window)
            out.append(MoveResult(True, views.server_view(row), record.source_compute))
    return out


# --- the hypervisor steps' ends --------------------------------------------------------------------------------

def moving_on_host(conn: Connection, host: str, statuses: t.Sequence[str], side: str,
                   uuids: t.Optional[t.Sequence[str]] = None) -> list[tuple[t.Any, t.Any]]:
    """(server, migration record) of the live servers whose newest migration has `host` as its `side`
    (source or dest) and one of `statuses` (a step's work)."""
    column = migrations.c.source_compute if side == "source" else \
        migrations.c.dest_compute
    out = []
    for record in conn.execute(sa.select(migrations).where(
            column == host, migrations.c.status.in_(list(statuses)),
            migrations.c.migration_type != "live-migration")
            .order_by(migrations.c.id)):
        if uuids is not None and record.instance_uuid not in uuids:
            continue
        latest = migration_records.latest(conn, record.instance_uuid)
        row = _fresh(conn, record.instance_uuid)
        if latest is None or latest.id != record.id or row is None or row.deleted:
            continue
        out.append((row, record))
    return out


def step_to(conn: Connection, row: t.Any, record: t.Any, task_state: t.Optional[str], status: str) -> None:
    """One step of the walk: the server's task_state and its migration's status."""
    lifecycle.set_task_state(conn, [row.uuid], task_state)
    migration_records.set_status(conn, record.id, status, lifecycle.now())


def _event(conn: Connection, row: t.Any, event: str, host: str, start: t.Any, fault: t.Optional[dict[str, t.Any]],
           details: t.Optional[str] = None) -> None:
    lifecycle.record_event(conn, row.uuid, event, host, "Error" if fault else "Success",
                           (fault or {}).get("message") or details, start)


def _finish_action(conn: Connection, uuid: str) -> None:
    action_id = lifecycle.latest_action_id(conn, uuid)
    if action_id is not None:
        conn.execute(instance_actions.update().where(instance_actions.c.id == action_id)
                     .values(finish_time=lifecycle.now()))


def _claim_back(conn: Connection, row: t.Any, record: t.Any) -> None:
    """The claim back on the source with the old sizes, the old flavor and plan back (a rollback, a revert)."""
    conn.execute(claims.update().where(claims.c.instance_uuid == row.uuid).values(
        host=record.source_compute, vcpus=record.vcpus, memory_mb=record.memory_mb, disk_gb=record.disk_gb))
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        host=record.source_compute, flavor=dict(record.old_flavor), plan=dict(record.old_plan),
        updated_at=lifecycle.now()))


def resize_rolled_back(conn: Connection, row: t.Any, record: t.Any, host: str, start: t.Any,
                       fault: dict[str, t.Any]) -> None:
    """The source failed before the disks left it (Nova's InstanceFaultRollback): the server is back as it was on
    the source (its old vm_state, flavor, plan and claim), the migration in error, the fault recorded."""
    _event(conn, row, RESIZE.event, host, start, fault)
    _claim_back(conn, row, record)
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        vm_state=record.old_vm_state, task_state=None, fault=dict(fault, host=host)))
    migration_records.set_status(conn, record.id, "error", lifecycle.now())
    _finish_action(conn, row.uuid)


def resize_failed(conn: Connection, row: t.Any, record: t.Any, host: str, event: str, start: t.Any,
                  fault: dict[str, t.Any]) -> None:
    """A step failed after the disks left the source (or a revert failed): ERROR with the fault, migration
    error (Nova); the server's host is where its claim is."""
    _event(conn, row, event, host, start, fault)
    claim = conn.execute(sa.select(claims.c.host).where(claims.c.instance_uuid == row.uuid)).first()
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        vm_state="error", task_state=None, fault=dict(fault, host=host), host=claim.host if claim else row.host,
        updated_at=lifecycle.now()))
    migration_records.set_status(conn, record.id, "error", lifecycle.now())
    _finish_action(conn, row.uuid)


def failed_destination_copy(record: t.Any, plan: BuildPlan) -> t.Optional[BuildPlan]:
    """What goes from a cross-host move's destination when the move fails there (finish_resize): all it holds of
    the server - domain, local disks, config drive, its copies of the volumes, DHCP entry (`plan`: the server's
    plan there) - since the source still holds the server's own (its shut-off domain and disks, the volumes the
    store's rows name). None for a same-host resize: its disks are the server's own."""
    if record.dest_compute == record.source_compute:
        return None
    return move.moved_copy(plan)


def finish_failed(conn: Connection, row: t.Any, record: t.Any, host: str, start: t.Any, fault: dict[str, t.Any],
                  not_cleaned: t.Optional[str] = None) -> None:
    """A cross-host move failed on its destination (`host`) after the disks and volumes arrived: the server is
    back on the source in ERROR with the fault (its claim, flavor and plan the old ones; its domain there shut
    off: a hard reboot starts it), the migration in error. The destination's copy was removed by the step, or,
    when it could not be (`not_cleaned`: why), is a leftover there for a later run."""
    _event(conn, row, "compute_finish_resize", host, start, fault)
    if not_cleaned:  # before the claim goes back: the leftover holds the destination's resources until cleaned
        lifecycle.record_leftover(conn, host, row, "resize to %s failed, its copy not cleaned: %s" % (
            host, not_cleaned), keep_addresses=False, plan=move.moved_copy(read_plan(row.plan, uuid=row.uuid)))
    _claim_back(conn, row, record)
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        vm_state="error", task_state=None, power_state="shutdown", fault=dict(fault, host=host)))
    migration_records.set_status(conn, record.id, "error", lifecycle.now())
    _finish_action(conn, row.uuid)


def _power_end(record: t.Any) -> str:
    return "shutdown" if record.old_vm_state == "stopped" else "running"


def resize_finished(conn: Connection, row: t.Any, record: t.Any, host: str, start: t.Any) -> None:
    """The destination finished: VERIFY_RESIZE on the destination (Nova's finish_resize)."""
    _event(conn, row, "compute_finish_resize", host, start, None)
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        vm_state="resized", task_state=None, power_state=_power_end(record), host=record.dest_compute, fault=None,
        updated_at=lifecycle.now()))
    migration_records.set_status(conn, record.id, "finished", lifecycle.now())
    _finish_action(conn, row.uuid)


def confirmed(conn: Connection, row: t.Any, record: t.Any, host: str, start: t.Any,
              details: t.Optional[str] = None) -> None:
    """The confirm ended: the migration confirmed (the source no longer holds the old resources), the server
    ACTIVE or SHUTOFF by its power state (Nova's confirm_resize)."""
    _event(conn, row, CONFIRM.event, host, start, None, details)
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        vm_state="stopped" if row.power_state == "shutdown" else "active", task_state=None,
        updated_at=lifecycle.now()))
    migration_records.set_status(conn, record.id, "confirmed", lifecycle.now())
    _finish_action(conn, row.uuid)


def reverted_on_dest(conn: Connection, row: t.Any, record: t.Any, host: str, start: t.Any,
                     details: t.Optional[str] = None) -> None:
    """The destination's copy is gone (or left as a leftover): the claim, flavor, plan and host back on the
    source, the migration reverted (Nova's revert_resize); the source's step brings the server back."""
    _event(conn, row, REVERT.event, host, start, None, details)
    _claim_back(conn, row, record)
    migration_records.set_status(conn, record.id, "reverted", lifecycle.now())


def revert_finished(conn: Connection, row: t.Any, record: t.Any, host: str, start: t.Any) -> None:
    """The old server is back on the source, ACTIVE or SHUTOFF as it was (Nova's finish_revert_resize)."""
    _event(conn, row, "compute_finish_revert_resize", host, start, None)
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        vm_state=record.old_vm_state, power_state=_power_end(record), task_state=None, fault=None,
        updated_at=lifecycle.now()))
    _finish_action(conn, row.uuid)


def migration_view(conn: Connection, uuid: str) -> t.Optional[dict[str, t.Any]]:
    """The server's move under way or waiting for confirm or revert (`server show`'s migration), or None."""
    record = migration_records.in_progress(conn, uuid)
    if record is None:
        return None
    return {"id": record.uuid, "type": record.migration_type, "status": record.status,
            "source": record.source_compute, "dest": record.dest_compute}
