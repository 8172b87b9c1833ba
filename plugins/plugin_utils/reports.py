# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only views of the state store for the front ends: hypervisors, quota sets, servers.

The hypervisor_info and quota_info actions and the servers inventory plugin share this:
the policy rules of Nova's os-hypervisors and os-quota-sets APIs, and the shapes Nova's API
returns, for a caller resolved as every front end resolves it (caller.py).
"""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.plugin_utils import host_usage, quota
from ansible_collections.stratus.compute.plugins.plugin_utils.catalog import Catalog, host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

# Nova's quota-sets detail lists these (the deprecated network ones are left out, as in 2.36+).
QUOTA_RESOURCES = ("instances", "cores", "ram", "metadata_items", "injected_files", "injected_file_content_bytes",
                   "injected_file_path_bytes", "key_pairs", "server_groups", "server_group_members")


def _capacity(total: float, reserved: float, ratio: float) -> float:
    """Placement's capacity: (total - reserved) * allocation_ratio, the bound the filters use."""
    value = (total - reserved) * ratio
    return int(value) if float(value).is_integer() else round(value, 2)


def hypervisor_views(conn: Connection, hostnames: list[str], hostvars: t.Mapping[str, t.Any],
                     catalog: Catalog) -> list[dict[str, t.Any]]:
    """Nova's os-hypervisors detail per host, plus the ratios and the capacity they give."""
    out = []
    for hs in host_states(hostnames, hostvars, catalog, host_usage.usage_by_host(conn)):
        disabled = bool(hs.service.get("disabled"))
        out.append({
            "hypervisor_hostname": hs.host, "service": {"host": hs.host, "disabled_reason": None},
            "state": "up" if hs.service.get("up", True) else "down", "status": "disabled" if disabled else "enabled",
            "hypervisor_type": hs.hypervisor_type, "availability_zone": hs.availability_zone,
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
    if user_id:
        in_use["key_pairs"] = len(catalog.keypairs.get(user_id) or [])
    in_use["server_groups"] = sum(1 for g in catalog.server_groups if g.get("project_id") == project_id)
    return {r: {"limit": limits[r], "in_use": int(in_use[r]), "reserved": 0} for r in QUOTA_RESOURCES}


def visible_servers(conn: Connection, caller: Caller, all_projects: bool) -> list[t.Any]:
    """Live instance rows the caller may list: its project, or every project for an admin who asks."""
    caller.authorize("os_compute_api:servers:index")
    query = sa.select(instances).where(instances.c.deleted == "")
    if not (all_projects and caller.can("os_compute_api:servers:detail:get_all_tenants")):
        query = query.where(instances.c.project_id == caller.project_id)
    return list(conn.execute(query.order_by(instances.c.project_id, instances.c.name)))
