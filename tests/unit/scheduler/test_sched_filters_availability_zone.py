"""AvailabilityZoneFilter (cases after Nova's test_availability_zone_filters)."""
from __future__ import annotations

from sched_helpers import passes, verdicts


def zoned(zone: str) -> dict:
    return {"host": "hv1", "aggregates": [{"name": "rack1", "metadata": {"availability_zone": zone}}]}


def test_same_zone_passes() -> None:
    assert passes("AvailabilityZoneFilter", zoned("nova"), {"flavor": {}, "availability_zone": "nova"}) is True


def test_other_zone_is_rejected() -> None:
    assert passes("AvailabilityZoneFilter", zoned("nova"), {"flavor": {}, "availability_zone": "elsewhere"}) is False


def test_no_zone_requested_passes() -> None:
    assert passes("AvailabilityZoneFilter", zoned("az9"), {"flavor": {}}) is True


def test_host_in_no_zoned_aggregate_is_in_the_default_zone() -> None:
    host = {"host": "hv1", "aggregates": [{"name": "ssd", "metadata": {"ssd": "true"}}]}
    assert passes("AvailabilityZoneFilter", host, {"flavor": {}, "availability_zone": "nova"}) is True
    assert passes("AvailabilityZoneFilter", host, {"flavor": {}, "availability_zone": "az1"}) is False
    assert passes("AvailabilityZoneFilter", host, {"flavor": {}, "availability_zone": "az1"},
                  {"default_availability_zone": "az1"}) is True


def test_host_zone_field_without_aggregates() -> None:
    hosts = [{"host": "hv1", "availability_zone": "az1"}, {"host": "hv2", "availability_zone": "az2"}, {"host": "hv3"}]
    assert verdicts("AvailabilityZoneFilter", hosts, {"flavor": {}, "availability_zone": "az2"}) == {
        "hv1": False, "hv2": True, "hv3": False}


def test_aggregate_zone_wins_over_the_host_field() -> None:
    host = dict(zoned("az2"), availability_zone="az1")
    assert passes("AvailabilityZoneFilter", host, {"flavor": {}, "availability_zone": "az2"}) is True
