"""The filter scheduler's request flow: forcing, alternates, multi-create, groups, subset, explain, config."""
from __future__ import annotations

import random
import typing as t

import pytest

from sched_helpers import lookup, states

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import (
    NO_VALID_HOST, FilterScheduler,
)

SMALL = {"vcpus": 1, "memory_mb": 1024, "root_gb": 10}


def fleet(*ram_mb: int, **extra: t.Any) -> list[dict[str, t.Any]]:
    """Hosts hv1.. with this much RAM each (ratio 1.0), plenty of CPU and disk."""
    return [dict({"host": "hv%d" % (i + 1), "vcpus": 64, "memory_mb": ram, "local_gb": 1000,
                  "ram_allocation_ratio": 1.0, "cpu_allocation_ratio": 1.0}, **extra)
            for i, ram in enumerate(ram_mb)]


def schedule(hosts: list[dict[str, t.Any]], config: t.Optional[dict[str, t.Any]] = None, seed: int = 7,
             **spec: t.Any) -> list[t.Any]:
    spec.setdefault("flavor", SMALL)
    sched = FilterScheduler(SchedulerConfig.from_dict(config), random.Random(seed))
    return sched.select_destinations(states(hosts), RequestSpec.from_dict(spec))


# --- the call shape the conductor uses --------------------------------------------------------------------

def test_conductor_call_shape() -> None:
    hosts = [HostState(host="hv1", vcpus=4, memory_mb=4096, local_gb=40),
             HostState(host="hv2", vcpus=4, memory_mb=8192, local_gb=40)]
    spec = RequestSpec(flavor={"vcpus": 1, "memory_mb": 512, "root_gb": 1})
    sels = FilterScheduler(SchedulerConfig.from_dict(None)).select_destinations(hosts, spec, ["u1"])
    assert [s.host for s in sels] == ["hv2"]
    assert isinstance(sels[0].weight, float)
    assert sels[0].alternates == ["hv1"]
    assert hosts[1].instances == ["u1"] and hosts[1].memory_mb_used == 512


# --- forcing, ignoring ------------------------------------------------------------------------------------

def test_forced_host_skips_filters_and_has_no_alternates() -> None:
    hosts = fleet(8192, 8192, 512, service={"disabled": True, "up": True})
    sels = schedule(hosts, force_hosts=["HV3"])   # case-insensitive, disabled, too small: all the same
    assert sels[0].host == "hv3" and sels[0].alternates == []


def test_forced_node_is_exact() -> None:
    hosts = fleet(8192, 8192)
    hosts[1]["hypervisor_hostname"] = "node-b"
    assert schedule(hosts, force_nodes=["node-b"])[0].host == "hv2"
    with pytest.raises(StratusError) as err:
        schedule(hosts, force_nodes=["NODE-B"])
    assert err.value.code == "NoValidHost"


def test_forced_unknown_host_is_no_valid_host() -> None:
    with pytest.raises(StratusError) as err:
        schedule(fleet(8192), force_hosts=["nowhere"])
    assert err.value.code == "NoValidHost" and err.value.message == NO_VALID_HOST


def test_several_forced_hosts_keep_rescheduling_among_them() -> None:
    sels = schedule(fleet(2048, 8192, 4096, 1024), force_hosts=["hv1", "hv3", "hv4"])
    assert sels[0].host == "hv3" and sels[0].alternates == ["hv1", "hv4"]


def test_forced_host_through_the_lookup_zone_syntax() -> None:
    hosts = fleet(8192, 1024)
    hosts[1]["service"] = {"disabled": True}
    out = lookup({"flavor": SMALL, "availability_zone": "nova:hv2"}, hosts)
    assert out == [{"host": "hv2", "weight": 0.0, "alternates": []}]
    out = lookup({"flavor": SMALL, "availability_zone": "nova::hv2"}, hosts)
    assert out[0]["host"] == "hv2"


def test_ignore_hosts() -> None:
    sels = schedule(fleet(8192, 4096, 2048), ignore_hosts=["HV1"])
    assert sels[0].host == "hv2" and sels[0].alternates == ["hv3"]


def test_requested_destination_still_filters() -> None:
    hosts = fleet(8192, 4096)
    assert schedule(hosts, requested_destination={"host": "hv2"})[0].host == "hv2"
    hosts[1]["service"] = {"disabled": True}
    with pytest.raises(StratusError):
        schedule(hosts, requested_destination={"host": "hv2"})


# --- alternates -------------------------------------------------------------------------------------------

def test_alternates_up_to_max_attempts_minus_one() -> None:
    hosts = fleet(1024, 8192, 4096, 2048, 3072)
    assert schedule(hosts)[0].alternates == ["hv3", "hv5"]
    assert schedule(hosts, {"max_attempts": 4})[0].alternates == ["hv3", "hv5", "hv4"]
    assert schedule(hosts, {"max_attempts": 1})[0].alternates == []


def test_alternates_are_not_selected_and_still_fit() -> None:
    # three instances of 1 GiB: hv1 takes two, hv2 one; hv3 (1 GiB) fits; hv4 is full
    hosts = fleet(2048, 1024, 1024, 512)
    hosts[0]["memory_mb"], hosts[0]["free_ram_mb"] = 8192, 2048
    sels = schedule(hosts, {"max_attempts": 5}, num_instances=3)
    chosen = {s.host for s in sels}
    for sel in sels:
        assert not chosen & set(sel.alternates)
        assert "hv4" not in sel.alternates
    assert sels[0].alternates == sels[-1].alternates


def test_single_forced_node_has_no_alternates() -> None:
    assert schedule(fleet(8192, 8192), force_nodes=["hv1"])[0].alternates == []


# --- multi-create -----------------------------------------------------------------------------------------

def test_multi_create_consumes_each_pick() -> None:
    hosts = fleet(3072, 2048)  # 3 + 2 instances of 1 GiB fit
    sels = schedule(hosts, num_instances=5)
    assert sorted(s.host for s in sels) == ["hv1", "hv1", "hv1", "hv2", "hv2"]
    with pytest.raises(StratusError) as err:
        schedule(fleet(3072, 2048), num_instances=6)
    assert err.value.code == "NoValidHost"
    assert [s.host for s in err.value.selections] == [s.host for s in sels]  # type: ignore[attr-defined]


def test_consumption_updates_the_host_state() -> None:
    hosts = states(fleet(4096))
    spec = RequestSpec.from_dict({"flavor": {"vcpus": 2, "memory_mb": 1024, "root_gb": 5, "ephemeral_gb": 1,
                                             "swap": 100}, "num_instances": 2})
    FilterScheduler(SchedulerConfig.from_dict({})).select_destinations(hosts, spec, ["a", "b"])
    host = hosts[0]
    assert (host.vcpus_used, host.memory_mb_used, host.free_ram_mb) == (4, 2048, 2048)
    assert (host.local_gb_used, host.free_disk_mb) == (14, (1000 - 14) * 1024)
    assert (host.num_instances, host.num_io_ops, host.instances) == (2, 2, ["a", "b"])


def test_once_per_request_filters_run_for_the_first_instance_only() -> None:
    # the capability holds before the first pick only; Nova does not ask again for the second
    spec = {"flavor": dict(SMALL, extra_specs={"num_instances": "<= 0"}), "num_instances": 2}
    sels = schedule(fleet(8192), {"enabled_filters": ["ComputeCapabilitiesFilter"]}, **spec)
    assert [s.host for s in sels] == ["hv1", "hv1"]
    with pytest.raises(StratusError):   # a per-instance filter does ask again
        schedule(fleet(8192), {"enabled_filters": ["NumInstancesFilter"], "max_instances_per_host": 1},
                 num_instances=2)


def test_affinity_within_one_multi_create() -> None:
    group = {"policy": "affinity", "hosts": [], "members": []}
    sels = schedule(fleet(4096, 8192, 6144), num_instances=3, instance_group=group)
    assert [s.host for s in sels] == ["hv2", "hv2", "hv2"]


def test_affinity_multi_create_that_outgrows_the_host() -> None:
    group = {"policy": "affinity", "hosts": [], "members": []}
    with pytest.raises(StratusError) as err:
        schedule(fleet(2048, 1024), num_instances=3, instance_group=group)
    assert err.value.code == "NoValidHost"


def test_anti_affinity_within_one_multi_create() -> None:
    group = {"policy": "anti-affinity", "hosts": [], "members": []}
    sels = schedule(fleet(4096, 8192, 6144), num_instances=3, instance_group=group)
    assert sorted(s.host for s in sels) == ["hv1", "hv2", "hv3"]
    with pytest.raises(StratusError):
        schedule(fleet(4096, 8192), num_instances=3, instance_group=dict(group, members=[]))


def test_anti_affinity_max_server_per_host_in_one_multi_create() -> None:
    group = {"policy": "anti-affinity", "hosts": [], "members": [], "rules": {"max_server_per_host": 2}}
    sels = schedule(fleet(8192, 8192), num_instances=4, instance_group=group)
    assert sorted(s.host for s in sels) == ["hv1", "hv1", "hv2", "hv2"]


def test_anti_affinity_without_members_list_counts_group_hosts() -> None:
    sels = schedule(fleet(8192, 8192, 8192), num_instances=3, instance_group={"policy": "anti-affinity"})
    assert sorted(s.host for s in sels) == ["hv1", "hv2", "hv3"]


def test_soft_anti_affinity_spreads_a_multi_create() -> None:
    group = {"policy": "soft-anti-affinity", "hosts": [], "members": []}
    config = {"weighers": ["ServerGroupSoftAntiAffinityWeigher", "RAMWeigher"], "ram_weight_multiplier": 0.01}
    sels = schedule(fleet(8192, 8192, 8192), config, num_instances=3, instance_group=group)
    assert sorted(s.host for s in sels) == ["hv1", "hv2", "hv3"]


def test_soft_affinity_packs_a_multi_create() -> None:
    group = {"policy": "soft-affinity", "hosts": [], "members": []}
    config = {"weighers": ["ServerGroupSoftAffinityWeigher", "RAMWeigher"], "ram_weight_multiplier": 0.01}
    sels = schedule(fleet(8192, 8192, 8192), config, num_instances=3, instance_group=group)
    assert len({s.host for s in sels}) == 1


def test_group_sees_the_picks() -> None:
    spec = RequestSpec.from_dict({"flavor": SMALL, "num_instances": 2,
                                  "instance_group": {"policy": "anti-affinity", "members": []}})
    FilterScheduler().select_destinations(states(fleet(4096, 4096)), spec, ["u1", "u2"])
    assert spec.instance_group is not None
    assert sorted(spec.instance_group["hosts"]) == ["hv1", "hv2"]
    assert spec.instance_group["members"] == ["u1", "u2"]


# --- picking among the best -------------------------------------------------------------------------------

def test_host_subset_size_picks_among_the_best() -> None:
    hosts = fleet(8192, 7168, 6144, 1024)
    picks = {schedule(hosts, {"host_subset_size": 3}, seed=s)[0].host for s in range(40)}
    assert picks == {"hv1", "hv2", "hv3"}
    assert {schedule(hosts, {"host_subset_size": 1}, seed=s)[0].host for s in range(10)} == {"hv1"}


def test_shuffle_best_same_weighed_hosts() -> None:
    hosts = fleet(8192, 8192, 8192, 1024)
    assert {schedule(hosts, seed=s)[0].host for s in range(10)} == {"hv1"}   # stable order otherwise
    picks = {schedule(hosts, {"shuffle_best_same_weighed_hosts": True}, seed=s)[0].host for s in range(40)}
    assert picks == {"hv1", "hv2", "hv3"}


def test_no_valid_host_message() -> None:
    with pytest.raises(StratusError) as err:
        schedule(fleet(512, 512))
    assert (err.value.code, err.value.message) == ("NoValidHost",
                                                   "No valid host was found. There are not enough hosts available.")


# --- explain ----------------------------------------------------------------------------------------------

def test_explain_names_the_first_rejecting_filter_in_config_order() -> None:
    hosts = fleet(8192, 512, 8192, 8192)
    hosts[2]["service"] = {"disabled": True}
    hosts[2]["memory_mb"] = 256           # also too small, but ComputeFilter comes first
    hosts[3]["availability_zone"] = "az9"
    out = lookup({"flavor": SMALL, "availability_zone": "nova"}, hosts, {}, explain=True)
    explain = out[0]["explain"]
    assert explain["hv2"] == {"rejected_by": "RamFilter"}
    assert explain["hv3"] == {"rejected_by": "ComputeFilter"}
    assert explain["hv4"] == {"rejected_by": "AvailabilityZoneFilter"}
    assert explain["hv1"]["rejected_by"] is None and explain["hv1"]["weight"] == 0.0  # one host: not weighed


def test_explain_on_no_valid_host_tells_why() -> None:
    out = lookup({"flavor": SMALL}, fleet(512, 256), {}, explain=True)
    assert out[0]["host"] is None and out[0]["error"]["code"] == "NoValidHost"
    assert out[0]["explain"] == {"hv1": {"rejected_by": "RamFilter"}, "hv2": {"rejected_by": "RamFilter"}}


def test_explain_per_instance_of_a_multi_create() -> None:
    out = lookup({"flavor": SMALL, "num_instances": 2}, fleet(1024, 1536), {}, explain=True)
    assert [e["host"] for e in out] == ["hv2", "hv1"]
    assert set(out[0]["explain"]["hv1"]["weights"]) >= {"RAMWeigher", "CPUWeigher"}
    assert out[1]["explain"]["hv2"] == {"rejected_by": "RamFilter"}   # consumed by the first


def test_explain_marks_forced_and_ignored_hosts() -> None:
    out = lookup({"flavor": SMALL, "force_hosts": ["hv1", "hv2"], "ignore_hosts": ["hv2"]}, fleet(512, 8192, 8192),
                 {}, explain=True)
    explain = out[0]["explain"]
    assert out[0]["host"] == "hv1"   # forced: no filter, even though it is too small
    assert explain["hv2"] == {"rejected_by": "ignore_hosts"}
    assert explain["hv3"] == {"rejected_by": "force_hosts"}


def test_explain_dict_of_the_scheduler_api() -> None:
    explain: dict = {}
    FilterScheduler().select_destinations(states(fleet(8192, 512)), RequestSpec.from_dict({"flavor": SMALL}),
                                          explain=explain)
    assert explain["hv2"] == {"rejected_by": "RamFilter"}
    assert explain["hv1"]["rejected_by"] is None


# --- config -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, fragment", [
    ({"enabled_filters": ["NoSuchFilter"]}, "stratus_scheduler.enabled_filters: unknown filter 'NoSuchFilter'"),
    ({"weighers": ["RAMWeigher", "Nope"]}, "unknown weigher 'Nope'"),
    ({"host_subset_size": 0}, "stratus_scheduler.host_subset_size: must be >= 1"),
    ({"max_attempts": "three"}, "stratus_scheduler.max_attempts: must be an integer"),
    ({"ram_weight_multiplier": "heavy"}, "stratus_scheduler.ram_weight_multiplier: must be a number"),
    ({"shuffle_best_same_weighed_hosts": "maybe"}, "must be a boolean"),
    ({"hosts_to_score": -1}, "hosts_to_score: must be >= 0"),
    ({"percentage_of_hosts_to_score": 150}, "must be <= 100"),
    ({"ram_weight_multipler": 1.0}, "stratus_scheduler.ram_weight_multipler: unknown scheduler option"),
    ({"preset": "folsom"}, "unknown preset"),
    ({"weight_multipliers": {"NoWeigher": 1}}, "weight_multipliers.NoWeigher: unknown weigher"),
])
def test_bad_config_is_refused(config: dict, fragment: str) -> None:
    with pytest.raises(StratusError) as err:
        SchedulerConfig.from_dict(config)
    assert err.value.code == "InvalidRequest" and err.value.field == "stratus_scheduler"
    assert fragment in err.value.message


def test_config_accepts_nova_spellings() -> None:
    cfg = SchedulerConfig.from_dict({
        "filter_scheduler": {"enabled_filters": ["nova.scheduler.filters.compute_filter.ComputeFilter"],
                             "weight_classes": ["nova.scheduler.weights.all_weighers"],
                             "ram_weight_multiplier": "2.5", "host_subset_size": "2"},
        "scheduler": {"max_attempts": 5},
        "weight_multipliers": {"CPUWeigher": -1},
    })
    assert cfg.enabled_filters == ("ComputeFilter",)
    assert "HypervisorVersionWeigher" in cfg.weighers
    assert (cfg.multipliers["ram_weight_multiplier"], cfg.multipliers["cpu_weight_multiplier"]) == (2.5, -1.0)
    assert (cfg.host_subset_size, cfg.max_attempts) == (2, 5)


def test_config_defaults_are_novas() -> None:
    cfg = SchedulerConfig.from_dict(None)
    assert cfg.multipliers["num_instances_weight_multiplier"] == 0.0
    assert cfg.multipliers["io_ops_weight_multiplier"] == -1.0
    assert cfg.multipliers["build_failure_weight_multiplier"] == 1000000.0
    assert (cfg.host_subset_size, cfg.max_attempts, cfg.max_io_ops_per_host, cfg.max_instances_per_host) == (1, 3, 8, 50)


# --- the Essex SimpleScheduler preset ----------------------------------------------------------------------

def essex(hosts: list[dict], **spec: t.Any) -> list[t.Any]:
    return schedule(hosts, {"preset": "essex-simple", "max_cores": 4}, **spec)


def test_essex_least_busy_host_first() -> None:
    hosts = [{"host": "hv1", "vcpus": 64, "vcpus_used": 3}, {"host": "hv2", "vcpus": 8, "vcpus_used": 1},
             {"host": "hv3", "vcpus": 64, "vcpus_used": 2}]
    assert essex(hosts, flavor={"vcpus": 1})[0].host == "hv2"


def test_essex_core_limit_is_no_valid_host() -> None:
    hosts = [{"host": "hv1", "vcpus_used": 4}, {"host": "hv2", "vcpus_used": 4}]
    with pytest.raises(StratusError) as err:
        essex(hosts, flavor={"vcpus": 1})
    assert err.value.code == "NoValidHost"


def test_essex_skips_disabled_but_forcing_does_not() -> None:
    hosts = [{"host": "hv1", "vcpus_used": 0, "service": {"disabled": True}}, {"host": "hv2", "vcpus_used": 2}]
    assert essex(hosts, flavor={"vcpus": 1})[0].host == "hv2"
    assert essex(hosts, flavor={"vcpus": 1}, force_hosts=["hv1"])[0].host == "hv1"


def test_essex_has_no_retries_and_no_ram_check() -> None:
    sel = essex([{"host": "hv1", "memory_mb": 1}, {"host": "hv2", "vcpus_used": 1}],
                flavor={"vcpus": 1, "memory_mb": 4096})[0]
    assert sel.host == "hv1" and sel.alternates == []
