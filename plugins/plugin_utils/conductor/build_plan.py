# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build plan of one instance: what the hypervisor steps make of a checked, placed request.

The conductor writes it into ``instances.plan`` in the create transaction; the step actions
read it back and hand it to the hypervisor modules.
"""
from __future__ import annotations

import datetime
import typing as t

from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import bdm as bdmlib
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema

if t.TYPE_CHECKING:
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.checks import Decision

GiB, MiB = bdmlib.GiB, bdmlib.MiB


def build_plan(req: t.Mapping[str, t.Any], d: Decision, inst: dict[str, t.Any], bdms: list[dict[str, t.Any]],
               nics: list[dict[str, t.Any]], alternates: list[str], max_attempts: int,
               created_at: datetime.datetime) -> dict[str, t.Any]:
    """The plan of the instance ``inst`` (uuid, name, hostname, ids, zone, launch index): its
    block devices, NICs, config drive, and what a reschedule needs (alternates, attempts)."""
    devices = _block_devices(inst["uuid"], bdms, d.flavor, d.image)
    return {
        **inst, "domain_name": "instance-%s" % inst["uuid"], "flavor": d.flavor,
        "image": {k: d.image.get(k) for k in ("id", "name", "file", "disk_format")} if d.image else None,
        "nics": nics, "networks": d.networks, "alternates": alternates, "max_attempts": max_attempts,
        "block_devices": devices,
        "config_drive": (_config_drive(inst, nics, req, d.keypair, devices)
                         if schema.as_bool(req.get("config_drive")) else None),
        "server_group": d.group, "created_at": created_at.isoformat(),
    }


def _block_devices(uuid: str, bdms: list[dict[str, t.Any]], flavor: t.Mapping[str, t.Any],
                   image: t.Optional[t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """What the block device step builds on the host, one entry per mapping, in device order."""
    devs = []
    eph = 0
    for b in sorted(bdms, key=lambda x: (len(x["device_name"]), x["device_name"])):
        dev = {"device_name": bdmlib.strip_dev(b["device_name"]), "bus": b.get("disk_bus") or "virtio",
               "device_type": b.get("device_type") or "disk", "format": "qcow2",
               "boot_index": b.get("boot_index"), "delete_on_termination": bool(b.get("delete_on_termination")),
               "tag": b.get("tag"), "guest_format": b.get("guest_format")}
        if b["source_type"] == "image" and b["destination_type"] == "local":
            dev.update(name="%s-disk" % uuid, kind="image", image_id=b["image_id"],
                       base_format=(image or {}).get("disk_format", "qcow2"), size_bytes=int(flavor["disk"]) * GiB,
                       delete_on_termination=True)
        elif b["source_type"] == "blank" and b["destination_type"] == "local":
            if bdmlib.is_swap(b):
                dev.update(name="%s-disk.swap" % uuid, kind="blank", size_bytes=int(b["volume_size"]) * MiB)
            else:
                dev.update(name="%s-disk.eph%d" % (uuid, eph), kind="blank", size_bytes=int(b["volume_size"]) * GiB)
                eph += 1
            dev["delete_on_termination"] = True
        elif b["source_type"] == "volume":
            dev.update(name="volume-%s" % b["volume_id"], kind="volume", volume_id=b["volume_id"],
                       size_bytes=int(b["volume_size"] or 0) * GiB)
        else:  # image or blank into a new volume: created with the server, kept unless delete_on_termination
            dev.update(name="volume-%s" % b["new_volume_id"], kind="new_volume", volume_id=b["new_volume_id"],
                       image_id=b.get("image_id"), base_format=(image or {}).get("disk_format", "qcow2"),
                       size_bytes=int(b["volume_size"]) * GiB)
        devs.append(dev)
    return devs


def _config_drive(inst: dict[str, t.Any], nics: list[dict[str, t.Any]], req: t.Mapping[str, t.Any],
                  keypair: t.Optional[dict[str, t.Any]], devices: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    meta_data = {
        "uuid": inst["uuid"], "name": inst["name"], "hostname": inst["hostname"],
        "availability_zone": inst["availability_zone"] or "nova", "project_id": inst["project_id"],
        "launch_index": inst["launch_index"], "meta": dict(req.get("metadata") or {}),
        "devices": [{"type": "disk", "bus": d["bus"], "address": d["device_name"], "tags": [d["tag"]]}
                    for d in devices if d.get("tag")],
        "public_keys": {keypair["name"]: keypair["public_key"]} if keypair else {},
        "keys": [{"name": keypair["name"], "type": keypair["type"], "data": keypair["public_key"]}]
        if keypair else [],
    }
    if req.get("admin_pass"):
        meta_data["admin_pass"] = req["admin_pass"]
    links, networks = [], []
    for i, nic in enumerate(nics):
        links.append({"id": "tap%d" % i, "type": "phy", "ethernet_mac_address": nic["mac"], "mtu": 1500})
        networks.append({"id": "network%d" % i, "type": "ipv4_dhcp", "link": "tap%d" % i,
                         "network_id": nic["network_id"]})
    return {"meta_data": meta_data, "network_data": {"links": links, "networks": networks, "services": []},
            "user_data": req.get("user_data"), "files": list(req.get("personality") or [])}
