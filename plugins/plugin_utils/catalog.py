# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog (flavors, images, networks, key pairs) and hypervisors, read from inventory vars."""
from __future__ import annotations

import hashlib
import ipaddress
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState


def _by_name_or_id(items: list[dict[str, t.Any]], ref: t.Any) -> t.Optional[dict[str, t.Any]]:
    ref = str(ref)
    for item in items:
        if str(item.get("id")) == ref:
            return item
    for item in items:
        if str(item.get("name")) == ref:
            return item
    return None


class Catalog:
    def __init__(self, task_vars: dict[str, t.Any]) -> None:
        self.flavors: list[dict[str, t.Any]] = list(task_vars.get("stratus_flavors") or [])
        self.images: list[dict[str, t.Any]] = list(task_vars.get("stratus_images") or [])
        self.networks: list[dict[str, t.Any]] = list(task_vars.get("stratus_networks") or [])
        self.keypairs: dict[str, t.Any] = dict(task_vars.get("stratus_keypairs") or {})

    def flavor(self, ref: t.Any) -> dict[str, t.Any]:
        flavor = _by_name_or_id(self.flavors, ref)
        if flavor is None or flavor.get("disabled"):
            raise StratusError("FlavorNotFound", "Flavor %s could not be found." % ref, "flavor")
        return {
            "id": str(flavor["id"]), "name": str(flavor.get("name", flavor["id"])),
            "vcpus": int(flavor["vcpus"]), "ram": int(flavor["ram"]), "disk": int(flavor.get("disk", 0)),
            "ephemeral": int(flavor.get("ephemeral", 0)), "swap": int(flavor.get("swap", 0) or 0),
            "extra_specs": dict(flavor.get("extra_specs") or {}),
        }

    def image(self, ref: t.Any) -> dict[str, t.Any]:
        image = _by_name_or_id(self.images, ref)
        if image is None:
            raise StratusError("ImageNotFound", "Image %s could not be found." % ref, "image")
        if image.get("status", "active") != "active":
            raise StratusError("InvalidRequest", "Image %s is not active." % image["id"], "image")
        return {
            "id": str(image["id"]), "name": str(image.get("name", image["id"])),
            "file": image.get("file"), "disk_format": image.get("disk_format", "qcow2"),
            "min_disk": int(image.get("min_disk", 0)), "min_ram": int(image.get("min_ram", 0)),
            "properties": dict(image.get("properties") or {}),
        }

    def network(self, ref: t.Any) -> dict[str, t.Any]:
        net = _by_name_or_id(self.networks, ref)
        if net is None:
            raise StratusError("NetworkNotFound", "Network %s could not be found." % ref, "networks")
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
        }

    def keypair(self, user_id: str, name: str) -> dict[str, t.Any]:
        for pair in self.keypairs.get(user_id) or []:
            if pair.get("name") == name:
                return {"name": name, "type": pair.get("type", "ssh"), "public_key": pair["public_key"]}
        raise StratusError("KeypairNotFound", "Invalid key_name provided.", "key_name")


def network_served_by(net: dict[str, t.Any], host: str) -> bool:
    served = net.get("hypervisors", "all")
    return served == "all" or host in (served or [])


def host_states(hostnames: list[str], hostvars: t.Mapping[str, t.Any], catalog: Catalog,
                usage: dict[str, dict[str, int]]) -> list[HostState]:
    """HostStates from inventory (capacity) plus claims in the store (usage)."""
    states = []
    for name in hostnames:
        hv = hostvars.get(name) or {}
        used = usage.get(name, {})
        states.append(HostState(
            host=name,
            vcpus=int(hv.get("stratus_vcpus", 0)),
            memory_mb=int(hv.get("stratus_memory_mb", 0)),
            local_gb=int(hv.get("stratus_local_gb", 0)),
            vcpus_used=used.get("vcpus", 0),
            memory_mb_used=used.get("memory_mb", 0),
            local_gb_used=used.get("disk_gb", 0),
            num_instances=used.get("instances", 0),
            availability_zone=str(hv.get("stratus_availability_zone", "nova")),
            cpu_allocation_ratio=float(hv.get("stratus_cpu_allocation_ratio", 16.0)),
            ram_allocation_ratio=float(hv.get("stratus_ram_allocation_ratio", 1.5)),
            disk_allocation_ratio=float(hv.get("stratus_disk_allocation_ratio", 1.0)),
            reserved_host_memory_mb=int(hv.get("stratus_reserved_host_memory_mb", 0)),
            reserved_host_disk_mb=int(hv.get("stratus_reserved_host_disk_mb", 0)),
            reserved_host_cpus=int(hv.get("stratus_reserved_host_cpus", 0)),
            service={"disabled": bool(hv.get("stratus_disabled", False)), "up": True},
            networks=[n["id"] for n in catalog.networks if network_served_by(n, name)],
        ))
    return states
