"""VCPU, MEMORY_MB and DISK_GB (cases after Nova's core, ram and disk filter tests, now placement's rule)."""
from __future__ import annotations

import pytest

from sched_helpers import passes

GB = 1024


# --- RAM -------------------------------------------------------------------------------------------------

def test_ram_short_by_one_megabyte() -> None:
    host = {"host": "hv1", "memory_mb": 2048, "free_ram_mb": 2047, "ram_allocation_ratio": 1.0}
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 2048}}) is False


def test_ram_exactly_enough() -> None:
    host = {"host": "hv1", "memory_mb": 2048, "free_ram_mb": 2048, "ram_allocation_ratio": 1.0}
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 2048}}) is True


def test_ram_oversubscribed_by_ratio() -> None:
    # 4096 MB, ratio 2.0: 8192 allowed; 6144 used (free -2048), so 2048 more still fit
    host = {"host": "hv1", "memory_mb": 4096, "free_ram_mb": -2048, "ram_allocation_ratio": 2.0}
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 2048}}) is True
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 2049}}) is False


def test_ram_one_instance_cannot_exceed_the_host() -> None:
    host = {"host": "hv1", "memory_mb": 1024, "free_ram_mb": 1024, "ram_allocation_ratio": 4.0}
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 2048}}) is False


def test_ram_reserved_memory_is_not_allocatable() -> None:
    # placement: used + requested <= (total - reserved) * ratio
    host = {"host": "hv1", "memory_mb": 4096, "memory_mb_used": 1024, "reserved_host_memory_mb": 512,
            "ram_allocation_ratio": 1.0}
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 2560}}) is True
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 2561}}) is False


def test_ram_used_and_free_forms_agree() -> None:
    used = {"host": "hv1", "memory_mb": 8192, "memory_mb_used": 6000, "ram_allocation_ratio": 1.5}
    free = {"host": "hv1", "memory_mb": 8192, "free_ram_mb": 2192, "ram_allocation_ratio": 1.5}
    for req in (1000, 6288, 6289):
        spec = {"flavor": {"memory_mb": req}}
        assert passes("RamFilter", used, spec) == passes("RamFilter", free, spec)


# --- VCPU ------------------------------------------------------------------------------------------------

def test_vcpu_within_ratio() -> None:
    host = {"host": "hv1", "vcpus": 4, "vcpus_used": 7, "cpu_allocation_ratio": 2.0}
    assert passes("VCPUFilter", host, {"flavor": {"vcpus": 1}}) is True


def test_vcpu_over_ratio() -> None:
    host = {"host": "hv1", "vcpus": 4, "vcpus_used": 8, "cpu_allocation_ratio": 2.0}
    assert passes("VCPUFilter", host, {"flavor": {"vcpus": 1}}) is False


def test_vcpu_host_without_a_count_is_not_checked() -> None:
    assert passes("VCPUFilter", {"host": "hv1"}, {"flavor": {"vcpus": 2}}) is True


def test_vcpu_one_instance_cannot_have_more_vcpus_than_the_host() -> None:
    host = {"host": "hv1", "vcpus": 4, "vcpus_used": 0, "cpu_allocation_ratio": 16.0}
    assert passes("VCPUFilter", host, {"flavor": {"vcpus": 5}}) is False


def test_vcpu_reserved_cpus_are_not_allocatable() -> None:
    host = {"host": "hv1", "vcpus": 8, "vcpus_used": 10, "reserved_host_cpus": 2, "cpu_allocation_ratio": 2.0}
    assert passes("VCPUFilter", host, {"flavor": {"vcpus": 2}}) is True
    assert passes("VCPUFilter", host, {"flavor": {"vcpus": 3}}) is False


def test_core_filter_is_the_vcpu_filter() -> None:
    host = {"host": "hv1", "vcpus": 2, "vcpus_used": 2, "cpu_allocation_ratio": 1.0}
    assert passes("CoreFilter", host, {"flavor": {"vcpus": 1}}) is False


# --- DISK ------------------------------------------------------------------------------------------------

def test_disk_fits_with_swap_rounded_up() -> None:
    # root 2 + ephemeral 1 + swap 300 MB (one GiB) = 4 GiB; 12 of 14 GiB free
    host = {"host": "hv1", "local_gb": 14, "free_disk_mb": 12 * GB, "disk_allocation_ratio": 1.0}
    assert passes("DiskFilter", host, {"flavor": {"root_gb": 2, "ephemeral_gb": 1, "swap": 300}}) is True


def test_disk_does_not_fit() -> None:
    host = {"host": "hv1", "local_gb": 14, "free_disk_mb": 12 * GB, "disk_allocation_ratio": 1.0}
    assert passes("DiskFilter", host, {"flavor": {"root_gb": 11, "ephemeral_gb": 1, "swap": 1024}}) is False


def test_disk_oversubscribed_by_ratio() -> None:
    # 10 GiB, ratio 10: 100 GiB allowed, 9 used: 8 GiB more fit easily
    host = {"host": "hv1", "local_gb": 10, "free_disk_mb": 1 * GB, "disk_allocation_ratio": 10.0}
    assert passes("DiskFilter", host, {"flavor": {"root_gb": 4, "ephemeral_gb": 3, "swap": 1024}}) is True


def test_disk_one_instance_cannot_exceed_the_disk() -> None:
    host = {"host": "hv1", "local_gb": 10, "free_disk_mb": 10 * GB, "disk_allocation_ratio": 10.0}
    assert passes("DiskFilter", host, {"flavor": {"root_gb": 10, "ephemeral_gb": 1}}) is False


def test_disk_oversubscription_runs_out() -> None:
    # 10 GiB, ratio 10 -> 100 allowed; 1 GiB used; 99 fit, 100 do not
    host = {"host": "hv1", "local_gb": 10, "free_disk_mb": 9 * GB, "disk_allocation_ratio": 10.0}
    assert passes("DiskFilter", host, {"flavor": {"root_gb": 10, "ephemeral_gb": 0}}) is True
    spec = {"flavor": {"root_gb": 10}}
    big = dict(host, free_disk_mb=-80 * GB)  # 90 GiB used: 10 more exactly fit
    assert passes("DiskFilter", big, spec) is True
    bigger = dict(host, free_disk_mb=-81 * GB)
    assert passes("DiskFilter", bigger, spec) is False


def test_boot_from_volume_needs_no_root_disk() -> None:
    host = {"host": "hv1", "local_gb": 1, "free_disk_mb": 0}
    assert passes("DiskFilter", host, {"flavor": {"root_gb": 20}, "is_bfv": True}) is True
    assert passes("DiskFilter", host, {"flavor": {"root_gb": 20}}) is False


# --- aggregate ratios, the combined check, the Essex core limit -----------------------------------------

@pytest.mark.parametrize("metadata, fits", [
    ({}, False),                                      # the host's own ratio 1.0
    ({"cpu_allocation_ratio": "XXX"}, False),         # unparsable: the host's own ratio
    ({"cpu_allocation_ratio": "3"}, True),
    ({"cpu_allocation_ratio": "1.5,ignored"}, False),  # not a number at all: own ratio
])
def test_aggregate_core_filter(metadata: dict, fits: bool) -> None:
    host = {"host": "hv1", "vcpus": 4, "vcpus_used": 4, "cpu_allocation_ratio": 1.0,
            "aggregates": [{"name": "a", "metadata": metadata}]}
    assert passes("AggregateCoreFilter", host, {"flavor": {"vcpus": 1}}) is fits


def test_aggregate_ram_filter_takes_the_smallest_ratio() -> None:
    # 2048 MB all used: ratio 1.5 leaves 1024, ratio 2.0 would leave 2048
    host = {"host": "hv1", "memory_mb": 2048, "free_ram_mb": 0, "ram_allocation_ratio": 1.0,
            "aggregates": [{"name": "a", "metadata": {"ram_allocation_ratio": "2.0"}},
                           {"name": "b", "metadata": {"ram_allocation_ratio": "1.5"}}]}
    assert passes("AggregateRamFilter", host, {"flavor": {"memory_mb": 1024}}) is True
    assert passes("AggregateRamFilter", host, {"flavor": {"memory_mb": 1025}}) is False
    assert passes("RamFilter", host, {"flavor": {"memory_mb": 1}}) is False


def test_aggregate_disk_filter() -> None:
    host = {"host": "hv1", "local_gb": 4, "free_disk_mb": 3 * GB, "disk_allocation_ratio": 1.0}
    spec = {"flavor": {"root_gb": 2, "ephemeral_gb": 1, "swap": 1024}}
    assert passes("AggregateDiskFilter", host, spec) is False
    host["aggregates"] = [{"name": "a", "metadata": {"disk_allocation_ratio": "2"}}]
    assert passes("AggregateDiskFilter", host, spec) is True


def test_placement_filter_checks_all_three() -> None:
    host = {"host": "hv1", "vcpus": 2, "memory_mb": 2048, "local_gb": 10, "cpu_allocation_ratio": 1.0,
            "ram_allocation_ratio": 1.0}
    assert passes("PlacementFilter", host, {"flavor": {"vcpus": 2, "memory_mb": 2048, "root_gb": 10}}) is True
    assert passes("PlacementFilter", host, {"flavor": {"vcpus": 3, "memory_mb": 2048, "root_gb": 10}}) is False
    assert passes("PlacementFilter", host, {"flavor": {"vcpus": 2, "memory_mb": 2049, "root_gb": 10}}) is False
    assert passes("PlacementFilter", host, {"flavor": {"vcpus": 2, "memory_mb": 2048, "root_gb": 11}}) is False


def test_max_cores_filter_counts_running_cores() -> None:
    host = {"host": "hv1", "vcpus": 64, "vcpus_used": 3}
    assert passes("MaxCoresFilter", host, {"flavor": {"vcpus": 1}}, {"max_cores": 4}) is True
    assert passes("MaxCoresFilter", host, {"flavor": {"vcpus": 2}}, {"max_cores": 4}) is False
