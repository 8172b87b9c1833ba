from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.stratus.compute.plugins.module_utils.compute import domain, network

INSTANCE = {
    "uuid": "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11", "domain_name": "instance-6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11",
    "name": "<evil name=\"x\"> & ']]>", "project_id": "p&1", "user_id": "u<1>",
    "flavor": {"id": "1", "name": "m1.tiny", "vcpus": 2, "ram": 256},
    "image": {"id": "img", "name": "img"}, "created_at": "2026-11-21T00:00:00+00:00",
    "nics": [{"mac": "fa:16:3e:00:00:01", "libvirt_network": "stratus-demo"}],
}
DISKS = [{"path": "/pool/x-disk", "device_name": "vda", "bus": "virtio", "device_type": "disk", "format": "qcow2"},
         {"path": "/pool/x.iso", "device_name": "hdd", "bus": "ide", "device_type": "cdrom", "format": "raw"}]


def test_user_values_are_escaped_and_round_trip() -> None:
    xml, digest = domain.domain_xml(INSTANCE, DISKS, "qemu")
    root = ET.fromstring(xml)  # parses: nothing injected
    assert root.findtext("title") == INSTANCE["name"]
    assert root.findtext("uuid") == INSTANCE["uuid"]
    ns = "{%s}" % domain.METADATA_NS
    meta = root.find("metadata/%sinstance" % ns)
    assert meta.findtext(ns + "name") == INSTANCE["name"]
    assert meta.find(ns + "project").get("uuid") == "p&1"
    assert meta.findtext(ns + "specHash") == digest
    assert [d.get("dev") for d in root.findall("devices/disk/target")] == ["vda", "hdd"]
    assert root.find("devices/interface/mac").get("address") == "fa:16:3e:00:00:01"
    assert root.find("devices/serial/log").get("file").endswith(INSTANCE["uuid"] + ".console.log")


def test_spec_hash_ignores_metadata_but_sees_devices() -> None:
    d1 = domain.domain_xml(INSTANCE, DISKS, "qemu")[1]
    d2 = domain.domain_xml(dict(INSTANCE, created_at="later"), DISKS, "qemu")[1]
    d3 = domain.domain_xml(INSTANCE, DISKS[:1], "qemu")[1]
    assert d1 == d2 and d1 != d3


def test_network_is_isolated() -> None:
    xml = network.network_xml({"libvirt_name": "stratus-demo", "bridge": "stxabc", "cidr": "10.0.0.0/24",
                               "gateway": "10.0.0.1", "dhcp": True})
    root = ET.fromstring(xml)
    assert root.find("forward") is None
    assert root.find("ip").get("prefix") == "24"
    assert root.find("ip/dhcp/host").get("mac") == network.PLACEHOLDER_MAC
