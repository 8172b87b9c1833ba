"""`stratus api`'s admin reads that Nova's API does not carry, for the dashboard's Admin pages and for scripts:

- ``GET /v2.1/os-stratus-hypervisor-capacity`` (a Stratus extension): each hypervisor's allocation ratios,
  reserved amounts and the capacity they give ((total - reserved) x ratio, what the scheduler's filters bound
  claims with). Nova's os-hypervisors shows the raw totals only (placement has the ratios); the rule is
  os-hypervisors' list-detail (admin).
- ``GET /baremetal/v1/nodes``: the inventory's bare-metal nodes and where the store has them in Ironic's
  provision states, in Ironic's list body (uuid, name, instance_uuid, power_state, provision_state,
  maintenance, links); Ironic's rule baremetal:node:list (admin). Read only: the node moves are the CLI's
  (`stratus baremetal node ...`, docs/baremetal.md).
"""
from __future__ import annotations

import typing as t

from stratus_cli.api import resource_views as rviews
from stratus_cli.api.collection import ensure_importable
from stratus_cli.api.edge import Answer, Call, get

ensure_importable()
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views as compute_views  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import baremetal_nodes  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.node_views import node_views  # noqa: E402

CAPACITY_FIELDS = ("cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio", "reserved_host_cpus",
                   "reserved_host_memory_mb", "reserved_host_disk_mb", "capacity")


def hypervisor_capacity(call: Call) -> Answer:
    """Per hypervisor (the os-hypervisors id of the request's microversion, its name): ratios and capacity."""
    call.caller.authorize("os_compute_api:os-hypervisors:list-detail")
    version = call.version or (2, 1)
    out = []
    for hv in compute_views.hypervisor_views(call.conn, list(call.config.hypervisors), call.config.hostvars,
                                             call.cloud.catalog):
        item = {"id": rviews.object_id("hypervisor", hv["hypervisor_hostname"], version),
                "hypervisor_hostname": hv["hypervisor_hostname"]}
        item.update((k, hv[k]) for k in CAPACITY_FIELDS)
        out.append(item)
    return {"hypervisors": out}


def node_uuid(name: str) -> str:
    """Stratus names nodes (the inventory's host names); Ironic's uuid is derived from the name, stable."""
    return rviews.derived_uuid("baremetal-node", name)


def ironic_node(view: t.Mapping[str, t.Any], base: str) -> dict[str, t.Any]:
    """A node as Ironic's GET /v1/nodes lists it (its default fields)."""
    uuid = node_uuid(view["name"])
    return {"uuid": uuid, "name": view["name"], "instance_uuid": view["instance_uuid"],
            "power_state": view["power_state"], "provision_state": view["provision_state"],
            "maintenance": bool(view["maintenance"]),
            "links": [{"href": "%s/baremetal/v1/nodes/%s" % (base, uuid), "rel": "self"},
                      {"href": "%s/baremetal/nodes/%s" % (base, uuid), "rel": "bookmark"}]}


def baremetal_node_list(call: Call) -> Answer:
    call.caller.authorize("baremetal:node:list")
    nodes = baremetal_nodes.read_nodes(call.config.baremetal_nodes, call.config.hostvars, call.cloud.catalog.networks)
    return {"nodes": [ironic_node(v, call.base) for v in node_views(call.conn, nodes)]}


ROUTES = [
    get("/v2.1/os-stratus-hypervisor-capacity", hypervisor_capacity, versioned=True),
    get("/baremetal/v1/nodes", baremetal_node_list),
]
