"""ComputeFilter, AllHostsFilter (cases after Nova's test_compute_filters)."""
from __future__ import annotations

from sched_helpers import passes, verdicts


def test_disabled_service_is_rejected() -> None:
    assert passes("ComputeFilter", {"host": "hv1", "service": {"disabled": True}}) is False


def test_enabled_and_up_passes() -> None:
    assert passes("ComputeFilter", {"host": "hv1", "service": {"disabled": False}}) is True


def test_down_service_is_rejected() -> None:
    assert passes("ComputeFilter", {"host": "hv1", "service": {"disabled": False, "up": False}}) is False


def test_disabled_and_down_is_rejected() -> None:
    assert passes("ComputeFilter", {"host": "hv1", "service": {"disabled": True, "up": False}}) is False


def test_all_hosts_filter_passes_everything() -> None:
    hosts = [{"host": "hv1", "service": {"disabled": True}}, {"host": "hv2", "vcpus": 0}]
    assert verdicts("AllHostsFilter", hosts, {"flavor": {"vcpus": 64}}) == {"hv1": True, "hv2": True}
