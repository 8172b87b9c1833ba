# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only views of the state store for every front end: servers, hypervisors, quota sets.

The server, server_info, hypervisor_info and quota_info actions and the servers inventory
plugin share this (and the API and dashboard will): the policy rules of Nova's servers,
os-hypervisors and os-quota-sets APIs, and the shapes Nova's API returns, for a caller
resolved as every front end resolves it (caller.py). It only reads: nothing here imports the
conductor (the write side).
"""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import Nic, read_plan
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs, quota, server_groups
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.server_actions import (
    REBUILD_TASK_STATES, RESIZE_TASK_STATES,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    instance_action_events, instance_actions, instances,
)

# Nova's quota-sets detail lists these (the deprecated network ones are left out, as in 2.36+).
QUOTA_RESOURCES = ("instances", "cores", "ram", "metadata_items", "injected_files", "injected_file_content_bytes",
                   "injected_file_path_bytes", "key_pairs", "server_groups", "server_group_members")


def _addresses(nics: list[Nic]) -> dict[str, list[dict[str, t.Optional[str]]]]:
    """Per network name, every NIC's address and MAC (two NICs may share a network)."""
    out: dict[str, list[dict[str, t.Optional[str]]]] = {}
    for nic in nics:
        out.setdefault(nic.network_name, []).append({"addr": nic.ip, "mac": nic.mac})
    return out


def server_view(row: t.Any) -> dict[str, t.Any]:
    plan = read_plan(row.plan or {}, uuid=row.uuid)
    return {
        "id": row.uuid, "name": row.name, "project_id": row.project_id, "user_id": row.user_id,
        "host": row.host, "driver": plan.driver, "availability_zone": row.availability_zone, "flavor": row.flavor,
        "image": row.image_id, "vm_state": row.vm_state, "task_state": row.task_state,
        "power_state": row.power_state, "fault": row.fault, "metadata": row.metadata,
        "tags": row.tags, "description": row.description,
        "addresses": _addresses(plan.nics),
        "block_devices": [{"device_name": dev.device_name, "kind": dev.kind, "size_bytes": dev.size_bytes,
                           "volume_id": dev.volume_id} for dev in plan.block_devices],
        "server_group": getattr(row, "server_group_id", None),
        "status": server_status(row.vm_state, row.task_state),
    }


# Nova's API status of a server (nova/api/openstack/common.py's state map), for the states Stratus has.
_STATUS = {"active": "ACTIVE", "building": "BUILD", "error": "ERROR", "deleted": "DELETED", "stopped": "SHUTOFF",
           "resized": "VERIFY_RESIZE"}
_STATUS_BY_TASK = {("active", "rebooting"): "REBOOT", ("active", "rebooting_hard"): "HARD_REBOOT",
                   ("stopped", "rebooting_hard"): "HARD_REBOOT", ("error", "rebooting_hard"): "HARD_REBOOT",
                   ("resized", "resize_reverting"): "REVERT_RESIZE", ("active", "migrating"): "MIGRATING"}


def server_status(vm_state: str, task_state: t.Optional[str]) -> str:
    if task_state in REBUILD_TASK_STATES and vm_state in ("active", "stopped", "error"):
        return "REBUILD"
    if task_state in RESIZE_TASK_STATES and vm_state in ("active", "stopped"):
        return "RESIZE"
    return _STATUS_BY_TASK.get((vm_state, task_state or "")) or _STATUS.get(vm_state, vm_state.upper())


def live_servers(conn: Connection, project_id: str, names: list[str]) -> list[t.Any]:
    """The live instance rows of a project with these names, in launch order."""
    return list(conn.execute(sa.select(instances).where(
        instances.c.project_id == project_id, instances.c.deleted == "", instances.c.name.in_(names))
        .order_by(instances.c.launch_index, instances.c.name)))


def _capacity(total: float, reserved: float, ratio: float) -> float:
    """Placement's capacity: (total - reserved) * allocation_ratio, the bound the filters use."""
    value = (total - reserved) * ratio
    return int(value) if float(value).is_integer() else round(value, 2)


def hypervisor_views(conn: Connection, hostnames: list[str], hostvars: t.Mapping[str, t.Any],
                     catalog: Catalog) -> list[dict[str, t.Any]]:
    """Nova's os-hypervisors detail per host, plus the ratios and the capacity they give."""
    out = []
    used = host_usage.with_services(conn, host_usage.usage_by_host(conn))
    for hs in host_states(hostnames, hostvars, catalog, used):
        disabled = bool(hs.service.get("disabled"))
        out.append({
            "hypervisor_hostname": hs.host, "service": {"host": hs.host, "disabled_reason": hs.service.get(
                "disabled_reason") or ("stratus_disabled in the inventory" if disabled else None)},
            "state": "up" if hs.service.get("up", True) else "down", "status": "disabled" if disabled else "enabled",
            "hypervisor_type": hs.hypervisor_type, "hypervisor_version": hs.hypervisor_version,
            "availability_zone": hs.availability_zone, "cpu_info": dict(hs.cpu_info) if isinstance(hs.cpu_info, dict) else {},
            "host_ip": hs.host_ip,
            "aggregates": [a["name"] for a in hs.aggregates], "current_workload": hs.num_io_ops,
            "vcpus": hs.vcpus, "vcpus_used": hs.vcpus_used,
            "memory_mb": hs.memory_mb, "memory_mb_used": hs.memory_mb_used,
            "local_gb": hs.local_gb, "local_gb_used": hs.local_gb_used,
            "free_ram_mb": hs.free_ram_mb, "free_disk_gb": hs.free_disk_mb // 1024,
            "running_vms": hs.num_instances,
            "cpu_allocation_ratio": hs.cpu_allocation_ratio, "ram_allocation_ratio": hs.ram_allocation_ratio,
            "disk_allocation_ratio": hs.disk_allocation_ratio,
            "reserved_host_cpus": hs.reserved_host_cpus, "reserved_host_memory_mb": hs.reserved_host_memory_mb,
            "reserved_host_disk_mb": hs.reserved_host_disk_mb,
            "capacity": {
                "vcpus": _capacity(hs.vcpus, hs.reserved_host_cpus, hs.cpu_allocation_ratio),
                "memory_mb": _capacity(hs.memory_mb, hs.reserved_host_memory_mb, hs.ram_allocation_ratio),
                "disk_gb": _capacity(hs.local_gb, hs.reserved_host_disk_mb / 1024.0, hs.disk_allocation_ratio),
            },
        })
    return out


def quota_set(conn: Connection, quotas: t.Optional[t.Mapping[str, t.Any]], catalog: Catalog, project_id: str,
              user_id: t.Optional[str] = None) -> dict[str, dict[str, int]]:
    """Nova's quota-sets detail: {resource: {limit, in_use, reserved}} of a project (or a user in it)."""
    limits = quota.Limits(quotas, project_id, user_id or "")
    used = quota.usage(conn, project_id, user_id or None)
    in_use = dict.fromkeys(QUOTA_RESOURCES, 0)
    in_use.update(used)
    # both sources: the catalog's and those made through the API (compute_api/keypairs.py, server_groups.py)
    if user_id:
        in_use["key_pairs"] = keypairs.count(conn, catalog, user_id)
    in_use["server_groups"] = server_groups.count(conn, catalog, project_id)
    return {r: {"limit": limits[r], "in_use": int(in_use[r]), "reserved": 0} for r in QUOTA_RESOURCES}


def visible_project(caller: Caller, all_projects: bool, strict: bool) -> t.Optional[str]:
    """The project whose servers the caller may see, or None for every project.

    Every project needs the admin's get_all_tenants rule: a caller the policy refuses gets
    Forbidden when ``strict`` (a front end's explicit ask), else its own project."""
    caller.authorize("os_compute_api:servers:index")
    if all_projects:
        if strict:
            caller.authorize("os_compute_api:servers:detail:get_all_tenants", field="all_projects")
            return None
        if caller.can("os_compute_api:servers:detail:get_all_tenants"):
            return None
    return caller.project_id


def visible_servers(conn: Connection, project_id: t.Optional[str], name: t.Optional[str] = None,
                    uuids: t.Optional[list[str]] = None, with_deleted: bool = False,
                    columns: t.Optional[t.Sequence[t.Any]] = None) -> list[t.Any]:
    """Live instance rows (and deleted ones too, with_deleted) of the project a caller may see
    (visible_project; None: all); only `columns` of them when given."""
    query = sa.select(*columns) if columns is not None else sa.select(instances)
    if not with_deleted:
        query = query.where(instances.c.deleted == "")
    if project_id is not None:
        query = query.where(instances.c.project_id == project_id)
    if name:
        query = query.where(instances.c.name == name)
    if uuids is not None:
        query = query.where(instances.c.uuid.in_(uuids))
    return list(conn.execute(query.order_by(instances.c.project_id, instances.c.name)))


def _time(value: t.Any) -> t.Optional[str]:
    return value.isoformat() if value else None


def instance_actions_by_uuid(conn: Connection, uuids: list[str]) -> dict[str, list[dict[str, t.Any]]]:
    """Nova's instance actions with their events, oldest first, per instance (times in ISO 8601)."""
    out: dict[str, list[dict[str, t.Any]]] = {u: [] for u in uuids}
    if not uuids:
        return out
    rows = list(conn.execute(sa.select(instance_actions).where(instance_actions.c.instance_uuid.in_(uuids))
                             .order_by(instance_actions.c.id)))
    events: dict[int, list[dict[str, t.Any]]] = {}
    if rows:
        for ev in conn.execute(sa.select(instance_action_events).where(
                instance_action_events.c.action_id.in_([r.id for r in rows])).order_by(instance_action_events.c.id)):
            events.setdefault(ev.action_id, []).append({
                "event": ev.event, "host": ev.host, "result": ev.result, "details": ev.details,
                "start_time": _time(ev.start_time), "finish_time": _time(ev.finish_time)})
    for r in rows:
        out[r.instance_uuid].append({"action": r.action, "request_id": r.request_id, "message": r.message,
                                     "start_time": _time(r.start_time), "finish_time": _time(r.finish_time),
                                     "instance_uuid": r.instance_uuid, "project_id": r.project_id,
                                     "user_id": r.user_id, "events": events.get(r.id, [])})
    return out


def last_actions(conn: Connection, uuids: list[str]) -> dict[str, t.Optional[dict[str, t.Any]]]:
    """Each server's last instance action (create, stop, reboot, ...): what it was, when, and how it
    went (Error when one of its events failed, Success once finished, None while under way)."""
    out: dict[str, t.Optional[dict[str, t.Any]]] = {u: None for u in uuids}
    if not uuids:
        return out
    latest = sa.select(sa.func.max(instance_actions.c.id)).where(
        instance_actions.c.instance_uuid.in_(uuids)).group_by(instance_actions.c.instance_uuid)
    rows = list(conn.execute(sa.select(instance_actions).where(instance_actions.c.id.in_(latest))))
    failed = {r.action_id for r in conn.execute(sa.select(instance_action_events.c.action_id).where(
        instance_action_events.c.action_id.in_([r.id for r in rows]), instance_action_events.c.result == "Error"))}
    for r in rows:
        out[r.instance_uuid] = {"action": r.action, "request_id": r.request_id, "start_time": _time(r.start_time),
                                "finish_time": _time(r.finish_time),
                                "result": "Error" if r.id in failed else ("Success" if r.finish_time else None)}
    return out


def refusals(conn: Connection, project_id: t.Optional[str], name: t.Optional[str] = None) -> list[dict[str, t.Any]]:
    """Refused requests (the action-log entries with no instance) of a project, or of all (None)."""
    query = sa.select(instance_actions).where(instance_actions.c.instance_uuid == "")
    if project_id is not None:
        query = query.where(instance_actions.c.project_id == project_id)
    if name:
        query = query.where(instance_actions.c.instance_name == name)
    return [{"name": r.instance_name, "request_id": r.request_id, "code": r.error_code, "message": r.message,
             "project_id": r.project_id, "user_id": r.user_id, "time": _time(r.start_time)}
            for r in conn.execute(query.order_by(instance_actions.c.id))]
