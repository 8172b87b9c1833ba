# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduler's HostStates: the one builder every caller uses.

A host's capacity, ratios, capabilities and zone come from its inventory variables, the
networks it serves and its aggregates from the catalog, and what is used on it from the state
store (host_usage.py). The conductor (create, reschedule), the hypervisor views and the
scheduler lookup all build them here.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import (
    DEFAULT_AVAILABILITY_ZONE, HostState, version_to_int,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema

if t.TYPE_CHECKING:
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog

# A hypervisor's own inventory variables: what schemas/hypervisor.json declares.
HYPERVISOR_VARS = schema.property_names("hypervisor.json")

# HostState field <- the hypervisor's variable, its type, and the value of a host that does not say.
_FROM_HOSTVARS: tuple[tuple[str, str, t.Callable[[t.Any], t.Any], t.Any], ...] = (
    ("vcpus", "stratus_vcpus", int, 0),
    ("memory_mb", "stratus_memory_mb", int, 0),
    ("local_gb", "stratus_local_gb", int, 0),
    ("cpu_allocation_ratio", "stratus_cpu_allocation_ratio", float, 16.0),
    ("ram_allocation_ratio", "stratus_ram_allocation_ratio", float, 1.5),
    ("disk_allocation_ratio", "stratus_disk_allocation_ratio", float, 1.0),
    ("reserved_host_memory_mb", "stratus_reserved_host_memory_mb", int, 0),
    ("reserved_host_disk_mb", "stratus_reserved_host_disk_mb", int, 0),
    ("reserved_host_cpus", "stratus_reserved_host_cpus", int, 0),
    ("hypervisor_type", "stratus_hypervisor_type", str, "QEMU"),
)
# HostState field <- what the store says is used on the host (host_usage.py).
_FROM_USAGE = (("vcpus_used", "vcpus"), ("memory_mb_used", "memory_mb"), ("local_gb_used", "disk_gb"),
               ("num_io_ops", "num_io_ops"), ("failed_builds", "failed_builds"))


def network_served_by(net: dict[str, t.Any], host: str) -> bool:
    served = net.get("hypervisors", "all")
    return served == "all" or host in (served or [])


def _default_supported_instances(hv: t.Mapping[str, t.Any]) -> list[list[str]]:
    """What a libvirt host offers when the inventory does not say: its architecture with kvm or qemu, hvm."""
    cpu_info = hv.get("stratus_cpu_info")
    arch = cpu_info.get("arch") if isinstance(cpu_info, dict) else None
    arch = str(arch or "x86_64")
    domain_type = str(hv.get("stratus_domain_type", "auto"))
    types = ["kvm", "qemu"] if domain_type == "auto" else [domain_type]
    return [[arch, hv_type, "hvm"] for hv_type in types]


def _zone(name: str, hv: t.Mapping[str, t.Any], aggregates: list[dict[str, t.Any]]) -> str:
    """The host's zone: its aggregates' (one at most, as Nova insists), else its own, else 'nova'."""
    zones = sorted({a["metadata"]["availability_zone"] for a in aggregates if "availability_zone" in a["metadata"]})
    own = hv.get("stratus_availability_zone")
    field = "hostvars[%s].stratus_aggregates" % name
    if len(zones) > 1:
        raise StratusError("InvalidCatalog", "%s: the host is in aggregates of different availability zones (%s)"
                           % (field, ", ".join(zones)), field)
    if zones and own is not None and str(own) != zones[0]:
        raise StratusError("InvalidCatalog", "hostvars[%s].stratus_availability_zone: %s differs from the zone %s of "
                           "the host's aggregates" % (name, own, zones[0]),
                           "hostvars[%s].stratus_availability_zone" % name)
    return zones[0] if zones else str(own if own is not None else DEFAULT_AVAILABILITY_ZONE)


def _service(hv: t.Mapping[str, t.Any], used: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Disabled by the inventory (stratus_disabled) or by the operator (`stratus hypervisor disable`,
    with its reason); up unless the inventory (stratus_service_up) or the operator (`stratus hypervisor
    down`) says it is not."""
    service = {"disabled": bool(hv.get("stratus_disabled", False)) or bool(used.get("service_disabled")),
               "up": bool(hv.get("stratus_service_up", True)) and not used.get("forced_down")}
    if used.get("disabled_reason"):
        service["disabled_reason"] = used["disabled_reason"]
    return service


def host_states(hostnames: list[str], hostvars: t.Mapping[str, t.Any], catalog: t.Optional[Catalog] = None,
                usage: t.Optional[t.Mapping[str, t.Mapping[str, t.Any]]] = None) -> list[HostState]:
    """HostStates from inventory (capacity, capabilities, aggregates) plus the store (usage).

    ``usage[host]`` has ``vcpus``, ``memory_mb``, ``disk_gb`` and ``instances`` (a count), and may
    have ``instance_uuids``, ``num_io_ops`` and ``failed_builds`` (host_usage.py); none is an
    empty host. Without a catalog, hosts serve no network and are in no catalog aggregate
    (a capacity check needs neither).
    """
    aggregates = list(catalog.host_aggregates) if catalog is not None else []
    by_name = {a["name"]: a for a in aggregates}
    networks = list(catalog.networks) if catalog is not None else []
    usage = usage or {}
    states = []
    for name in hostnames:
        hv = hostvars.get(name) or {}
        own = {k: v for k, v in hv.items() if k in HYPERVISOR_VARS}
        schema.validate_catalog("hostvars[%s]" % name, own, schema_file="hypervisor.json")
        used = usage.get(name, {})
        member_of = [a for a in aggregates if name in a["hosts"]]
        for agg_name in hv.get("stratus_aggregates") or []:
            agg = by_name.get(str(agg_name)) or {"name": str(agg_name), "hosts": [], "metadata": {}}
            if all(agg is not m for m in member_of):
                member_of.append(agg)
        uuids = [str(u) for u in used.get("instance_uuids") or []]
        fields: dict[str, t.Any] = {f: kind(hv.get(var, default)) for f, var, kind, default in _FROM_HOSTVARS}
        fields.update((f, int(used.get(key, 0))) for f, key in _FROM_USAGE)
        states.append(HostState(
            host=name, **fields,
            num_instances=int(used.get("instances", len(uuids))),
            instances=uuids,
            availability_zone=_zone(name, hv, member_of),
            aggregates=member_of,
            hypervisor_version=version_to_int(hv.get("stratus_hypervisor_version", 0),
                                              "hostvars[%s].stratus_hypervisor_version" % name),
            cpu_info=hv.get("stratus_cpu_info") or {},
            supported_instances=[list(map(str, s)) for s in hv.get("stratus_supported_instances") or []]
            or _default_supported_instances(hv),
            service=_service(hv, used),
            networks=[n["id"] for n in networks if network_served_by(n, name)],
            stats=dict(hv.get("stratus_stats") or {}),
            host_ip=None if hv.get("stratus_host_ip") is None else str(hv["stratus_host_ip"]),
        ))
    return states
