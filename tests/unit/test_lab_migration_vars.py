"""The lab's migration network as the inventory carries it: the hypervisor variables
`stratus_migration_address` and `stratus_migration_uri` (schemas/hypervisor.json), full-match
validated because they reach a libvirt URI, and the names and addresses the lab derives for them."""
from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema
from stratus_lab import baremetal, lab as labmod

HOST = {"stratus_vcpus": 1, "stratus_memory_mb": 1, "stratus_local_gb": 1}


def validate(**hostvars: t.Any) -> None:
    schema.validate_catalog("hostvars[hv1]", dict(HOST, **hostvars), schema_file="hypervisor.json")


@pytest.mark.parametrize("address, uri", [
    ("10.242.251.1", "qemu+tcp://10.242.251.1/system"),
    ("hv1.example.com", "qemu+tls://hv1.example.com/system"),
    ("hv1", "qemu+ssh://nova@hv1:2222/system"),
])
def test_good_migration_vars_pass(address: str, uri: str) -> None:
    validate(stratus_migration_address=address, stratus_migration_uri=uri)


@pytest.mark.parametrize("field, value", [
    ("stratus_migration_address", "10.242.251.1\n"),
    ("stratus_migration_address", "hv1;reboot"),
    ("stratus_migration_address", "-hv1"),
    ("stratus_migration_address", ""),
    ("stratus_migration_uri", "qemu+tcp://10.242.251.1/system\n"),
    ("stratus_migration_uri", "qemu+tcp://10.242.251.1/system?socket=/tmp/x"),
    ("stratus_migration_uri", "qemu+tcp://a b/system"),
    ("stratus_migration_uri", "qemu:///system"),
    ("stratus_migration_uri", "qemu+tcp://hv1/session"),
    ("stratus_migration_uri", "xen+tcp://hv1/system"),
])
def test_bad_migration_vars_are_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(StratusError) as err:
        validate(**{field: value})
    assert (err.value.code, err.value.field) == ("InvalidCatalog", "hostvars[hv1].%s" % field)


def test_the_lab_derives_short_names_and_a_free_migration_subnet() -> None:
    lab = labmod.Lab(state=Path("/tmp/x"), prefix="abcdefgh", subnet_base="10.242", hypervisors=[1, 200])
    hv = lab.hv(200)
    # IFNAMSIZ is 16: 15 characters at most, with the longest prefix and the highest hypervisor number
    assert max(len(hv.migration_link), len(lab.migration_bridge), len(hv.host_link)) <= 15
    assert lab.migration_network == "10.242.251.0/24" and hv.migration_addr == "10.242.251.200"
    assert hv.migration_uri == "qemu+tcp://10.242.251.200/system"
    # neither a hypervisor's /24 nor the BMC namespace's
    assert labmod.MIGRATION_OCTET not in range(1, 201) and labmod.MIGRATION_OCTET != baremetal.BMC_OCTET
    # each libvirtd its own host UUID, the same on every `up`
    assert lab.hv(1).host_uuid != hv.host_uuid == lab.hv(200).host_uuid
    conf = labmod.libvirtd_conf(hv)
    assert 'listen_addr = "10.242.251.200"' in conf and 'host_uuid = "%s"' % hv.host_uuid in conf
    assert "listen_tcp = 0" in labmod.libvirtd_conf(None)


def test_the_lab_inventory_passes_the_hypervisor_schema(tmp_path: Path) -> None:
    lab = labmod.Lab(state=tmp_path, prefix="stxh", subnet_base="10.242", hypervisors=[1])
    hv = lab.hv(1)
    validate(stratus_migration_address=hv.migration_addr, stratus_migration_uri=hv.migration_uri)
