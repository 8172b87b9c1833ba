from __future__ import annotations

import random

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler, SchedulerConfig


def hosts() -> list[HostState]:
    return [
        HostState(host="hv1", vcpus=4, memory_mb=4096, local_gb=20, availability_zone="az1", networks=["n1"]),
        HostState(host="hv2", vcpus=4, memory_mb=8192, local_gb=20, availability_zone="az2", networks=["n1"]),
        HostState(host="hv3", vcpus=4, memory_mb=8192, local_gb=20, availability_zone="az2", networks=[],
                  service={"up": True, "disabled": True}),
    ]


def spec(**kw) -> RequestSpec:
    base = dict(flavor={"vcpus": 1, "memory_mb": 1024, "root_gb": 1}, requested_networks=["n1"])
    base.update(kw)
    return RequestSpec(**base)


def test_ram_weigher_spreads_and_multi_create_consumes() -> None:
    sched = FilterScheduler(rng=random.Random(1))
    picks = sched.select_destinations(hosts(), spec(num_instances=3))
    # hv2 has the most free RAM first; after two picks hv1 (4096) and hv2 (6144) compete.
    assert [p.host for p in picks][0] == "hv2"
    assert sorted(p.host for p in picks) == ["hv1", "hv2", "hv2"]
    assert all("hv3" not in p.alternates for p in picks)


def test_disabled_and_network_and_zone_filters() -> None:
    explain: dict = {}
    sched = FilterScheduler()
    picks = sched.select_destinations(hosts(), spec(availability_zone="az2"), explain=explain)
    assert [p.host for p in picks] == ["hv2"]
    assert explain["hv1"]["rejected_by"] == "AvailabilityZoneFilter"
    assert explain["hv3"]["rejected_by"] == "ComputeFilter"


def test_ratio_fit_rule_and_no_valid_host() -> None:
    h = [HostState(host="hv1", vcpus=2, memory_mb=1000, local_gb=10, ram_allocation_ratio=1.0, networks=["n1"])]
    FilterScheduler().select_destinations(h, spec(flavor={"vcpus": 1, "memory_mb": 1000, "root_gb": 1}))
    with pytest.raises(StratusError) as err:
        FilterScheduler().select_destinations(h, spec(flavor={"vcpus": 1, "memory_mb": 1, "root_gb": 1}))
    assert err.value.code == "NoValidHost"


def test_forced_host_skips_filters_and_has_no_alternates() -> None:
    picks = FilterScheduler().select_destinations(hosts(), spec(force_hosts=["HV3"]))
    assert picks[0].host == "hv3" and picks[0].alternates == []


def test_unknown_filter_is_refused() -> None:
    with pytest.raises(StratusError) as err:
        SchedulerConfig.from_dict({"enabled_filters": ["NoSuchFilter"]})
    assert err.value.code == "InvalidRequest"
