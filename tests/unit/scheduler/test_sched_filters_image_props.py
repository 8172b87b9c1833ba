"""ImagePropertiesFilter (cases after Nova's test_image_props_filters)."""
from __future__ import annotations

import pytest

from sched_helpers import lookup, passes, states

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler, SchedulerConfig

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


# hw_maxphysaddr_bits: Nova's _compare_maxphysaddr_bits against cpu_info.maxphysaddr.bits
def bits_host(bits: object, **extra: object) -> dict:
    return dict(KVM, cpu_info={"arch": "x86_64", "maxphysaddr": {"mode": "emulate", "bits": bits}}, **extra)


@pytest.mark.parametrize("props", [
    {"hw_architecture": "x86_64", "hw_maxphysaddr_bits": 48},
    {"hw_architecture": "x86_64", "hw_maxphysaddr_bits": "48"},   # Glance keeps properties as text
    {"hw_maxphysaddr_bits": 48},                                  # Nova checks bits only beside an architecture
])
def test_maxphysaddr_bits_fewer_on_the_host_leaves_it_out(props: dict) -> None:
    assert image_passes(props, bits_host(46)) is False
    assert image_passes(props, bits_host(48)) is True
    assert image_passes(props, bits_host(52)) is True
    assert image_passes(props, bits_host("46")) is False
    assert image_passes(props, KVM) is True  # a host that reports no bits is not checked, as in Nova


def test_maxphysaddr_bits_read_from_libvirt_json_text() -> None:
    host = dict(KVM, cpu_info='{"arch": "x86_64", "maxphysaddr": {"mode": "passthrough", "bits": 39}}')
    assert image_passes({"hw_maxphysaddr_bits": 40}, host) is False
    assert image_passes({"hw_maxphysaddr_bits": 39}, host) is True


def test_maxphysaddr_bits_that_are_no_number_are_refused() -> None:
    for value in ("many", 0, -3, 4.5, True):
        with pytest.raises(StratusError) as err:
            image_passes({"hw_maxphysaddr_bits": value}, bits_host(46))
        assert err.value.code == "InvalidRequest" and err.value.field == "image.properties.hw_maxphysaddr_bits"
    assert image_passes({"hw_maxphysaddr_bits": 40}, bits_host("lots")) is False


def test_explain_says_why_and_the_fast_path_agrees() -> None:
    hosts = [dict(bits_host(46), host="hv1"), dict(bits_host(48), host="hv2"), dict(KVM, host="hv3"),
             dict(host="hv4", supported_instances=[["aarch64", "kvm", "hvm"]], hypervisor_version=V6),
             dict(KVM, host="hv5", hypervisor_version=5000000)]
    for h in hosts:
        h.update(vcpus=8, memory_mb=8192, local_gb=40)
    spec = {"flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1},
            "image": {"id": "img", "properties": {"hw_architecture": "x86_64", "hw_maxphysaddr_bits": 48,
                                                  "img_hv_requested_version": ">=6.0"}}}
    config = {"enabled_filters": ["ImagePropertiesFilter"], "weighers": [], "hosts_to_score": 0}
    explain = lookup(spec, hosts, config, explain=True)[0]["explain"]
    assert explain["hv1"] == {"rejected_by": "ImagePropertiesFilter", "reason": "the image asks for "
                              "hw_maxphysaddr_bits 48; the host has 46 (cpu_info.maxphysaddr.bits)"}
    assert explain["hv4"]["reason"] == "the image asks for x86_64; the host supports aarch64, kvm, hvm"
    assert explain["hv5"]["reason"] == "the image asks for hypervisor version >=6.0; the host has 5.0.0"
    assert explain["hv2"]["rejected_by"] is None and explain["hv3"]["rejected_by"] is None
    sched = FilterScheduler(SchedulerConfig.from_dict(config))
    fast = sched.filter_hosts(states(hosts), RequestSpec.from_dict(spec))  # fused checks, no explain
    assert sorted(h.host for h in fast) == ["hv2", "hv3"]
    for _round in range(10):
        picked = lookup(spec, hosts, config)[0]["host"]
        assert picked in ("hv2", "hv3")


def test_flavor_extra_spec_still_asks_the_capabilities_filter() -> None:
    spec = {"flavor": {"extra_specs": {"hw:maxphysaddr_bits": "48"}}, "image": {"id": "img"}}
    assert passes("ComputeCapabilitiesFilter", dict(bits_host(46), host="hv1"), spec) is False
    assert passes("ComputeCapabilitiesFilter", dict(bits_host(48), host="hv1"), spec) is True
    assert passes("ImagePropertiesFilter", dict(bits_host(46), host="hv1"), spec) is True
