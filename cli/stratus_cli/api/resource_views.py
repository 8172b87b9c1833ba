"""Nova's bodies for quota sets, hypervisors, compute services, host aggregates and instance actions, per
microversion (Nova's api-ref at 2.1-2.61), from what the collection's views compute (compute_api/views.py,
conductor/services.py). Pure functions: no request, no store, no policy."""
from __future__ import annotations

import datetime as dt
import json
import typing as t
import uuid

from stratus_cli.api.collection import ensure_importable
from stratus_cli.api.views import derived_id

ensure_importable()
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.views import QUOTA_RESOURCES  # noqa: E402

Version = tuple[int, int]
# the network quotas 2.36 drops (nova-network's, never enforced) and the personality ones 2.57 drops
QUOTA_NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
QUOTA_PERSONALITY = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
# Neutron's quota resources (its GET /v2.0/quotas/{project_id})
NETWORK_QUOTAS = ("network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule",
                  "rbac_policy", "subnetpool")
UUID_IDS = (2, 53)  # hypervisor and service ids are UUIDs from 2.53, integers before


def nova_time(value: t.Optional[str]) -> t.Optional[str]:
    """A store time (ISO 8601) as Nova writes it: UTC, no offset, microseconds."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%f")


# --- quota sets -----------------------------------------------------------------------------------------

def quota_resources(version: Version) -> list[str]:
    """The resources a quota set names at this version."""
    out = [r for r in QUOTA_RESOURCES if version < (2, 57) or r not in QUOTA_PERSONALITY]
    return out + list(QUOTA_NETWORK) if version < (2, 36) else out


def quota_set(project_id: str, limits: t.Callable[[str], int], version: Version) -> dict[str, t.Any]:
    """os-quota-sets show and defaults: {id, resource: limit}."""
    out: dict[str, t.Any] = {"id": project_id}
    out.update((r, limits(r)) for r in quota_resources(version))
    return {"quota_set": out}


def quota_set_detail(project_id: str, detail: t.Mapping[str, t.Mapping[str, int]], limits: t.Callable[[str], int],
                     version: Version) -> dict[str, t.Any]:
    """os-quota-sets detail: {id, resource: {limit, in_use, reserved}}; the network ones are never used."""
    out: dict[str, t.Any] = {"id": project_id}
    for r in quota_resources(version):
        out[r] = dict(detail[r]) if r in detail else {"limit": limits(r), "in_use": 0, "reserved": 0}
    return {"quota_set": out}


# --- hypervisors, compute services, aggregates ----------------------------------------------------------

def derived_uuid(kind: str, name: str) -> str:
    """A stable id for what the store has no id for (a hypervisor, its service, an aggregate)."""
    return str(uuid.UUID(derived_id(kind, name)))


def derived_int(kind: str, name: str) -> int:
    """The integer id older microversions show: 28 bits of the derived uuid, so it is as stable."""
    return int(derived_id(kind, name)[:7], 16) + 1


def object_id(kind: str, name: str, version: Version) -> t.Union[int, str]:
    return derived_uuid(kind, name) if version >= UUID_IDS else derived_int(kind, name)


def hypervisor_brief(hv: t.Mapping[str, t.Any], version: Version) -> dict[str, t.Any]:
    return {"id": object_id("hypervisor", hv["hypervisor_hostname"], version),
            "hypervisor_hostname": hv["hypervisor_hostname"], "state": hv["state"], "status": hv["status"]}


def hypervisor_detail(hv: t.Mapping[str, t.Any], version: Version) -> dict[str, t.Any]:
    """os-hypervisors detail (2.1-2.87's fields): capacity and use as the scheduler counts them."""
    host = hv["hypervisor_hostname"]
    cpu_info: t.Any = dict(hv.get("cpu_info") or {})
    if version < (2, 28):  # a JSON string before 2.28
        cpu_info = json.dumps(cpu_info)
    out = hypervisor_brief(hv, version)
    out.update({
        "hypervisor_type": hv["hypervisor_type"], "hypervisor_version": int(hv.get("hypervisor_version") or 0),
        "vcpus": hv["vcpus"], "vcpus_used": hv["vcpus_used"], "memory_mb": hv["memory_mb"],
        "memory_mb_used": hv["memory_mb_used"], "local_gb": hv["local_gb"], "local_gb_used": hv["local_gb_used"],
        "free_ram_mb": hv["free_ram_mb"], "free_disk_gb": hv["free_disk_gb"],
        "disk_available_least": hv["free_disk_gb"], "current_workload": int(hv.get("current_workload") or 0),
        "running_vms": hv["running_vms"], "cpu_info": cpu_info, "host_ip": hv.get("host_ip"),
        "service": {"host": host, "id": object_id("service", host, version),
                    "disabled_reason": hv["service"].get("disabled_reason")},
    })
    return out


STATISTICS = ("vcpus", "vcpus_used", "memory_mb", "memory_mb_used", "local_gb", "local_gb_used", "free_ram_mb",
              "free_disk_gb", "disk_available_least", "current_workload", "running_vms")


def hypervisor_statistics(details: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"count": len(details)}
    out.update((k, sum(int(d[k]) for d in details)) for k in STATISTICS)
    return {"hypervisor_statistics": out}


def compute_service(hv: t.Mapping[str, t.Any], service: t.Mapping[str, t.Any], version: Version) -> dict[str, t.Any]:
    """os-services: one nova-compute per hypervisor; its status and reason as the operator or the inventory
    set them (hypervisor_views), when the operator last changed it, up or down."""
    host = hv["hypervisor_hostname"]
    out = {"id": object_id("service", host, version), "binary": "nova-compute", "host": host,
           "zone": hv["availability_zone"], "status": hv["status"], "state": hv["state"],
           "updated_at": nova_time(service.get("updated_at")), "disabled_reason": hv["service"].get("disabled_reason")}
    if version >= (2, 11):
        out["forced_down"] = bool(service.get("forced_down"))
    return out


def aggregate(agg: t.Mapping[str, t.Any], hosts: list[str], version: Version) -> dict[str, t.Any]:
    """A catalog aggregate (stratus_host_aggregates, and the hosts that name it) as os-aggregates shows it."""
    out = {"id": derived_int("aggregate", agg["name"]), "name": agg["name"],
           "availability_zone": (agg.get("metadata") or {}).get("availability_zone"), "hosts": sorted(hosts),
           "metadata": dict(agg.get("metadata") or {}), "created_at": "2026-01-01T00:00:00.000000",
           "updated_at": None, "deleted_at": None, "deleted": False}
    if version >= (2, 41):
        out["uuid"] = derived_uuid("aggregate", agg["name"])
    return out


# --- instance actions -----------------------------------------------------------------------------------

def action_updated_at(action: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """When the action last changed: its latest time or its events' (Nova updates it with each event)."""
    times = [action.get("start_time"), action.get("finish_time")]
    for ev in action.get("events") or []:
        times += [ev.get("start_time"), ev.get("finish_time")]
    known = [nova_time(x) for x in times if x]
    return max(t.cast(list[str], known)) if known else None


def instance_action(action: t.Mapping[str, t.Any], version: Version) -> dict[str, t.Any]:
    out = {"action": action["action"], "instance_uuid": action["instance_uuid"], "message": action.get("message"),
           "project_id": action.get("project_id"), "request_id": action["request_id"],
           "start_time": nova_time(action.get("start_time")), "user_id": action.get("user_id")}
    if version >= (2, 58):
        out["updated_at"] = action_updated_at(action)
    return out


def instance_action_detail(action: t.Mapping[str, t.Any], version: Version, may_see_events: bool) -> dict[str, t.Any]:
    """Its events for the events rule's callers (admin), and for everyone from 2.51; a traceback key only for
    the former, and never a traceback (Stratus records a failed event's message in the server's fault)."""
    out = instance_action(action, version)
    if may_see_events or version >= (2, 51):
        events = []
        for ev in action.get("events") or []:
            item = {"event": ev["event"], "start_time": nova_time(ev.get("start_time")),
                    "finish_time": nova_time(ev.get("finish_time")), "result": ev.get("result")}
            if may_see_events:
                item["traceback"] = None
            events.append(item)
        out["events"] = events
    return out
