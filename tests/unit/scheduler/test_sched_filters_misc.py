"""IsolatedHostsFilter, NumInstancesFilter, IoOpsFilter and their aggregate forms, NetworkFilter
(cases after Nova's isolated hosts, num instances and io ops filter tests)."""
from __future__ import annotations

import pytest

from sched_helpers import passes

ISOLATION = {"isolated_images": ["img-secret"], "isolated_hosts": ["hv-vault"]}


def isolated(host_in_list: bool, image_in_list: bool, config: dict | None) -> bool:
    host = {"host": "hv-vault" if host_in_list else "hv-open"}
    spec = {"flavor": {}, "image": {"id": "img-secret" if image_in_list else "img-public"}}
    return passes("IsolatedHostsFilter", host, spec, config)


@pytest.mark.parametrize("host_in, image_in, expected", [
    (False, True, False), (True, False, False), (True, True, True), (False, False, True)])
def test_isolation_restricted(host_in: bool, image_in: bool, expected: bool) -> None:
    assert isolated(host_in, image_in, ISOLATION) is expected


@pytest.mark.parametrize("host_in, image_in", [(False, True), (True, False), (True, True), (False, False)])
def test_isolation_not_configured_filters_nothing(host_in: bool, image_in: bool) -> None:
    assert isolated(host_in, image_in, {}) is True


@pytest.mark.parametrize("host_in, image_in, expected", [
    (False, True, False), (True, False, True), (True, True, False), (False, False, True)])
def test_isolation_images_only(host_in: bool, image_in: bool, expected: bool) -> None:
    assert isolated(host_in, image_in, {"isolated_images": ["img-secret"]}) is expected


@pytest.mark.parametrize("host_in, image_in, expected", [
    (False, True, True), (True, False, False), (True, True, False), (False, False, True)])
def test_isolation_hosts_only(host_in: bool, image_in: bool, expected: bool) -> None:
    assert isolated(host_in, image_in, {"isolated_hosts": ["hv-vault"]}) is expected


@pytest.mark.parametrize("host_in, image_in, expected", [
    (True, False, True), (True, True, True), (False, False, True), (False, True, False)])
def test_isolation_less_restrictive(host_in: bool, image_in: bool, expected: bool) -> None:
    config = dict(ISOLATION, restrict_isolated_hosts_to_isolated_images=False)
    assert isolated(host_in, image_in, config) is expected


def test_volume_backed_request_without_image() -> None:
    assert passes("IsolatedHostsFilter", {"host": "hv-open"}, {"flavor": {}}, ISOLATION) is True
    assert passes("IsolatedHostsFilter", {"host": "hv-vault"}, {"flavor": {}}, ISOLATION) is False


def test_num_instances() -> None:
    assert passes("NumInstancesFilter", {"host": "hv1", "num_instances": 6}, None, {"max_instances_per_host": 7})
    assert not passes("NumInstancesFilter", {"host": "hv1", "num_instances": 7}, None, {"max_instances_per_host": 7})
    assert passes("NumInstancesFilter", {"host": "hv1", "num_instances": 49}) is True   # default 50
    assert passes("NumInstancesFilter", {"host": "hv1", "num_instances": 50}) is False


@pytest.mark.parametrize("values, num, expected", [
    ([], 4, True),            # no metadata: the configured 5
    ([], 5, False),
    (["XXX"], 4, True),       # unparsable: the configured 5
    (["3"], 3, False),
    (["3"], 2, True),
    (["6", "3"], 3, False),   # the smallest
    (["9"], 8, True),         # above the configured value
])
def test_aggregate_num_instances(values: list, num: int, expected: bool) -> None:
    host = {"host": "hv1", "num_instances": num,
            "aggregates": [{"name": "a%d" % i, "metadata": {"max_instances_per_host": v}} for i, v in enumerate(values)]}
    assert passes("AggregateNumInstancesFilter", host, None, {"max_instances_per_host": 5}) is expected


def test_io_ops() -> None:
    assert passes("IoOpsFilter", {"host": "hv1", "num_io_ops": 7}) is True   # default 8
    assert passes("IoOpsFilter", {"host": "hv1", "num_io_ops": 8}) is False
    assert passes("IoOpsFilter", {"host": "hv1", "num_io_ops": 2}, None, {"max_io_ops_per_host": 2}) is False


@pytest.mark.parametrize("values, ops, expected", [
    ([], 7, True), ([], 8, False), (["XXX"], 7, True), (["3"], 3, False), (["3"], 2, True), (["6", "3"], 3, False)])
def test_aggregate_io_ops(values: list, ops: int, expected: bool) -> None:
    host = {"host": "hv1", "num_io_ops": ops,
            "aggregates": [{"name": "a%d" % i, "metadata": {"max_io_ops_per_host": v}} for i, v in enumerate(values)]}
    assert passes("AggregateIoOpsFilter", host, None, {"max_io_ops_per_host": 8}) is expected


def test_network_filter() -> None:
    host = {"host": "hv1", "networks": ["net-a", "net-b"]}
    assert passes("NetworkFilter", host, {"flavor": {}, "requested_networks": ["net-a"]}) is True
    assert passes("NetworkFilter", host, {"flavor": {}, "requested_networks": ["net-a", "net-b"]}) is True
    assert passes("NetworkFilter", host, {"flavor": {}, "requested_networks": [{"uuid": "net-c"}]}) is False
    assert passes("NetworkFilter", host, {"flavor": {}}) is True
