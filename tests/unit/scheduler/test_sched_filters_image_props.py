"""ImagePropertiesFilter (cases after Nova's test_image_props_filters)."""
from __future__ import annotations

import pytest

from sched_helpers import passes

V6 = 6000000  # 6.0.0 as Nova stores versions


def image_passes(props: dict, host: dict, config: dict | None = None) -> bool:
    spec = {"flavor": {}, "image": {"id": "img", "properties": props}}
    return passes("ImagePropertiesFilter", dict({"host": "hv1"}, **host), spec, config)


KVM = {"supported_instances": [["x86_64", "kvm", "hvm"]], "hypervisor_version": V6}


def test_same_properties_and_version() -> None:
    assert image_passes({"img_hv_type": "kvm", "hw_vm_mode": "hvm", "img_hv_requested_version": ">=6.0,<6.2"},
                        KVM) is True


def test_other_architecture() -> None:
    assert image_passes({"hw_architecture": "aarch64", "img_hv_type": "kvm", "hw_vm_mode": "hvm"}, KVM) is False


def test_version_too_old() -> None:
    assert image_passes({"hw_architecture": "x86_64", "img_hv_type": "kvm", "hw_vm_mode": "hvm",
                         "img_hv_requested_version": ">=6.2"}, KVM) is False


def test_partial_properties() -> None:
    assert image_passes({"hw_architecture": "x86_64", "hw_vm_mode": "hvm"}, KVM) is True
    xen = {"supported_instances": [["x86_64", "xen", "xen"]], "hypervisor_version": V6}
    assert image_passes({"hw_architecture": "x86_64", "hw_vm_mode": "hvm"}, xen) is False


def test_no_properties_passes() -> None:
    assert image_passes({}, KVM) is True
    assert image_passes({"os_distro": "debian"}, {}) is True


def test_properties_but_host_lists_nothing() -> None:
    assert image_passes({"hw_architecture": "x86_64", "img_hv_type": "kvm"}, {"hypervisor_version": V6}) is False


def test_version_not_checked_without_host_version() -> None:
    assert image_passes({"hw_architecture": "x86_64", "img_hv_requested_version": ">=6.0"},
                        {"supported_instances": [["x86_64", "kvm", "hvm"]]}) is True


def test_version_as_integer_below() -> None:
    assert image_passes({"hw_architecture": "x86_64", "img_hv_requested_version": ">=6.0"},
                        {"supported_instances": [["x86_64", "kvm", "hvm"]], "hypervisor_version": 5000}) is False


def test_dotted_host_version() -> None:
    assert image_passes({"hw_architecture": "x86_64", "img_hv_requested_version": ">=8.1"},
                        {"supported_instances": [["x86_64", "qemu", "hvm"]], "hypervisor_version": "8.2.1"}) is True


@pytest.mark.parametrize("props, offered", [
    ({"hw_vm_mode": "pv"}, ["x86_64", "xen", "xen"]),         # pv is xen
    ({"hw_vm_mode": "hv"}, ["x86_64", "kvm", "hvm"]),         # hv is hvm
    ({"hw_architecture": "x86_32"}, ["i686", "kvm", "hvm"]),  # x86_32 is i686
    ({"hw_architecture": "AMD64"}, ["x86_64", "kvm", "hvm"]),  # amd64 is x86_64, any case
    ({"img_hv_type": "xapi"}, ["i686", "xen", "hvm"]),        # xapi is xen
    ({"hw_vm_mode": "baremetal"}, ["i686", "baremetal", "hvm"]),
])
def test_canonical_names(props: dict, offered: list) -> None:
    assert image_passes(props, {"supported_instances": [offered]}) is True


def test_old_property_names() -> None:
    assert image_passes({"architecture": "x86_64", "hypervisor_type": "kvm", "vm_mode": "hvm",
                         "hypervisor_version_requires": ">=6.0"}, KVM) is True
    assert image_passes({"architecture": "armv7l"}, KVM) is False


def test_default_architecture_from_config() -> None:
    arm = {"supported_instances": [["aarch64", "kvm", "hvm"]]}
    assert image_passes({}, arm, {"image_properties_default_architecture": "x86_64"}) is False
    assert image_passes({}, KVM, {"image_properties_default_architecture": "x86_64"}) is True


def test_properties_at_the_top_of_the_image() -> None:
    spec = {"flavor": {}, "image": {"id": "img", "hw_architecture": "aarch64"}}
    assert passes("ImagePropertiesFilter", dict({"host": "hv1"}, **KVM), spec) is False
