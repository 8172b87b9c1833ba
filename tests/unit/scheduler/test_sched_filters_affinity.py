"""Server group and same/different host filters (cases after Nova's test_affinity_filters)."""
from __future__ import annotations

import pytest

from sched_helpers import passes

U1, U2, U3 = "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002", \
    "11111111-0000-4000-8000-000000000003"


def hinted(**hints: object) -> dict:
    return {"flavor": {}, "scheduler_hints": hints}


def test_different_host() -> None:
    host = {"host": "hv1", "instances": [U2]}
    assert passes("DifferentHostFilter", host, hinted(different_host=[U1])) is True
    assert passes("DifferentHostFilter", host, hinted(different_host=[U2])) is False
    assert passes("DifferentHostFilter", host, hinted(different_host=U2)) is False  # a single uuid
    assert passes("DifferentHostFilter", host, {"flavor": {}}) is True


def test_same_host() -> None:
    host = {"host": "hv1", "instances": {U1: {}}}  # Nova keeps instances as a mapping by uuid
    assert passes("SameHostFilter", host, hinted(same_host=[U1])) is True
    assert passes("SameHostFilter", host, hinted(same_host=[U2, U3])) is False
    assert passes("SameHostFilter", host, hinted(same_host=U1)) is True
    assert passes("SameHostFilter", host, {"flavor": {}}) is True


def test_simple_cidr_affinity() -> None:
    host = {"host": "hv1", "host_ip": "10.31.4.1"}
    assert passes("SimpleCIDRAffinityFilter", host, hinted(cidr=["/24"], build_near_host_ip=["10.31.4.200"])) is True
    assert passes("SimpleCIDRAffinityFilter", host, hinted(cidr=["/32"], build_near_host_ip=["10.31.4.200"])) is False
    assert passes("SimpleCIDRAffinityFilter", host, hinted(build_near_host_ip="10.31.5.9")) is False  # /24 default
    assert passes("SimpleCIDRAffinityFilter", host, {"flavor": {}}) is True


def group(policy: str, **kw: object) -> dict:
    return {"flavor": {}, "instance_group": dict({"policy": policy}, **kw)}


@pytest.mark.parametrize("name", ["ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"])
def test_group_filters_ignore_other_policies(name: str) -> None:
    host = {"host": "hv1", "instances": [U1]}
    other = "affinity" if name == "ServerGroupAntiAffinityFilter" else "anti-affinity"
    assert passes(name, host, {"flavor": {}}) is True
    assert passes(name, host, group(other, hosts=["hv2"], members=[U1])) is True
    assert passes(name, host, group("soft-affinity", hosts=["hv1"], members=[U1])) is True


def test_anti_affinity_passes_without_members_here() -> None:
    host = {"host": "hv1", "instances": [U3]}
    assert passes("ServerGroupAntiAffinityFilter", host, group("anti-affinity", hosts=[], members=[])) is True
    assert passes("ServerGroupAntiAffinityFilter", host,
                  group("anti-affinity", hosts=["hv2"], members=[U1])) is True


def test_anti_affinity_fails_with_a_member_here() -> None:
    host = {"host": "hv1", "instances": [U1]}
    assert passes("ServerGroupAntiAffinityFilter", host,
                  group("anti-affinity", hosts=["hv1"], members=[U1])) is False


def test_anti_affinity_without_members_uses_the_group_hosts() -> None:
    assert passes("ServerGroupAntiAffinityFilter", {"host": "hv1"}, group("anti-affinity", hosts=["hv1"])) is False
    assert passes("ServerGroupAntiAffinityFilter", {"host": "hv1"}, group("anti-affinity", hosts=["hv2"])) is True


def test_anti_affinity_max_server_per_host() -> None:
    host = {"host": "hv1", "instances": [U1, U2]}
    two = group("anti-affinity", hosts=["hv1", "hv1"], members=[U1, U2], rules={"max_server_per_host": 2})
    three = group("anti-affinity", hosts=["hv1", "hv1"], members=[U1, U2], rules={"max_server_per_host": 3})
    assert passes("ServerGroupAntiAffinityFilter", host, two) is False
    assert passes("ServerGroupAntiAffinityFilter", host, three) is True
    one_here = {"host": "hv1", "instances": [U1]}
    assert passes("ServerGroupAntiAffinityFilter", one_here, two) is True


def test_anti_affinity_lets_the_instance_stay_where_it_is() -> None:
    host = {"host": "hv1", "instances": [U1]}
    spec = dict(group("anti-affinity", hosts=["hv1"], members=[U1]), instance_uuid=U1)
    assert passes("ServerGroupAntiAffinityFilter", host, spec) is True


def test_legacy_policies_list() -> None:
    host = {"host": "hv1", "instances": [U1]}
    spec = {"flavor": {}, "instance_group": {"policies": ["anti-affinity"], "hosts": ["hv1"], "members": [U1]}}
    assert passes("ServerGroupAntiAffinityFilter", host, spec) is False


def test_affinity() -> None:
    host = {"host": "hv1"}
    assert passes("ServerGroupAffinityFilter", host, group("affinity", hosts=[])) is True
    assert passes("ServerGroupAffinityFilter", host, group("affinity", hosts=["hv1"])) is True
    assert passes("ServerGroupAffinityFilter", host, group("affinity", hosts=["hv2"])) is False
