# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bare-metal nodes as inventory: the ``baremetal_nodes`` group's hostvars read into typed records.

Each host's ``stratus_bm_*`` variables are checked against ``schemas/baremetal_node.json``, then
against the catalog and each other: every NIC is on a network of ``stratus_networks``, no MAC
belongs to two NICs, the driver is one of the registry's, the resource class is not already
prefixed. A refusal is InvalidCatalog naming ``hostvars[<node>].<variable>``; nothing is read
into a record until the whole group passes. The BMC password stays in ``BMCAccess`` (never in a
repr or a message).
"""
from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import BMCAccess
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.drivers import DRIVERS
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.resource_class import (
    is_prefixed, normalize_resource_class,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema

GROUP = "baremetal_nodes"
SCHEMA_FILE = "baremetal_node.json"
# A node's own inventory variables (schemas/baremetal_node.json); any other stratus_bm_* is a typo, refused.
PREFIX = "stratus_bm_"
REDFISH_ONLY = ("stratus_bm_system_id", "stratus_bm_verify_tls")


@dataclasses.dataclass(frozen=True)
class NodeNic:
    mac: str  # lower case
    network: str  # the catalog network's name


@dataclasses.dataclass(frozen=True)
class BaremetalNode:
    """One node of the baremetal_nodes group (Ironic's node fields)."""

    name: str
    driver: str
    bmc: BMCAccess
    nics: t.Tuple[NodeNic, ...]
    resource_class: str  # as the inventory says
    placement_resource_class: str  # what a flavor asks for: CUSTOM_...
    cpus: int
    memory_mb: int
    local_gb: int
    cpu_arch: str
    traits: t.Tuple[str, ...] = ()
    availability_zone: t.Optional[str] = None
    maintenance: bool = False
    maintenance_reason: t.Optional[str] = None


def _field(node: str, variable: str) -> str:
    return "hostvars[%s].%s" % (node, variable)


def _refuse(field: str, why: str) -> StratusError:
    return StratusError("InvalidCatalog", "%s: %s" % (field, why), field)


def _check_port(node: str, address: str) -> None:
    """The schema checks the address's form; the port's range is checked here."""
    host_port = address.split("://", 1)[-1].rstrip("/")
    port = host_port.rsplit("]", 1)[-1] if host_port.startswith("[") else host_port
    if ":" in port and not 1 <= int(port.rsplit(":", 1)[1]) <= 65535:
        raise _refuse(_field(node, "stratus_bm_address"), "the port must be 1..65535")


def _network_names(networks: t.Iterable[t.Mapping[str, t.Any]]) -> t.Dict[str, str]:
    """A catalog network's name and id -> its name (a NIC may name either)."""
    names: t.Dict[str, str] = {}
    for net in networks:
        names[str(net.get("id"))] = str(net.get("name"))
        names[str(net.get("name"))] = str(net.get("name"))
    return names


def read_node(name: str, variables: t.Mapping[str, t.Any], networks: t.Mapping[str, str]) -> BaremetalNode:
    """One node's stratus_bm_* variables, checked (schema, registry, catalog networks)."""
    own = {k: v for k, v in variables.items() if str(k).startswith(PREFIX)}
    schema.validate_catalog("hostvars[%s]" % name, own, schema_file=SCHEMA_FILE)
    driver = own["stratus_bm_driver"]
    if driver not in DRIVERS:  # the schema's enum and the registry disagree: a third driver half added
        raise _refuse(_field(name, "stratus_bm_driver"), "unknown driver %r (known: %s)"
                      % (driver, ", ".join(sorted(DRIVERS))))
    _check_port(name, own["stratus_bm_address"])
    for variable in REDFISH_ONLY:
        if driver != "redfish" and variable in own:
            raise _refuse(_field(name, variable), "only a redfish node has it (this node's driver is %s)" % driver)
    resource_class = own["stratus_bm_resource_class"]
    if is_prefixed(resource_class):
        raise _refuse(_field(name, "stratus_bm_resource_class"),
                      "%s: write the resource class without CUSTOM_ (Nova adds it: %s would become %s)"
                      % (resource_class, resource_class, normalize_resource_class(resource_class)))
    nics = []
    for i, nic in enumerate(own["stratus_bm_nics"]):
        network = networks.get(str(nic["network"]))
        if network is None:
            raise _refuse(_field(name, "stratus_bm_nics[%d].network" % i),
                          "the MAC %s is on network %s, which is not in stratus_networks" % (nic["mac"], nic["network"]))
        nics.append(NodeNic(mac=nic["mac"].lower(), network=network))
    properties = own["stratus_bm_properties"]
    return BaremetalNode(
        name=name, driver=driver,
        bmc=BMCAccess(node=name, address=own["stratus_bm_address"], username=own["stratus_bm_username"],
                      password=own["stratus_bm_password"], system_id=own.get("stratus_bm_system_id"),
                      verify_tls=own.get("stratus_bm_verify_tls", True)),
        nics=tuple(nics), resource_class=resource_class,
        placement_resource_class=normalize_resource_class(resource_class),
        cpus=properties["cpus"], memory_mb=properties["memory_mb"], local_gb=properties["local_gb"],
        cpu_arch=properties["cpu_arch"], traits=tuple(own.get("stratus_bm_traits") or ()),
        availability_zone=own.get("stratus_bm_availability_zone"),
        maintenance=bool(own.get("stratus_bm_maintenance", False)),
        maintenance_reason=own.get("stratus_bm_maintenance_reason"))


def read_nodes(hostnames: t.Iterable[str], hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
               networks: t.Iterable[t.Mapping[str, t.Any]]) -> t.List[BaremetalNode]:
    """Every node of the group, checked; a MAC that two NICs claim is refused at the second one."""
    by_name = _network_names(networks)
    nodes = []
    owner: t.Dict[str, str] = {}  # MAC -> the node that has it
    for name in hostnames:
        node = read_node(name, hostvars.get(name) or {}, by_name)
        for i, nic in enumerate(node.nics):
            if nic.mac in owner:
                raise _refuse(_field(name, "stratus_bm_nics[%d].mac" % i), "the MAC %s is also a NIC of node %s"
                              % (nic.mac, owner[nic.mac]))
            owner[nic.mac] = name
        nodes.append(node)
    return nodes


def nodes_from_task_vars(task_vars: t.Mapping[str, t.Any]) -> t.List[BaremetalNode]:
    """The baremetal_nodes group of the inventory (none when there is no such group)."""
    hostnames = list((task_vars.get("groups") or {}).get(GROUP) or [])
    return read_nodes(hostnames, task_vars.get("hostvars") or {}, task_vars.get("stratus_networks") or [])
