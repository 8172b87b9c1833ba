# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build plan's one definition: plans already in stores (version 0) read, version 1 round
trips, what cannot be read is a StratusError naming the field, and what changes after creation
changes through named operations."""
from __future__ import annotations

import copy
import json
import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import (
    PLAN_VERSION, BlockDevice, BuildPlan, ConfigDrive, Nic, read_plan,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

UUID = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"


def stored_v0() -> dict[str, t.Any]:
    """A plan as the conductor stored it before plans had a version (its every key)."""
    return {
        "uuid": UUID, "name": "web-1", "hostname": "web-1", "project_id": "p1", "user_id": "u1",
        "availability_zone": None, "launch_index": 0, "domain_name": "instance-%s" % UUID,
        "flavor": {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 192, "disk": 1, "ephemeral": 0, "swap": 0},
        "image": {"id": "cirros", "name": "cirros", "file": "/images/cirros.qcow2", "disk_format": "qcow2"},
        "nics": [{"network_id": "net-1", "network_name": "demo", "libvirt_network": "stratus-demo",
                  "mac": "fa:16:3e:00:00:01", "ip": "10.240.0.10", "hostname": "web-1"}],
        "networks": [{"id": "net-1", "name": "demo", "libvirt_name": "stratus-demo", "bridge": "stx0",
                      "cidr": "10.240.0.0/24", "gateway": "10.240.0.1", "dhcp": True}],
        "alternates": ["hv2", "hv3"], "max_attempts": 3,
        "block_devices": [
            {"device_name": "vda", "bus": "virtio", "device_type": "disk", "format": "qcow2", "boot_index": 0,
             "delete_on_termination": True, "tag": None, "guest_format": None, "name": "%s-disk" % UUID,
             "kind": "image", "image_id": "cirros", "base_format": "qcow2", "size_bytes": 1 << 30},
            {"device_name": "vdb", "bus": "virtio", "device_type": "disk", "format": "qcow2", "boot_index": None,
             "delete_on_termination": False, "tag": "data", "guest_format": None, "name": "volume-v1",
             "kind": "new_volume", "volume_id": "v1", "image_id": None, "base_format": "qcow2",
             "size_bytes": 2 << 30},
            {"device_name": "vdc", "bus": "virtio", "device_type": "disk", "format": "qcow2", "boot_index": None,
             "delete_on_termination": False, "tag": None, "guest_format": None, "name": "volume-v0",
             "kind": "volume", "volume_id": "v0", "size_bytes": 0},
        ],
        "config_drive": {"meta_data": {"uuid": UUID, "admin_pass": "s3cret"},
                         "network_data": {"links": [], "networks": [], "services": []},
                         "user_data": "I2Nsb3VkLWNvbmZpZwo=", "files": [{"path": "/etc/a", "contents": "YQ=="}]},
        "server_group": None, "created_at": "2026-01-02T03:04:05+00:00",
        "disks": [{"name": "%s-disk" % UUID, "path": "/pool/%s-disk" % UUID, "device_name": "vda"}],
    }


def test_a_version_0_plan_from_a_store_reads_and_keeps_every_value() -> None:
    stored = stored_v0()
    plan = read_plan(copy.deepcopy(stored))
    assert plan.version == PLAN_VERSION and plan.driver == "libvirt"
    assert plan.nics[0] == Nic(network_id="net-1", network_name="demo", libvirt_network="stratus-demo",
                               mac="fa:16:3e:00:00:01", ip="10.240.0.10", hostname="web-1")
    assert [dev.kind for dev in plan.block_devices] == ["image", "new_volume", "volume"]
    assert plan.image is not None and plan.image.file == "/images/cirros.qcow2"
    assert plan.config_drive is not None and plan.config_drive.secrets is None
    written = plan.to_dict()
    assert written["version"] == PLAN_VERSION and written["driver"] == "libvirt"
    # every key of the old shape keeps its value (block devices gain their unset optional keys as None)
    for key, value in stored.items():
        if key != "block_devices":
            assert written[key] == value, key
    for old, new in zip(stored["block_devices"], written["block_devices"]):
        assert {k: new[k] for k in old} == old


def test_a_version_0_plan_may_lack_keys_and_have_others() -> None:
    plan = read_plan({"uuid": UUID, "vm_state": "deleted", "something_old": 1})
    assert plan.nics == [] and plan.block_devices == [] and plan.config_drive is None
    assert plan.domain_name == "instance-%s" % UUID and plan.vm_state == "deleted"


def test_version_1_round_trips_through_json() -> None:
    plan = read_plan(stored_v0())
    again = read_plan(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    assert again.to_dict() == plan.to_dict()


def test_a_leftover_row_names_its_instance() -> None:
    assert read_plan({"vm_state": "deleted"}, uuid=UUID).uuid == UUID
    assert read_plan(dict(stored_v0(), uuid="other"), uuid=UUID).uuid == UUID


def bad(**changes: t.Any) -> dict[str, t.Any]:
    plan = read_plan(stored_v0()).to_dict()
    plan.update(changes)
    return plan


def with_device(**changes: t.Any) -> dict[str, t.Any]:
    plan = bad()
    plan["block_devices"][1].update(changes)
    return plan


@pytest.mark.parametrize("data, field", [
    ([], "plan"),
    ({"name": "no uuid"}, "plan.uuid"),
    (bad(version=PLAN_VERSION + 1), "plan.version"),
    (bad(version="1"), "plan.version"),
    (bad(driver="ironic"), "plan.driver"),
    (bad(nics={"mac": "x"}), "plan.nics"),
    (bad(nics=[{"libvirt_network": "n"}]), "plan.nics[0].mac"),
    (with_device(size_bytes="10"), "plan.block_devices[1].size_bytes"),
    (with_device(size_bytes=True), "plan.block_devices[1].size_bytes"),
    (with_device(kind=None), "plan.block_devices[1].kind"),
    (bad(alternates=["hv2", 3]), "plan.alternates[1]"),
    (bad(config_drive={"meta_data": "x"}), "plan.config_drive.meta_data"),
    (bad(flavour={}), "plan.flavour"),  # a version 1 plan has no keys it does not declare
    (dict(stored_v0(), image="cirros"), "plan.image"),
])
def test_what_cannot_be_read_is_an_error_naming_the_field(data: t.Any, field: str) -> None:
    with pytest.raises(StratusError) as info:
        read_plan(data)
    assert info.value.code == "InvalidRequest"
    assert info.value.field == field
    assert "build plan" in info.value.message


def test_the_changes_after_creation_are_named_and_leave_the_plan_as_it_was() -> None:
    plan = read_plan(stored_v0())
    before = plan.to_dict()
    disks = [{"name": "d", "path": "/pool/d"}]
    assert plan.with_disks(disks).disks == disks
    moved = plan.rescheduled(["hv3"])
    assert moved.alternates == ["hv3"] and moved.disks is None and "disks" not in moved.to_dict()
    cleanup = plan.for_cleanup()
    assert cleanup.vm_state == "error"
    # a volume the build was creating goes; one that existed before is never touched
    assert [dev.delete_on_termination for dev in cleanup.block_devices] == [True, True, False]
    assert cleanup.as_leftover().vm_state == "deleted"
    assert plan.with_vm_state("building").to_dict()["vm_state"] == "building"
    assert plan.to_dict() == before


def test_the_config_drive_secrets_come_out_and_go_back() -> None:
    plan = read_plan(stored_v0())
    bare, secrets = plan.without_secrets()
    assert secrets == {"admin_pass": "s3cret", "user_data": "I2Nsb3VkLWNvbmZpZwo=",
                       "files": [{"path": "/etc/a", "contents": "YQ=="}]}
    assert bare.config_drive == ConfigDrive(meta_data={"uuid": UUID},
                                            network_data={"links": [], "networks": [], "services": []},
                                            secrets=["admin_pass", "files", "user_data"])
    assert "s3cret" not in json.dumps(bare.to_dict())
    assert bare.with_secrets({UUID: secrets}) == plan
    with pytest.raises(StratusError) as info:
        bare.with_secrets({})
    assert info.value.field == "secrets"


def test_the_parts_read_on_their_own() -> None:
    device = BlockDevice.from_dict({"name": "x-disk.eph0", "kind": "blank", "size_bytes": 1})
    assert device.bus == "virtio" and device.delete_on_termination is True
    assert BuildPlan.from_dict({"uuid": UUID}).uuid == UUID
    with pytest.raises(StratusError) as info:
        ConfigDrive.from_dict({"files": "x"}, "config_drive")
    assert info.value.field == "plan.config_drive.files"
