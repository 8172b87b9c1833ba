# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The create's bare-metal side: the nodes it schedules among, the whole-node claim, and why not.

A bare-metal flavor is scheduled among the inventory's nodes only (the node scheduler,
module_utils/scheduler), a virtual flavor among hypervisors only; a virtual flavor on a fleet
of nodes only is scheduled among them too, so that its NoValidHost says why and explain names
each node. Everything is read inside the create's locked transaction.
"""
from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.flavor import BaremetalFlavor
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.node_state import NodeState
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import GROUP, BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.node_states import node_states, read_nodes
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import node_claims
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who


class NodeFleet:
    """The inventory's nodes joined with their store rows, for one create."""

    def __init__(self, nodes: t.Sequence[BaremetalNode], states: t.Sequence[NodeState],
                 requested_host: t.Optional[str] = None) -> None:
        self.nodes = {node.name: node for node in nodes}
        self.states = list(states)
        self.requested_host = requested_host

    @classmethod
    def read(cls, conn: Connection, names: t.Sequence[str], hypervisors: t.Sequence[str],
             hostvars: t.Mapping[str, t.Any], catalog: Catalog, requested_host: t.Optional[str] = None) -> "NodeFleet":
        """Every node of the inventory (checked), or only the requested one (``host`` of the request)."""
        nodes = read_nodes(names, hostvars, catalog, hypervisors)
        if requested_host:
            nodes = [node for node in nodes if node.name == requested_host]
        return cls(nodes, node_states(nodes, node_claims.node_rows(conn), catalog), requested_host)

    def claim(self, conn: Connection, node: str, instance_uuid: str, who: Who) -> BaremetalNode:
        """The whole-node claim of a scheduled instance (node_claims.claim_node); the node's record."""
        node_claims.claim_node(conn, node, instance_uuid, who)
        return self.nodes[node]

    def no_valid_host(self, exc: StratusError, flavor: t.Mapping[str, t.Any],
                      baremetal: t.Optional[BaremetalFlavor]) -> StratusError:
        """The scheduler's NoValidHost, saying what the fleet lacks; explain and selections go along."""
        if baremetal is None:
            message = ("No valid host was found. Flavor %s asks for no bare-metal resource class (resources:CUSTOM_"
                       "<CLASS>: \"1\", with resources:VCPU, resources:MEMORY_MB and resources:DISK_GB \"0\"), and "
                       "this cloud has bare-metal nodes only (%d), no hypervisor to run a virtual server"
                       % (flavor["name"], len(self.nodes)))
            field: t.Optional[str] = "flavor"
        elif not self.nodes and self.requested_host:
            message = ("No valid host was found. Flavor %s asks for a bare-metal node of class %s; the requested "
                       "host %s is not a bare-metal node" % (flavor["name"], baremetal.resource_class,
                                                             self.requested_host))
            field = "host"
        elif not self.nodes:
            message = ("No valid host was found. Flavor %s asks for a bare-metal node of class %s, and there is no "
                       "bare-metal node to schedule on (the inventory group %s)"
                       % (flavor["name"], baremetal.resource_class, GROUP))
            field = "flavor"
        else:
            message = ("No valid host was found. There are not enough bare-metal nodes available: flavor %s takes "
                       "a whole node of class %s per server (explain: true names each node's reason)"
                       % (flavor["name"], baremetal.resource_class))
            field = exc.field
        err = StratusError("NoValidHost", message, field)
        for attribute in ("explain", "selections"):
            if hasattr(exc, attribute):
                setattr(err, attribute, getattr(exc, attribute))
        return err


def node_mac(node: BaremetalNode, network: t.Mapping[str, t.Any]) -> str:
    """The node's own MAC on a network of the request (the scheduler's NodeNetworkFilter has made
    sure it has one): the address IPAM gives goes with it."""
    for nic in node.nics:
        if nic.network == network["name"]:
            return nic.mac
    raise StratusError("NoValidHost", "No valid host was found. Bare-metal node %s has no NIC on network %s"
                       % (node.name, network["name"]), "networks")


def boot_files(catalog: Catalog, image: t.Optional[t.Mapping[str, t.Any]]) -> dict[str, t.Optional[str]]:
    """The kernel and ramdisk a bare-metal deploy boots: the image's ``kernel_id`` and ``ramdisk_id``
    properties name catalog images with files (Ironic's way), ``os_command_line`` the kernel's
    command line (deploy_medium.py checks it). Anything else is ImageUnacceptable, field image."""
    if not image:
        raise StratusError("ImageUnacceptable", "a bare-metal server boots an image (its kernel_id and ramdisk_id); "
                           "none was given", "image")
    properties = image.get("properties") or {}
    found: dict[str, t.Optional[str]] = {}
    for prop, key in (("kernel_id", "kernel_file"), ("ramdisk_id", "ramdisk_file")):
        ref = properties.get(prop)
        part = catalog.find_image(ref) if isinstance(ref, str) and ref else None
        if part is None or not part.get("file"):
            raise StratusError("ImageUnacceptable", "Image %s is unacceptable for a bare-metal deploy: its %s %s"
                               % (image["id"], prop, "names no image of the catalog with a file" if ref else
                                  "property is missing (the kernel and ramdisk a node boots)"), "image")
        found[key] = str(part["file"])
    cmdline = properties.get("os_command_line")
    if cmdline is not None and not isinstance(cmdline, str):
        raise StratusError("ImageUnacceptable", "Image %s: os_command_line must be a string" % image["id"], "image")
    found["kernel_cmdline"] = cmdline
    return found
