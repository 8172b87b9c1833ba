# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conductor's build plan of one instance: what the hypervisor steps make of a checked,
placed request (its definition: module_utils/compute/plan.py, which the hypervisors import too).

The conductor writes its ``to_dict()`` into ``instances.plan`` in the create transaction; the
step actions read it back (``read_plan``) and hand it to the hypervisor modules.
"""
from __future__ import annotations

import dataclasses
import datetime
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import (
    BlockDevice, BuildPlan, ConfigDrive, ImageRef, Nic,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import bdm as bdmlib
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema

if t.TYPE_CHECKING:
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.checks import Decision

GiB, MiB = bdmlib.GiB, bdmlib.MiB


def build_plan(request: t.Mapping[str, t.Any], decision: Decision, *, uuid: str, name: str, hostname: str,
               project_id: str, user_id: str, launch_index: int, bdms: list[dict[str, t.Any]], nics: list[Nic],
               alternates: list[str], max_attempts: int, created_at: datetime.datetime,
               boot_files: t.Optional[t.Mapping[str, t.Optional[str]]] = None) -> BuildPlan:
    """The plan of one new instance: its block devices, NICs, config drive, and what a reschedule
    needs (alternates, attempts). ``boot_files`` (kernel_file, ramdisk_file, kernel_cmdline) make it
    a bare-metal deploy's plan (driver baremetal): its config drive always goes on the deploy medium."""
    image = decision.image
    image_ref = None
    if image:
        image_ref = ImageRef(**{k: image.get(k) for k in ("id", "name", "file", "disk_format")},
                             **dict(boot_files or {}))
    plan = BuildPlan(
        uuid=uuid, name=name, hostname=hostname, project_id=project_id, user_id=user_id,
        driver="baremetal" if boot_files is not None else "libvirt",
        availability_zone=decision.zone, launch_index=launch_index, domain_name="instance-%s" % uuid,
        flavor=dict(decision.flavor),
        image=image_ref,
        nics=list(nics), networks=[dict(n) for n in decision.networks], alternates=list(alternates),
        max_attempts=max_attempts, block_devices=[] if boot_files is not None else _block_devices(uuid, bdms, decision.flavor, image),
        server_group=dict(decision.group) if decision.group else None, created_at=created_at.isoformat())
    if schema.as_bool(request.get("config_drive")) or boot_files is not None:
        plan = _with_config_drive(plan, request, decision.keypair)
    return plan


def _block_devices(uuid: str, bdms: list[dict[str, t.Any]], flavor: t.Mapping[str, t.Any],
                   image: t.Optional[t.Mapping[str, t.Any]]) -> list[BlockDevice]:
    """What the block device step builds on the host, one entry per mapping, in device order."""
    devices = []
    eph = 0
    base_format = (image or {}).get("disk_format", "qcow2")
    for bdm in sorted(bdms, key=lambda x: (len(x["device_name"]), x["device_name"])):
        common = {"device_name": bdmlib.strip_dev(bdm["device_name"]), "bus": bdm.get("disk_bus") or "virtio",
                  "device_type": bdm.get("device_type") or "disk", "format": "qcow2",
                  "boot_index": bdm.get("boot_index"),
                  "delete_on_termination": bool(bdm.get("delete_on_termination")),
                  "tag": bdm.get("tag"), "guest_format": bdm.get("guest_format")}
        if bdm["source_type"] == "image" and bdm["destination_type"] == "local":
            common.update(name="%s-disk" % uuid, kind="image", image_id=bdm["image_id"], base_format=base_format,
                          size_bytes=int(flavor["disk"]) * GiB, delete_on_termination=True)
        elif bdm["source_type"] == "blank" and bdm["destination_type"] == "local":
            if bdmlib.is_swap(bdm):
                common.update(name="%s-disk.swap" % uuid, kind="blank", size_bytes=int(bdm["volume_size"]) * MiB)
            else:
                common.update(name="%s-disk.eph%d" % (uuid, eph), kind="blank",
                              size_bytes=int(bdm["volume_size"]) * GiB)
                eph += 1
            common["delete_on_termination"] = True
        elif bdm["source_type"] == "volume":
            common.update(name="volume-%s" % bdm["volume_id"], kind="volume", volume_id=bdm["volume_id"],
                          size_bytes=int(bdm["volume_size"] or 0) * GiB)
        else:  # image or blank into a new volume: created with the server, kept unless delete_on_termination
            common.update(name="volume-%s" % bdm["new_volume_id"], kind="new_volume",
                          volume_id=bdm["new_volume_id"], image_id=bdm.get("image_id"), base_format=base_format,
                          size_bytes=int(bdm["volume_size"]) * GiB)
        devices.append(BlockDevice(**common))
    return devices


def _with_config_drive(plan: BuildPlan, request: t.Mapping[str, t.Any],
                       keypair: t.Optional[dict[str, t.Any]]) -> BuildPlan:
    """The plan with Nova's config drive: its metadata, network data, user data and injected files."""
    meta_data = {
        "uuid": plan.uuid, "name": plan.name, "hostname": plan.hostname,
        "availability_zone": plan.availability_zone or "nova", "project_id": plan.project_id,
        "launch_index": plan.launch_index, "meta": dict(request.get("metadata") or {}),
        "devices": [{"type": "disk", "bus": dev.bus, "address": dev.device_name, "tags": [dev.tag]}
                    for dev in plan.block_devices if dev.tag],
        "public_keys": {keypair["name"]: keypair["public_key"]} if keypair else {},
        "keys": [{"name": keypair["name"], "type": keypair["type"], "data": keypair["public_key"]}]
        if keypair else [],
    }
    if request.get("admin_pass"):
        meta_data["admin_pass"] = request["admin_pass"]
    links, networks = [], []
    for i, nic in enumerate(plan.nics):
        links.append({"id": "tap%d" % i, "type": "phy", "ethernet_mac_address": nic.mac, "mtu": 1500})
        networks.append({"id": "network%d" % i, "type": "ipv4_dhcp", "link": "tap%d" % i,
                         "network_id": nic.network_id})
    drive = ConfigDrive(meta_data=meta_data, network_data={"links": links, "networks": networks, "services": []},
                        user_data=request.get("user_data"), files=list(request.get("personality") or []))
    return dataclasses.replace(plan, config_drive=drive)
