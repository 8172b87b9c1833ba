# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm_state / task_state transitions and the instance action log, in the state store."""
from __future__ import annotations

import datetime
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, read_plan
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.ipam import release_ips
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    claims, instance_action_events, instance_actions, instances, ip_allocations, leftovers, volumes,
)

# Nova's task_state walk of a build, one step per hypervisor module.
STEP_TASK_STATES = {
    "network": "networking",
    "block_devices": "block_device_mapping",
    "domain": "spawning",
}
STEP_EVENTS = {
    "network": "compute_allocate_network",
    "block_devices": "compute_prep_block_device",
    "domain": "compute_spawn",
}
# The delete walk runs the steps backwards: domain, block devices, network.
DELETE_EVENTS = {
    "domain": "compute_shutdown_instance",
    "block_devices": "compute_cleanup_volumes",
    "network": "compute_deallocate_network",
}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def start_action(conn: Connection, uuid: str, action: str, request_id: str,
                 project_id: str, user_id: str, message: t.Optional[str] = None) -> int:
    result = conn.execute(instance_actions.insert().values(
        instance_uuid=uuid, action=action, request_id=request_id, project_id=project_id,
        user_id=user_id, start_time=now(), message=message))
    return int(result.inserted_primary_key[0])


def latest_action_id(conn: Connection, uuid: str) -> t.Optional[int]:
    row = conn.execute(sa.select(instance_actions.c.id).where(instance_actions.c.instance_uuid == uuid)
                       .order_by(instance_actions.c.id.desc()).limit(1)).first()
    return int(row.id) if row else None


def action_in_progress(conn: Connection, row: t.Any) -> t.Optional[str]:
    """The name of the instance action under way (the latest one) when the server's task_state says one is."""
    if row.task_state is None:
        return None
    latest = conn.execute(sa.select(instance_actions.c.action).where(instance_actions.c.instance_uuid == row.uuid)
                          .order_by(instance_actions.c.id.desc()).limit(1)).first()
    return latest.action if latest else None


def record_event(conn: Connection, uuid: str, event: str, host: t.Optional[str], result: str,
                 details: t.Optional[str] = None, start: t.Optional[datetime.datetime] = None) -> None:
    action_id = latest_action_id(conn, uuid)
    if action_id is None:
        return
    conn.execute(instance_action_events.insert().values(
        action_id=action_id, event=event, host=host, start_time=start or now(), finish_time=now(),
        result=result, details=details))


def set_task_state(conn: Connection, uuids: list[str], task_state: t.Optional[str]) -> None:
    if uuids:
        conn.execute(instances.update().where(instances.c.uuid.in_(uuids))
                     .values(task_state=task_state, updated_at=now()))


def mark_active(conn: Connection, uuid: str) -> None:
    """The end of a build walk; an instance that is already active keeps its launch time."""
    conn.execute(instances.update().where(instances.c.uuid == uuid, instances.c.vm_state == "building").values(
        vm_state="active", task_state=None, power_state="running", fault=None,
        launched_at=now(), updated_at=now()))
    action_id = latest_action_id(conn, uuid)
    if action_id is not None:
        conn.execute(instance_actions.update().where(instance_actions.c.id == action_id)
                     .values(finish_time=now()))


def mark_error(conn: Connection, uuid: str, fault: dict[str, t.Any]) -> None:
    """vm_state error with a fault; claims and IPs go back, as Nova does after the last attempt."""
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(
        vm_state="error", task_state=None, fault=fault, updated_at=now()))
    conn.execute(claims.delete().where(claims.c.instance_uuid == uuid))
    release_ips(conn, uuid)


# The task_states a building instance may be in when a step takes it: the step before it is
# done (or this step itself was interrupted and runs again). A rescheduled instance is back
# at `scheduling` on its next host, so later steps wait until its network step has run there.
STEP_TAKES = {
    "network": ("scheduling", "networking"),
    "block_devices": ("networking", "block_device_mapping"),
    "domain": ("block_device_mapping", "spawning"),
}


def instances_on_host(conn: Connection, host: str, uuids: t.Optional[list[str]] = None,
                      deleting: bool = False, step: t.Optional[str] = None,
                      building_only: bool = False) -> list[t.Any]:
    """The instances a step works on: active ones and those whose build has reached this step,
    or (the delete walk) those being deleted. `building_only` leaves the active ones out (the
    build rounds after the first only build what was rescheduled)."""
    query = sa.select(instances).where(instances.c.host == host, instances.c.deleted == "")
    if deleting:
        query = query.where(instances.c.task_state == "deleting")
    elif step is None:
        query = query.where(instances.c.vm_state.in_(("building", "active")),
                            sa.or_(instances.c.task_state.is_(None), instances.c.task_state != "deleting"))
    elif building_only:
        query = query.where(instances.c.vm_state == "building", instances.c.task_state.in_(STEP_TAKES[step]))
    else:
        query = query.where(sa.or_(
            sa.and_(instances.c.vm_state == "active", instances.c.task_state.is_(None)),
            sa.and_(instances.c.vm_state == "building", instances.c.task_state.in_(STEP_TAKES[step]))))
    if uuids is not None:
        query = query.where(instances.c.uuid.in_(uuids))
    return list(conn.execute(query.order_by(instances.c.name)))


def start_delete(conn: Connection, uuid: str, request_id: str, project_id: str, user_id: str) -> None:
    """Nova's _delete: task_state deleting (vm_state kept), an action `delete`."""
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(
        task_state="deleting", fault=None, updated_at=now()))
    start_action(conn, uuid, "delete", request_id, project_id, user_id)


def mark_deleted(conn: Connection, uuid: str) -> None:
    """The end of a delete: the row is soft-deleted, claims, IPs and volumes go back."""
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(
        vm_state="deleted", task_state=None, power_state="nostate", deleted=uuid, deleted_at=now(),
        updated_at=now()))
    conn.execute(claims.delete().where(claims.c.instance_uuid == uuid))
    release_ips(conn, uuid)
    conn.execute(volumes.update().where(volumes.c.instance_uuid == uuid, volumes.c.deleted == "",
                                        volumes.c.delete_on_termination == sa.true())
                 .values(status="deleted", deleted=volumes.c.id))
    conn.execute(volumes.update().where(volumes.c.instance_uuid == uuid, volumes.c.deleted == "")
                 .values(status="available", instance_uuid=None))
    action_id = latest_action_id(conn, uuid)
    if action_id is not None:
        conn.execute(instance_actions.update().where(instance_actions.c.id == action_id).values(finish_time=now()))


def mark_delete_failed(conn: Connection, uuid: str, fault: dict[str, t.Any]) -> None:
    """A delete step failed: vm_state error, task_state reset; what is on the host stays claimed.

    Deleting again is always allowed (Nova accepts delete in any state) and resumes the walk.
    """
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(
        vm_state="error", task_state=None, fault=fault, updated_at=now()))


# --- leftovers: what a host still holds of an instance that left it ---------------------------------------

def record_leftover(conn: Connection, host: str, row: t.Any, reason: str, keep_addresses: bool = True,
                    plan: t.Optional[BuildPlan] = None) -> None:
    """Remember what `row` left on `host`; its resources and addresses stay taken until cleaned.

    The claim on that host (or, when the instance has moved on, its flavor) and its IPs are
    copied, so the instance itself can be deleted or placed elsewhere in the meantime.
    """
    exists = conn.execute(sa.select(leftovers.c.id).where(
        leftovers.c.host == host, leftovers.c.instance_uuid == row.uuid)).first()
    if exists:
        return
    claim = conn.execute(sa.select(claims).where(claims.c.instance_uuid == row.uuid,
                                                 claims.c.host == host)).first()
    if claim is not None:
        vcpus, memory_mb, disk_gb = claim.vcpus, claim.memory_mb, claim.disk_gb
    else:
        flavor = row.flavor or {}
        vcpus, memory_mb = int(flavor.get("vcpus", 0)), int(flavor.get("ram", 0))
        disk_gb = int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0)) + (int(flavor.get("swap", 0)) + 1023) // 1024
    addresses = [{"network_id": a.network_id, "address": a.address, "mac": a.mac} for a in conn.execute(
        sa.select(ip_allocations).where(ip_allocations.c.instance_uuid == row.uuid))] if keep_addresses else []
    conn.execute(leftovers.insert().values(
        host=host, instance_uuid=row.uuid, project_id=row.project_id,
        plan=(plan if plan is not None else read_plan(row.plan or {}, uuid=row.uuid)).as_leftover().to_dict(),
        vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb, addresses=addresses, reason=reason,
        recorded_at=now(), attempts=0))


def leftovers_on_host(conn: Connection, host: str) -> list[t.Any]:
    return list(conn.execute(sa.select(leftovers).where(leftovers.c.host == host).order_by(leftovers.c.id)))


def hosts_with_leftovers(conn: Connection) -> list[str]:
    """The hosts the store has leftovers on (what their compute_cleanup step would clean)."""
    return sorted(r[0] for r in conn.execute(sa.select(leftovers.c.host).distinct()))


def clear_leftover(conn: Connection, leftover_id: int) -> None:
    conn.execute(leftovers.delete().where(leftovers.c.id == leftover_id))


def leftover_failed(conn: Connection, leftover_id: int, error: str) -> None:
    conn.execute(leftovers.update().where(leftovers.c.id == leftover_id).values(
        attempts=leftovers.c.attempts + 1, last_error=error[:4000]))


def delete_on_unreachable_host(conn: Connection, row: t.Any, host: str, why: str) -> None:
    """Nova's local delete for a host that is down: the server goes now, the host is cleaned later."""
    record_leftover(conn, host, row, "deleted while %s was unreachable: %s" % (host, why))
    record_event(conn, row.uuid, "compute_terminate_instance", host, "Success",
                 "host unreachable; leftovers recorded for clean-up when it is back")
    mark_deleted(conn, row.uuid)
