"""Scale: the candidate window (hosts_to_score), and the fused fast-path filter check."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sched_helpers import lookup

from ansible_collections.stratus.compute.plugins.module_utils.scheduler import compiled
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters import ALL_FILTERS
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler


def random_fleet(n: int, rng: random.Random) -> list[HostState]:
    return [HostState(host="hv%04d" % i, vcpus=rng.choice([8, 16, 32]), vcpus_used=rng.randrange(0, 40),
                      memory_mb=rng.choice([16384, 32768]), memory_mb_used=rng.randrange(0, 30000),
                      local_gb=rng.choice([100, 500]), local_gb_used=rng.randrange(0, 120),
                      num_io_ops=rng.randrange(0, 3), hypervisor_version=rng.choice([6000000, 8002000]),
                      availability_zone=rng.choice(["az1", "az2"]), networks=["n1"] if rng.random() < 0.9 else [],
                      service={"disabled": rng.random() < 0.05, "up": True}) for i in range(n)]


def spec(**kw: object) -> RequestSpec:
    base: dict = {"flavor": {"vcpus": 2, "memory_mb": 2048, "root_gb": 20}, "requested_networks": ["n1"]}
    base.update(kw)
    return RequestSpec.from_dict(base)


@pytest.mark.parametrize("seed", range(5))
def test_small_fleets_are_scheduled_exactly(seed: int) -> None:
    """Fewer hosts than hosts_to_score: the same picks as evaluating every host (Nova's result)."""
    rng = random.Random(seed)
    fleet = random_fleet(80, rng)
    twin = random_fleet(80, random.Random(seed))
    sampled = FilterScheduler(SchedulerConfig.from_dict({"hosts_to_score": 100}), random.Random(1))
    exact = FilterScheduler(SchedulerConfig.from_dict({"hosts_to_score": 0}), random.Random(1))
    for i in range(30):
        s = spec(num_instances=1 + i % 3, availability_zone="az%d" % (1 + i % 2))
        t = spec(num_instances=1 + i % 3, availability_zone="az%d" % (1 + i % 2))
        a = [(x.host, x.weight, x.alternates) for x in sampled.select_destinations(fleet, s)]
        b = [(x.host, x.weight, x.alternates) for x in exact.select_destinations(twin, t)]
        assert a == b


def test_the_window_rotates_over_the_fleet() -> None:
    fleet = [HostState(host="hv%04d" % i, vcpus=16, memory_mb=65536, local_gb=1000) for i in range(1000)]
    sched = FilterScheduler(SchedulerConfig.from_dict({"hosts_to_score": 50, "weighers": ["RAMWeigher"]}),
                            random.Random(3))
    picks = [sched.select_destinations(fleet, spec(requested_networks=[]))[0].host for _placement in range(20)]
    assert len(set(picks)) == 20   # each placement looks at a window the previous ones did not


def test_a_multi_create_bigger_than_the_window_looks_further() -> None:
    fleet = [HostState(host="hv%04d" % i, vcpus=4, memory_mb=2048, local_gb=100, ram_allocation_ratio=1.0)
             for i in range(1000)]
    sched = FilterScheduler(SchedulerConfig.from_dict({"hosts_to_score": 10}), random.Random(3))
    sels = sched.select_destinations(fleet, spec(num_instances=30, requested_networks=[]))
    assert len({s.host for s in sels}) == 30   # one 2 GiB instance per host


def test_a_rare_fit_is_found_however_far() -> None:
    fleet = [HostState(host="hv%04d" % i, vcpus=4, memory_mb=1024, local_gb=100) for i in range(2000)]
    fleet[1234].memory_mb, fleet[1234].free_ram_mb = 8192, 8192
    sched = FilterScheduler(SchedulerConfig.from_dict({"hosts_to_score": 20}), random.Random(5))
    assert sched.select_destinations(fleet, spec(requested_networks=[]))[0].host == "hv1234"


def test_explain_always_evaluates_every_host() -> None:
    hosts = [{"host": "hv%03d" % i, "vcpus": 8, "memory_mb": 8192, "local_gb": 100} for i in range(300)]
    out = lookup({"flavor": {"vcpus": 1, "memory_mb": 512}}, hosts, {"hosts_to_score": 5}, explain=True)
    assert len(out[0]["explain"]) == 300
    assert all("weights" in note for note in out[0]["explain"].values())


def test_hosts_to_score_for() -> None:
    cfg = SchedulerConfig.from_dict({})
    assert (cfg.hosts_to_score_for(40), cfg.hosts_to_score_for(10000)) == (40, 100)
    cfg = SchedulerConfig.from_dict({"hosts_to_score": 100, "percentage_of_hosts_to_score": 5})
    assert cfg.hosts_to_score_for(10000) == 500 and cfg.hosts_to_score_for(1000) == 100
    assert SchedulerConfig.from_dict({"hosts_to_score": 0}).hosts_to_score_for(10000) == 10000
    assert SchedulerConfig.from_dict({"percentage_of_hosts_to_score": 100}).hosts_to_score_for(10000) == 10000


# --- the fused check is the filters' conjunction ----------------------------------------------------------

hosts_st = st.builds(
    lambda vcpus, used, mem, mem_used, disk, disk_used, reserved, ratio, ops, inst, az, nets, disabled, up: HostState(
        host="hv1", vcpus=vcpus, vcpus_used=used, memory_mb=mem, memory_mb_used=mem_used, local_gb=disk,
        local_gb_used=disk_used, reserved_host_memory_mb=reserved, reserved_host_cpus=reserved % 3,
        reserved_host_disk_mb=reserved, cpu_allocation_ratio=ratio, ram_allocation_ratio=ratio,
        disk_allocation_ratio=ratio, num_io_ops=ops, num_instances=inst, availability_zone=az, networks=nets,
        service={"disabled": disabled, "up": up}),
    st.integers(0, 64), st.integers(0, 200), st.integers(0, 65536), st.integers(0, 90000), st.integers(0, 2000),
    st.integers(0, 3000), st.integers(0, 2048), st.sampled_from([0.5, 1.0, 1.5, 4.0, 16.0]), st.integers(0, 10),
    st.integers(0, 60), st.sampled_from([None, "az1", "az2"]), st.sampled_from([[], ["n1"], ["n1", "n2"]]),
    st.booleans(), st.booleans())
specs_st = st.builds(
    lambda vcpus, ram, root, eph, swap, az, nets: RequestSpec.from_dict({
        "flavor": {"vcpus": vcpus, "memory_mb": ram, "root_gb": root, "ephemeral_gb": eph, "swap": swap},
        "availability_zone": az, "requested_networks": nets}),
    st.integers(0, 16), st.integers(0, 32768), st.integers(0, 500), st.integers(0, 50), st.integers(0, 4096),
    st.sampled_from([None, "az1", "nova"]), st.sampled_from([[], ["n1"], ["n1", "n2"]]))

INLINE = ["ComputeFilter", "AvailabilityZoneFilter", "VCPUFilter", "RamFilter", "DiskFilter", "NetworkFilter",
          "NumInstancesFilter", "IoOpsFilter", "PlacementFilter", "MaxCoresFilter", "AggregateRamFilter"]


@settings(max_examples=400, deadline=None, database=None)
@given(hosts_st, specs_st)
def test_fused_check_equals_every_filter(host: HostState, request_spec: RequestSpec) -> None:
    config = SchedulerConfig.from_dict({"enabled_filters": INLINE})
    filters = [ALL_FILTERS[name](config) for name in INLINE]
    expected = all(f.host_passes(host, request_spec) for f in filters)
    exprs = [e for e in (f.expression(request_spec) for f in filters) if e is not None]
    fused = compiled.fuse(exprs)
    assert (True if fused is None else bool(fused(host))) is expected
    sched = FilterScheduler(config)
    assert (sched.filter_hosts([host], request_spec) == [host]) is expected


def test_request_values_are_arguments_not_code() -> None:
    # a zone that looks like code is compared as a string
    host = HostState(host="hv1", availability_zone="x")
    request_spec = RequestSpec.from_dict({"flavor": {}, "availability_zone": "x' or True or '"})
    check = ALL_FILTERS["AvailabilityZoneFilter"](None).prepare(request_spec)
    assert check is not None and not check(host)
