# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog (flavors, images, networks, key pairs, server groups, aggregates), from inventory vars.

A hypervisor's own variables become a scheduler HostState in compute_api/host_states.py.
"""
from __future__ import annotations

import hashlib
import ipaddress
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.flavor import (
    BaremetalFlavor, FlavorSpecError, baremetal_flavor,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import aggregate_from_dict
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema


def _by_name_or_id(items: list[dict[str, t.Any]], ref: t.Any, kind: str,
                   field: str) -> t.Optional[dict[str, t.Any]]:
    """An id matches first; a name must be unique (Nova's NoUniqueMatch otherwise)."""
    ref = str(ref)
    for item in items:
        if str(item.get("id")) == ref:
            return item
    named = [item for item in items if str(item.get("name")) == ref]
    if len(named) > 1:
        raise StratusError("NoUniqueMatch", "Multiple %s matches found for '%s', use an ID to be more specific."
                           % (kind, ref), field)
    return named[0] if named else None


def _unique_ids(name: str, items: t.Iterable[t.Mapping[str, t.Any]]) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        ident = str(item.get("id"))
        if ident in seen:
            raise StratusError("InvalidCatalog", "%s[%d].id: %s is used twice" % (name, i, ident),
                               "%s[%d].id" % (name, i))
        seen.add(ident)


def _check_network(i: int, net: t.Mapping[str, t.Any]) -> None:
    where = "stratus_networks[%d]" % i
    cidr = ipaddress.ip_network(net["cidr"], strict=False)
    if cidr.version != 4 or cidr.num_addresses < 8:
        raise StratusError("InvalidCatalog", "%s.cidr: %s must be an IPv4 network of at least 8 addresses"
                           % (where, net["cidr"]), where + ".cidr")
    addrs = [("gateway", net["gateway"])] if net.get("gateway") else []
    for k, pool in enumerate(net.get("allocation_pools") or []):
        addrs += [("allocation_pools[%d].start" % k, pool["start"]), ("allocation_pools[%d].end" % k, pool["end"])]
        if ipaddress.ip_address(pool["start"]) > ipaddress.ip_address(pool["end"]):
            raise StratusError("InvalidCatalog", "%s.allocation_pools[%d]: start %s is after end %s"
                               % (where, k, pool["start"], pool["end"]), "%s.allocation_pools[%d]" % (where, k))
    for path, addr in addrs:
        if ipaddress.ip_address(addr) not in cidr:
            raise StratusError("InvalidCatalog", "%s.%s: %s is not in %s" % (where, path, addr, cidr),
                               "%s.%s" % (where, path))


def _check_flavor(i: int, flavor: t.Mapping[str, t.Any]) -> None:
    """The bare-metal flavor convention (module_utils/baremetal/flavor.py), once, when the catalog is read."""
    try:
        baremetal_flavor(flavor.get("extra_specs"))
    except FlavorSpecError as exc:
        where = "stratus_flavors[%d].extra_specs" % i
        raise StratusError("InvalidCatalog", "%s.%s" % (where, exc.message), "%s.%s" % (where, exc.key))


def flavor_baremetal(flavor: t.Mapping[str, t.Any]) -> t.Optional[BaremetalFlavor]:
    """A flavor of the catalog (checked when it was read): its resource class and traits, None when virtual."""
    return baremetal_flavor(flavor.get("extra_specs"))


class Catalog:
    """What may be built: each kind checked against its schema when read."""

    def __init__(self, task_vars: t.Mapping[str, t.Any], raw_vars: t.Optional[t.Mapping[str, t.Any]] = None) -> None:
        raw_vars = raw_vars or {}
        for name in schema.CATALOG_SCHEMAS:
            if task_vars.get(name) is not None:
                schema.validate_catalog(name, task_vars[name], raw_vars.get(name))
        self.flavors: list[dict[str, t.Any]] = list(task_vars.get("stratus_flavors") or [])
        self.images: list[dict[str, t.Any]] = list(task_vars.get("stratus_images") or [])
        self.networks: list[dict[str, t.Any]] = list(task_vars.get("stratus_networks") or [])
        self.keypairs: dict[str, t.Any] = dict(task_vars.get("stratus_keypairs") or {})
        self.server_groups: list[dict[str, t.Any]] = list(task_vars.get("stratus_server_groups") or [])
        self.volume_types: list[t.Any] = list(task_vars.get("stratus_volume_types") or [])
        # Host aggregates (Nova's os-aggregates): name, hosts, metadata, availability_zone.
        self.host_aggregates: list[dict[str, t.Any]] = host_aggregates(
            task_vars.get(AGGREGATES_VAR), raw_vars.get(AGGREGATES_VAR))
        for name, items in (("stratus_flavors", self.flavors), ("stratus_images", self.images),
                            ("stratus_networks", self.networks), ("stratus_server_groups", self.server_groups)):
            _unique_ids(name, items)
        for i, net in enumerate(self.networks):
            _check_network(i, net)
        for i, flavor in enumerate(self.flavors):
            _check_flavor(i, flavor)

    def flavor(self, ref: t.Any, project_id: str, is_admin: bool) -> dict[str, t.Any]:
        """The API's lookup: unknown or private without access -> FlavorNotFound (disabled is found here
        and refused later, by the compute API, as Nova does)."""
        flavor = _by_name_or_id(self.flavors, ref, "flavor", "flavor")
        if flavor is None or not (flavor.get("is_public", True) or is_admin
                                  or project_id in (flavor.get("projects") or [])):
            raise StratusError("FlavorNotFound", "Flavor %s could not be found." % ref, "flavor")
        return {
            "id": str(flavor["id"]), "name": str(flavor.get("name", flavor["id"])),
            "vcpus": int(flavor["vcpus"]), "ram": int(flavor["ram"]), "disk": int(flavor.get("disk", 0)),
            "ephemeral": int(flavor.get("ephemeral", 0)), "swap": int(flavor.get("swap", 0) or 0),
            "extra_specs": dict(flavor.get("extra_specs") or {}), "disabled": bool(flavor.get("disabled", False)),
        }

    def find_image(self, ref: t.Any, project_id: t.Optional[str] = None,
                   is_admin: bool = False) -> t.Optional[dict[str, t.Any]]:
        """The image by name or id; with a project, None for another project's private image (Glance's 404 for
        an image the project cannot see, which Nova reports as not found) unless the caller is an admin."""
        image = _by_name_or_id(self.images, ref, "image", "image")
        if image is None:
            return None
        if project_id is not None and not is_admin and image.get("visibility", "public") == "private" \
                and image.get("owner") != project_id:
            return None
        known = {"id", "name", "file", "disk_format", "container_format", "size", "min_disk", "min_ram", "status",
                 "visibility", "owner", "properties"}
        # Glance v2 puts custom properties at the top level; both places count
        properties = {k: v for k, v in image.items() if k not in known}
        properties.update(image.get("properties") or {})
        return {
            "id": str(image["id"]), "name": image.get("name") or str(image["id"]),
            "file": image.get("file"), "disk_format": image.get("disk_format", "qcow2"),
            "size": int(image.get("size") or 0), "min_disk": int(image.get("min_disk") or 0),
            "min_ram": int(image.get("min_ram") or 0), "status": image.get("status", "active"),
            "properties": properties,
        }

    def image(self, ref: t.Any, project_id: t.Optional[str] = None, is_admin: bool = False) -> dict[str, t.Any]:
        image = self.find_image(ref, project_id, is_admin)
        if image is None:
            raise StratusError("ImageNotFound", "Can not find requested image", "image")
        return image

    def network(self, ref: t.Any, field: str = "networks") -> dict[str, t.Any]:
        net = _by_name_or_id(self.networks, ref, "network", field)
        if net is None:
            raise StratusError("NetworkNotFound", "Network %s could not be found." % ref, field)
        cidr = ipaddress.ip_network(net["cidr"], strict=False)
        gateway = str(net.get("gateway") or next(cidr.hosts()))
        digest = hashlib.sha256(str(net["id"]).encode()).hexdigest()
        pools = net.get("allocation_pools") or []
        return {
            "id": str(net["id"]), "name": str(net.get("name", net["id"])), "cidr": str(cidr),
            "gateway": gateway, "dhcp": bool(net.get("dhcp", True)),
            "allocation_pools": [{"start": p["start"], "end": p["end"]} for p in pools],
            "bridge": net.get("bridge") or "stx" + digest[:8],
            "libvirt_name": "stratus-" + str(net.get("name", net["id"])),
            "hypervisors": net.get("hypervisors", "all"),
            "project_id": net.get("project_id"), "shared": bool(net.get("shared", True)),
            "external": bool(net.get("external", False)),
        }

    def visible_networks(self, project_id: str, is_admin: bool) -> list[dict[str, t.Any]]:
        return [n for n in self.networks if n.get("shared", True) or is_admin or n.get("project_id") == project_id]

    def volume_type(self, ref: str) -> t.Optional[str]:
        for vtype in self.volume_types:
            if isinstance(vtype, dict) and ref in (str(vtype.get("id")), str(vtype.get("name"))):
                return str(vtype.get("name") or vtype.get("id"))
            if not isinstance(vtype, dict) and str(vtype) == ref:
                return str(vtype)
        return None


# The catalog variable that defines host aggregates (schemas/aggregate.json).
AGGREGATES_VAR = "stratus_host_aggregates"

# Every variable of the catalog and the rules the controller reads: each front end reads all of
# them (plugin_utils/actions/base.py), so no front end sees a different cloud (a zone that only
# an aggregate names, say).
CATALOG_VARS = ("stratus_flavors", "stratus_images", "stratus_networks", "stratus_keypairs", "stratus_quotas",
                "stratus_scheduler", "stratus_policy", "stratus_server_groups", "stratus_volume_types",
                "stratus_max_local_block_devices", AGGREGATES_VAR)


def host_aggregates(value: t.Any, raw: t.Any = None) -> list[dict[str, t.Any]]:
    """``stratus_host_aggregates`` checked: [{name, hosts, metadata, availability_zone}], names unique."""
    if value is None:
        return []
    schema.validate_catalog(AGGREGATES_VAR, value, raw, schema_file="aggregate.json")
    out = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        where = "%s[%d]" % (AGGREGATES_VAR, i)
        try:
            agg = aggregate_from_dict(item, where)
        except StratusError as exc:
            raise StratusError("InvalidCatalog", exc.message, exc.field)
        if agg["name"] in seen:
            raise StratusError("InvalidCatalog", "%s.name: %s is used twice" % (where, agg["name"]), where + ".name")
        seen.add(agg["name"])
        out.append(agg)
    return out
