"""plugins/plugin_utils/compute_api/host_states.host_states: inventory hostvars and aggregates into HostStates."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states

BASE = {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 100}


def build(hostvars: dict, aggregates: list | None = None, usage: dict | None = None) -> list:
    catalog = Catalog({"stratus_host_aggregates": aggregates} if aggregates is not None else {})
    return host_states(sorted(hostvars), hostvars, catalog, usage or {})


def test_plain_host() -> None:
    (h,) = build({"hv1": dict(BASE)})
    assert (h.availability_zone, h.aggregates, h.service) == ("nova", [], {"disabled": False, "up": True})
    assert h.supported_instances == [["x86_64", "kvm", "hvm"], ["x86_64", "qemu", "hvm"]]
    assert (h.hypervisor_type, h.free_ram_mb) == ("QEMU", 8192)


def test_capabilities_from_hostvars() -> None:
    (h,) = build({"hv1": dict(BASE, stratus_domain_type="kvm", stratus_cpu_info={"arch": "aarch64"},
                              stratus_hypervisor_version="8.2.0", stratus_service_up=False,
                              stratus_stats={"gpu": 2}, stratus_host_ip="10.0.0.5")})
    assert h.supported_instances == [["aarch64", "kvm", "hvm"]]
    assert (h.hypervisor_version, h.service["up"], h.stats, h.host_ip) == (8002000, False, {"gpu": 2}, "10.0.0.5")


def test_usage_from_the_store() -> None:
    (h,) = build({"hv1": dict(BASE)}, usage={"hv1": {"vcpus": 3, "memory_mb": 1024, "disk_gb": 20, "instances": 2,
                                                     "instance_uuids": ["a", "b"], "num_io_ops": 1,
                                                     "failed_builds": 4}})
    assert (h.vcpus_used, h.free_ram_mb, h.local_gb_used, h.num_instances) == (3, 7168, 20, 2)
    assert (h.instances, h.num_io_ops, h.failed_builds) == (["a", "b"], 1, 4)


def test_aggregate_membership_both_ways() -> None:
    aggregates = [{"name": "ssd", "hosts": ["hv1"], "metadata": {"disk": "ssd"}},
                  {"name": "gpu", "metadata": {"gpu": "a100"}},
                  {"name": "zone", "hosts": ["hv2"], "availability_zone": "az2"}]
    hv1, hv2 = build({"hv1": dict(BASE, stratus_aggregates=["gpu", "ssd"]), "hv2": dict(BASE)}, aggregates)
    assert sorted(a["name"] for a in hv1.aggregates) == ["gpu", "ssd"]   # listed twice, counted once
    assert hv1.availability_zone == "nova"
    assert hv2.availability_zone == "az2" and hv2.availability_zones() == ("az2",)


def test_undefined_aggregate_name_is_an_empty_aggregate() -> None:
    (h,) = build({"hv1": dict(BASE, stratus_aggregates=["legacy"])})
    assert h.aggregates == [{"name": "legacy", "hosts": [], "metadata": {}}]


def test_conflicting_zones_are_refused() -> None:
    aggregates = [{"name": "a", "hosts": ["hv1"], "availability_zone": "az1"},
                  {"name": "b", "hosts": ["hv1"], "availability_zone": "az2"}]
    with pytest.raises(StratusError) as err:
        build({"hv1": dict(BASE)}, aggregates)
    assert err.value.code == "InvalidCatalog" and "different availability zones" in err.value.message
    with pytest.raises(StratusError) as err:
        build({"hv1": dict(BASE, stratus_availability_zone="az9")}, aggregates[:1])
    assert err.value.field == "hostvars[hv1].stratus_availability_zone"


@pytest.mark.parametrize("aggregates, field", [
    ([{"hosts": ["hv1"]}], "stratus_host_aggregates[0].name"),
    ([{"name": "a", "metadata": {"k": ["x"]}}], "stratus_host_aggregates[0].metadata.k"),
    ([{"name": "a", "colour": "red"}], "stratus_host_aggregates[0]"),
    ([{"name": "a"}, {"name": "a"}], "stratus_host_aggregates[1].name"),
    ({"name": "a"}, "stratus_host_aggregates"),
])
def test_bad_aggregates_are_refused(aggregates: object, field: str) -> None:
    with pytest.raises(StratusError) as err:
        Catalog({"stratus_host_aggregates": aggregates})
    assert err.value.code == "InvalidCatalog"
    assert err.value.field is not None and err.value.field.startswith(field)


def test_bad_hypervisor_vars_are_refused() -> None:
    with pytest.raises(StratusError) as err:
        build({"hv1": dict(BASE, stratus_supported_instances=[["x86_64", "kvm", "hvm", "extra"]])})
    assert err.value.code == "InvalidCatalog"
    with pytest.raises(StratusError):
        build({"hv1": dict(BASE, stratus_hypervisor_version="v8")})


def test_physical_address_bits_are_a_number() -> None:
    (h,) = build({"hv1": dict(BASE, stratus_cpu_info={"arch": "x86_64", "maxphysaddr": {"mode": "emulate",
                                                                                        "bits": 46}})})
    assert h.cpu_info["maxphysaddr"]["bits"] == 46
    with pytest.raises(StratusError) as err:
        build({"hv1": dict(BASE, stratus_cpu_info={"maxphysaddr": {"bits": "lots"}})})
    assert err.value.code == "InvalidCatalog" and err.value.field == "hostvars[hv1].stratus_cpu_info.maxphysaddr.bits"
