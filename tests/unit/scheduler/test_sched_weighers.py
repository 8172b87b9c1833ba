"""Every weigher, its multiplier and aggregate overrides (cases after Nova's weigher tests)."""
from __future__ import annotations

import pytest

from sched_helpers import weighed

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers import (
    BuildFailureWeigher, RAMWeigher, normalize,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig


def hosts(field: str, values: list) -> list[dict]:
    return [{"host": "hv%d" % (i + 1), field: v} for i, v in enumerate(values)]


# --- normalisation ----------------------------------------------------------------------------------------

def test_normalize_with_bounds() -> None:
    assert normalize([2.0, 4.0], minval=0) == [0.5, 1.0]
    assert normalize([2.0, 4.0], maxval=8) == [0.0, 2.0 / 6.0]
    assert normalize([-2.0, 4.0], minval=0) == [0.0, 1.0]   # a value below minval widens the range
    assert normalize([3.0, 3.0]) == [0.0, 0.0]
    assert normalize([3.0, 3.0], minval=0) == [1.0, 1.0]    # RAMWeigher on equal hosts: all 1.0


def test_one_host_is_not_weighed() -> None:
    assert weighed("RAMWeigher", hosts("free_ram_mb", [4096])) == [("hv1", 0.0)]


# --- RAM, CPU, disk ---------------------------------------------------------------------------------------

RAM = [256, 2048, 1024, 16384]


def test_ram_spreads_by_default() -> None:
    ranked = weighed("RAMWeigher", hosts("free_ram_mb", RAM))
    assert ranked[0] == ("hv4", 1.0)
    assert [h for h, _w in ranked] == ["hv4", "hv2", "hv3", "hv1"]
    assert dict(ranked)["hv1"] == 256 / 16384        # minval 0: a share of the most free


def test_ram_multiplier_zero_weighs_nothing() -> None:
    ranked = weighed("RAMWeigher", hosts("free_ram_mb", RAM), {"ram_weight_multiplier": 0.0})
    assert ranked[0] == ("hv1", 0.0) and all(w == 0.0 for _h, w in ranked)


def test_ram_multiplier_scales() -> None:
    assert weighed("RAMWeigher", hosts("free_ram_mb", RAM), {"ram_weight_multiplier": 3.0})[0] == ("hv4", 3.0)


def test_ram_negative_multiplier_stacks() -> None:
    ranked = weighed("RAMWeigher", hosts("free_ram_mb", RAM), {"ram_weight_multiplier": -1.0})
    assert ranked[0][0] == "hv1"


def test_ram_negative_free_memory_loses() -> None:
    fleet = hosts("free_ram_mb", RAM) + [{"host": "overcommitted", "memory_mb": 8192, "free_ram_mb": -1024}]
    ranked = weighed("RAMWeigher", fleet)
    assert ranked[0] == ("hv4", 1.0)
    assert ranked[-1] == ("overcommitted", 0.0)


def test_ram_multiplier_from_aggregates() -> None:
    fleet = hosts("free_ram_mb", RAM)
    fleet[0]["aggregates"] = [{"name": "a", "metadata": {"ram_weight_multiplier": "100"}},
                              {"name": "b", "metadata": {"ram_weight_multiplier": "80"}}]  # the smallest
    ranked = weighed("RAMWeigher", fleet)
    assert ranked[0] == ("hv1", 80 * (256 / 16384))


def test_unparsable_aggregate_multiplier_means_the_config_value() -> None:
    fleet = hosts("free_ram_mb", RAM)
    fleet[3]["aggregates"] = [{"name": "a", "metadata": {"ram_weight_multiplier": "lots"}}]
    assert weighed("RAMWeigher", fleet, {"ram_weight_multiplier": 2.0})[0] == ("hv4", 2.0)


CPU = [  # (vcpus, used, ratio) -> free: 0, 3, 8, 24
    {"host": "hv1", "vcpus": 8, "vcpus_used": 8, "cpu_allocation_ratio": 1.0},
    {"host": "hv2", "vcpus": 6, "vcpus_used": 3, "cpu_allocation_ratio": 1.0},
    {"host": "hv3", "vcpus": 8, "vcpus_used": 0, "cpu_allocation_ratio": 1.0},
    {"host": "hv4", "vcpus": 12, "vcpus_used": 0, "cpu_allocation_ratio": 2.0},
]


def test_cpu_spreads_by_free_vcpus() -> None:
    ranked = weighed("CPUWeigher", CPU)
    assert ranked[0] == ("hv4", 1.0)
    assert [h for h, _w in ranked] == ["hv4", "hv3", "hv2", "hv1"]


def test_cpu_multipliers() -> None:
    assert weighed("CPUWeigher", CPU, {"cpu_weight_multiplier": 0.0})[0][1] == 0.0
    assert weighed("CPUWeigher", CPU, {"cpu_weight_multiplier": 2.0})[0] == ("hv4", 2.0)
    assert weighed("CPUWeigher", CPU, {"cpu_weight_multiplier": -1.0})[0][0] == "hv1"


def test_cpu_overcommitted_host_loses() -> None:
    fleet = CPU + [{"host": "over", "vcpus": 2, "vcpus_used": 5, "cpu_allocation_ratio": 1.0}]
    ranked = weighed("CPUWeigher", fleet)
    assert ranked[0] == ("hv4", 1.0) and ranked[-1] == ("over", 0.0)


DISK = [1024, 4096, 2048, 10240]


def test_disk_spreads() -> None:
    ranked = weighed("DiskWeigher", hosts("free_disk_mb", DISK))
    assert ranked[0] == ("hv4", 1.0)
    assert weighed("DiskWeigher", hosts("free_disk_mb", DISK), {"disk_weight_multiplier": 0.0})[0][1] == 0.0
    assert weighed("DiskWeigher", hosts("free_disk_mb", DISK), {"disk_weight_multiplier": 4.0})[0] == ("hv4", 4.0)
    assert weighed("DiskWeigher", hosts("free_disk_mb", DISK), {"disk_weight_multiplier": -1.0})[0][0] == "hv1"


def test_disk_negative_free_loses() -> None:
    fleet = hosts("free_disk_mb", DISK) + [{"host": "full", "local_gb": 10, "free_disk_mb": -2048}]
    ranked = weighed("DiskWeigher", fleet)
    assert ranked[0] == ("hv4", 1.0) and ranked[-1] == ("full", 0.0)


# --- io ops, instances, build failures, hypervisor version ------------------------------------------------

IO = [2, 1, 0, 6]


def test_io_ops_prefers_idle_hosts() -> None:
    ranked = weighed("IoOpsWeigher", hosts("num_io_ops", IO))
    assert ranked[0] == ("hv3", 0.0)
    assert ranked[-1] == ("hv4", -1.0)


def test_io_ops_positive_multiplier_prefers_busy_hosts() -> None:
    assert weighed("IoOpsWeigher", hosts("num_io_ops", IO), {"io_ops_weight_multiplier": 2.0})[0] == ("hv4", 2.0)


def test_io_ops_multiplier_zero() -> None:
    assert weighed("IoOpsWeigher", hosts("num_io_ops", IO), {"io_ops_weight_multiplier": 0.0})[0] == ("hv1", 0.0)


INSTANCES = [3, 6, 5, 11]


def test_num_instances_is_off_by_default() -> None:
    assert weighed("NumInstancesWeigher", hosts("num_instances", INSTANCES))[0] == ("hv1", 0.0)


def test_num_instances_multipliers() -> None:
    ranked = weighed("NumInstancesWeigher", hosts("num_instances", INSTANCES), {"num_instances_weight_multiplier": 2.0})
    assert ranked[0] == ("hv4", 2.0)
    ranked = weighed("NumInstancesWeigher", hosts("num_instances", INSTANCES),
                     {"num_instances_weight_multiplier": -2.0})
    assert ranked[0] == ("hv1", 0.0)


FAILED = [0, 2, 20, 200]


def test_build_failures_count_against_a_host() -> None:
    ranked = weighed("BuildFailureWeigher", hosts("failed_builds", FAILED), {"build_failure_weight_multiplier": 100.0})
    assert ranked == [("hv1", 0.0), ("hv2", -1.0), ("hv3", -10.0), ("hv4", -100.0)]


def test_build_failure_weigher_disabled() -> None:
    ranked = weighed("BuildFailureWeigher", hosts("failed_builds", FAILED), {"build_failure_weight_multiplier": 0.0})
    assert all(w == 0.0 for _h, w in ranked)


def test_build_failure_default_outweighs_everything() -> None:
    fleet = [{"host": "hv1", "failed_builds": 1, "free_ram_mb": 1 << 20}, {"host": "hv2", "free_ram_mb": 1}]
    ranked = weighed("BuildFailureWeigher", fleet)
    assert ranked == [("hv2", 0.0), ("hv1", -1000000.0)]


def test_build_failure_multiplier_from_aggregates() -> None:
    weigher = BuildFailureWeigher(SchedulerConfig.from_dict({"build_failure_weight_multiplier": 0.0}))
    host = HostState(host="hv1", failed_builds=1)
    assert weigher.weight_multiplier(host) == 0.0
    host.aggregates = [{"name": "a", "hosts": ["hv1"], "metadata": {"build_failure_weight_multiplier": "700.0"}}]
    assert weigher.weight_multiplier(host) == -700.0
    host.aggregates = [{"name": "a", "hosts": ["hv1"], "metadata": {"build_failure_weight_multiplier": "300"}},
                       {"name": "b", "hosts": ["hv1"], "metadata": {"build_failure_weight_multiplier": "900"}}]
    assert weigher.weight_multiplier(host) == -300.0


def test_build_failure_all_hosts_in_an_overriding_aggregate() -> None:
    fleet = hosts("failed_builds", FAILED)
    for h in fleet:
        h["aggregates"] = [{"name": "all", "metadata": {"build_failure_weight_multiplier": "100"}}]
    ranked = weighed("BuildFailureWeigher", fleet, {"build_failure_weight_multiplier": 0.0})
    assert [w for _h, w in ranked] == [0.0, -1.0, -10.0, -100.0]


VERSIONS = [2, 300, 150, 2000]


def test_hypervisor_version_prefers_newer() -> None:
    ranked = weighed("HypervisorVersionWeigher", hosts("hypervisor_version", VERSIONS))
    assert ranked[0] == ("hv4", 1.0)
    assert [h for h, _w in ranked] == ["hv4", "hv2", "hv3", "hv1"]


def test_hypervisor_version_multipliers() -> None:
    fleet = hosts("hypervisor_version", VERSIONS)
    assert weighed("HypervisorVersionWeigher", fleet, {"hypervisor_version_weight_multiplier": 0.0})[0][1] == 0.0
    assert weighed("HypervisorVersionWeigher", fleet,
                   {"hypervisor_version_weight_multiplier": 3.0})[0] == ("hv4", 3.0)
    assert weighed("HypervisorVersionWeigher", fleet,
                   {"hypervisor_version_weight_multiplier": -1.0})[0][0] == "hv1"


# --- soft server-group policies ---------------------------------------------------------------------------

MEMBERS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
SOFT_FLEET = [
    {"host": "hv1", "instances": ["m1", "other-1"]},
    {"host": "hv2", "instances": ["m2", "m3", "m4", "m5", "other-2"]},
    {"host": "hv3", "instances": ["other-3"]},
    {"host": "hv4", "instances": ["m6", "m7", "other-4"]},
]


def soft(policy: str) -> dict:
    return {"flavor": {}, "instance_group": {"policy": policy, "members": list(MEMBERS), "hosts": []}}


@pytest.mark.parametrize("multiplier, weight, host", [(None, 1.0, "hv2"), (0.0, 0.0, None), (2.0, 2.0, "hv2"),
                                                      (-1.0, 0.0, "hv3")])
def test_soft_affinity(multiplier: float | None, weight: float, host: str | None) -> None:
    config = {} if multiplier is None else {"soft_affinity_weight_multiplier": multiplier}
    best = weighed("ServerGroupSoftAffinityWeigher", SOFT_FLEET, config, soft("soft-affinity"))[0]
    assert best[1] == weight
    if host:
        assert best[0] == host


@pytest.mark.parametrize("multiplier, weight, host", [(None, 1.0, "hv3"), (0.0, 0.0, None), (2.0, 2.0, "hv3"),
                                                      (-1.0, 0.0, "hv2")])
def test_soft_anti_affinity(multiplier: float | None, weight: float, host: str | None) -> None:
    config = {} if multiplier is None else {"soft_anti_affinity_weight_multiplier": multiplier}
    best = weighed("ServerGroupSoftAntiAffinityWeigher", SOFT_FLEET, config, soft("soft-anti-affinity"))[0]
    assert best[1] == weight
    if host:
        assert best[0] == host


def test_soft_weighers_ignore_other_policies() -> None:
    for name in ("ServerGroupSoftAffinityWeigher", "ServerGroupSoftAntiAffinityWeigher"):
        assert all(w == 0.0 for _h, w in weighed(name, SOFT_FLEET, {}, soft("anti-affinity")))
        assert all(w == 0.0 for _h, w in weighed(name, SOFT_FLEET, {}, {"flavor": {}}))


# --- the sum of several -----------------------------------------------------------------------------------

def test_weights_add_up_per_weigher() -> None:
    fleet = [{"host": "hv1", "free_ram_mb": 1024, "num_io_ops": 2},
             {"host": "hv2", "free_ram_mb": 4096, "num_io_ops": 4}]
    from sched_helpers import lookup
    out = lookup({"flavor": {}}, fleet, {"enabled_filters": [], "weighers": ["RAMWeigher", "IoOpsWeigher"]},
                 explain=True)
    explain = out[0]["explain"]
    assert explain["hv1"]["weights"] == {"RAMWeigher": 0.25, "IoOpsWeigher": -0.5}
    assert explain["hv2"]["weights"] == {"RAMWeigher": 1.0, "IoOpsWeigher": -1.0}
    assert explain["hv1"]["weight"] == -0.25 and explain["hv2"]["weight"] == 0.0
    assert out[0]["host"] == "hv2" and out[0]["weight"] == 0.0


def test_weigher_interface_one_host() -> None:
    assert RAMWeigher().weigh_object(HostState(host="hv1", free_ram_mb=77), None) == 77  # type: ignore[arg-type]
