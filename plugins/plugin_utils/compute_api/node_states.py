# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduler's NodeStates: a bare-metal node's inventory record joined with its store row.

The inventory (baremetal_nodes.py) says what a node is: its class, properties, traits, zone,
NICs and maintenance flag. The store's ``baremetal_nodes`` row says where it is in Ironic's
provision states, whether an operator put it in maintenance, and which instance holds it. A node
with no row has never been managed: it is ``enroll`` and not schedulable. Maintenance is the
inventory's flag or the row's (node_views.maintenance_of, as the node views show it).
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.drivers import boot_interface
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.states import ENROLL
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.node_state import (
    NODE_HYPERVISOR_TYPE, NodeState,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import baremetal_nodes
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.node_views import maintenance_of

if t.TYPE_CHECKING:
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog


def node_names(task_vars: t.Mapping[str, t.Any]) -> list[str]:
    """The inventory's bare-metal node names (the group's hosts), nothing read or checked yet."""
    return list((task_vars.get("groups") or {}).get(baremetal_nodes.GROUP) or [])


def read_nodes(names: t.Sequence[str], hostvars: t.Mapping[str, t.Any], catalog: Catalog,
               hypervisors: t.Sequence[str] = ()) -> list[BaremetalNode]:
    """The nodes, checked (baremetal_nodes.read_nodes); a host that is also a hypervisor is refused."""
    for name in names:
        if name in hypervisors:
            field = "hostvars[%s]" % name
            raise StratusError("InvalidCatalog", "%s: a host is a hypervisor or a bare-metal node, not both (it is in "
                               "the groups hypervisors and %s)" % (field, baremetal_nodes.GROUP), field)
    return baremetal_nodes.read_nodes(names, hostvars, catalog.networks)


def node_states(nodes: t.Iterable[BaremetalNode], rows: t.Mapping[str, t.Any], catalog: Catalog) -> list[NodeState]:
    """One NodeState per node, by name (the node scheduler takes the first that passes)."""
    network_ids = {str(net.get("name")): str(net["id"]) for net in catalog.networks}  # NodeNic.network is a name
    states = []
    for node in sorted(nodes, key=lambda n: n.name):
        row = rows.get(node.name)
        held = row.instance_uuid if row is not None else None
        maintenance, reason, _said_by = maintenance_of(node, row)
        states.append(NodeState(
            host=node.name, vcpus=node.cpus, memory_mb=node.memory_mb, local_gb=node.local_gb,
            # a node someone holds is used whole (IronicNodeState)
            vcpus_used=node.cpus if held else 0, memory_mb_used=node.memory_mb if held else 0,
            local_gb_used=node.local_gb if held else 0, num_instances=1 if held else 0,
            instances=[held] if held else [],
            cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0, disk_allocation_ratio=1.0,
            hypervisor_type=NODE_HYPERVISOR_TYPE, availability_zone=node.availability_zone,
            cpu_info={"arch": node.cpu_arch},
            supported_instances=[[node.cpu_arch, NODE_HYPERVISOR_TYPE, "hvm"]],
            networks=[network_ids[nic.network] for nic in node.nics if nic.network in network_ids],
            resource_class=node.placement_resource_class, traits=list(node.traits),
            maintenance=maintenance, maintenance_reason=reason,
            provision_state=row.provision_state if row is not None else ENROLL, instance_uuid=held,
            driver=node.driver, boot_interface=boot_interface(node.driver)))
    return states
