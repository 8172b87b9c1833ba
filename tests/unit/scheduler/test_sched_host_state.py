"""HostState and RequestSpec from what a user wrote: Nova's names, derived fields, and refusals."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec


def test_used_fields_give_free_ones() -> None:
    h = HostState(host="hv1", memory_mb=8192, memory_mb_used=1024, reserved_host_memory_mb=512,
                  local_gb=100, local_gb_used=10, reserved_host_disk_mb=1024)
    assert h.free_ram_mb == 8192 - 512 - 1024
    assert h.free_disk_mb == 90 * 1024 - 1024


def test_free_fields_give_used_ones() -> None:
    h = HostState.from_dict({"host": "hv1", "memory_mb": 4096, "free_ram_mb": 1024, "local_gb": 10,
                             "free_disk_mb": 4096})[0]
    assert (h.memory_mb_used, h.local_gb_used) == (3072, 6)


def test_nova_names_and_instances_mapping() -> None:
    h, extra = HostState.from_dict({"host": "hv1", "vcpus_total": 8, "total_usable_ram_mb": 2048,
                                    "total_usable_disk_gb": 20, "instances": {"a": {}, "b": {}}, "nodename": "n1"})
    assert (h.vcpus, h.memory_mb, h.local_gb, h.instances, h.num_instances, h.nodename) == \
        (8, 2048, 20, ["a", "b"], 2, "n1")
    assert extra == []


def test_other_keys_become_stats() -> None:
    h, extra = HostState.from_dict({"host": "hv1", "gpu": 2, "stats": {"nic": 4}})
    assert extra == ["gpu"] and h.stats == {"nic": 4, "gpu": 2}


def test_aggregates_by_name_and_zone() -> None:
    known = {"rack1": {"name": "rack1", "hosts": ["hv1"], "metadata": {"availability_zone": "az1"}}}
    ssd = {"name": "ssd", "metadata": {"ssd": True, "tiers": ["a", "b"]}}
    h = HostState.from_dict({"host": "hv1", "aggregates": ["rack1", ssd]}, aggregates=known)[0]
    assert h.availability_zones() == ("az1",)
    assert h.aggregate_metadata()["tiers"] == {"a", "b"}
    assert h.aggregate_values("ssd") == ["True"]
    assert HostState(host="hv2").availability_zones() == ("nova",)


def test_dotted_hypervisor_version() -> None:
    assert HostState.from_dict({"host": "hv1", "hypervisor_version": "8.2.1"})[0].hypervisor_version == 8002001


@pytest.mark.parametrize("data, field", [
    ({"vcpus": 4}, "host_states[0].host"),
    ({"host": "hv1", "vcpus": "four"}, "host_states[0].vcpus"),
    ({"host": "hv1", "memory_mb": -1}, "host_states[0].memory_mb"),
    ({"host": "hv1", "cpu_allocation_ratio": 0}, "host_states[0].cpu_allocation_ratio"),
    ({"host": "hv1", "service": "up"}, "host_states[0].service"),
    ({"host": "hv1", "service": {"disabled": "perhaps"}}, "host_states[0].service.disabled"),
    ({"host": "hv1", "supported_instances": ["x86_64"]}, "host_states[0].supported_instances[0]"),
    ({"host": "hv1", "aggregates": [{"name": "a", "metadata": "x"}]}, "host_states[0].aggregates[0].metadata"),
    ({"host": "hv1", "aggregates": [{"name": "a", "colour": "red"}]}, "host_states[0].aggregates[0].colour"),
    ({"host": "hv1", "hypervisor_version": "8.x"}, "host_states[0].hypervisor_version"),
    ("hv1", "host_states[0]"),
])
def test_bad_host_states(data: object, field: str) -> None:
    with pytest.raises(StratusError) as err:
        HostState.from_dict(data)
    assert err.value.code == "InvalidRequest" and err.value.field == field


def test_request_spec_flavor_aliases_and_disk() -> None:
    spec = RequestSpec.from_dict({"flavor": {"vcpus": "2", "ram": 512, "disk": 10, "ephemeral": 5, "swap": 1025}})
    assert (spec.vcpus, spec.memory_mb, spec.root_gb, spec.ephemeral_gb) == (2, 512, 10, 5)
    assert spec.disk_gb == 10 + 5 + 2
    assert RequestSpec.from_dict({"flavor": {"root_gb": 10}, "is_bfv": True}).disk_gb == 0


def test_request_spec_hints_and_group() -> None:
    spec = RequestSpec.from_dict({"flavor": {}, "scheduler_hints": {"same_host": ["u1"], "x": ["a", "b"]},
                                  "instance_group": {"policies": ["soft-affinity"]},
                                  "requested_networks": [{"uuid": "n1"}, "n2"], "user_id": "ignored"})
    assert spec.hint("same_host") == "u1" and spec.hint("x") == ["a", "b"] and spec.hint("none", 3) == 3
    assert spec.group_policy == "soft-affinity" and spec.requested_networks == ["n1", "n2"]


@pytest.mark.parametrize("data, field", [
    ({"flavor": {"vcpus": "two"}}, "request_spec.flavor.vcpus"),
    ({"flavor": [1]}, "request_spec.flavor"),
    ({"flavor": {}, "num_instances": 0}, "request_spec.num_instances"),
    ({"flavor": {}, "colour": "red"}, "request_spec.colour"),
    ({"flavor": {}, "instance_group": {"policy": "together"}}, "request_spec.instance_group.policy"),
    ({"flavor": {}, "instance_group": {"policy": "anti-affinity", "rules": {"max_server_per_host": 0}}},
     "request_spec.instance_group.rules.max_server_per_host"),
    ({"flavor": {}, "force_hosts": [{"h": 1}]}, "request_spec.force_hosts[0]"),
    ({"flavor": {}, "scheduler_hints": "x"}, "request_spec.scheduler_hints"),
    ({"flavor": {}, "requested_networks": [{"port": "p"}]}, "request_spec.requested_networks[0]"),
])
def test_bad_request_specs(data: object, field: str) -> None:
    with pytest.raises(StratusError) as err:
        RequestSpec.from_dict(data)
    assert err.value.code == "InvalidRequest" and err.value.field == field
