"""Filters over aggregate metadata (cases after Nova's aggregate filter tests)."""
from __future__ import annotations

import pytest

from sched_helpers import passes


def in_aggregates(*metadatas: dict) -> dict:
    return {"host": "hv1", "aggregates": [{"name": "agg%d" % i, "hosts": ["hv1"], "metadata": m}
                                          for i, m in enumerate(metadatas)]}


def specs(extra_specs: dict | None, **spec: object) -> dict:
    flavor: dict = {"memory_mb": 512, "name": "m1.small"}
    if extra_specs is not None:
        flavor["extra_specs"] = extra_specs
    return dict({"flavor": flavor}, **spec)


# --- AggregateInstanceExtraSpecsFilter -------------------------------------------------------------------

def test_extra_specs_absent_or_empty_pass() -> None:
    host = {"host": "hv1"}
    assert passes("AggregateInstanceExtraSpecsFilter", host, specs(None)) is True
    assert passes("AggregateInstanceExtraSpecsFilter", host, specs({})) is True


def test_extra_specs_unscoped_and_scoped_match() -> None:
    host = in_aggregates({"disk": "ssd", "net": "25g"})
    assert passes("AggregateInstanceExtraSpecsFilter", host,
                  specs({"disk": "ssd", "aggregate_instance_extra_specs:net": "25g"})) is True


def test_extra_specs_one_of_several_values() -> None:
    host = in_aggregates({"disk": "ssd,nvme", "net": "25g"})
    assert passes("AggregateInstanceExtraSpecsFilter", host,
                  specs({"disk": "ssd", "aggregate_instance_extra_specs:disk": "nvme"})) is True
    two = in_aggregates({"disk": "ssd"}, {"disk": "nvme"})
    assert passes("AggregateInstanceExtraSpecsFilter", two, specs({"disk": "nvme"})) is True


def test_extra_specs_key_named_like_the_scope() -> None:
    host = in_aggregates({"aggregate_instance_extra_specs": "3"})
    assert passes("AggregateInstanceExtraSpecsFilter", host, specs({"aggregate_instance_extra_specs": "3"})) is True


def test_extra_specs_mismatch_fails() -> None:
    host = in_aggregates({"disk": "ssd", "net": "25g"})
    assert passes("AggregateInstanceExtraSpecsFilter", host, specs({"disk": "ssd", "net": "100g"})) is False


def test_extra_specs_missing_in_aggregates_fails() -> None:
    assert passes("AggregateInstanceExtraSpecsFilter", {"host": "hv1"}, specs({"disk": "ssd"})) is False


def test_extra_specs_of_other_scopes_are_ignored() -> None:
    assert passes("AggregateInstanceExtraSpecsFilter", {"host": "hv1"},
                  specs({"capabilities:cpu_info:vendor": "AMD", "hw:cpu_policy": "dedicated"})) is True


def test_extra_specs_with_operators() -> None:
    host = in_aggregates({"gen": "7"})
    assert passes("AggregateInstanceExtraSpecsFilter", host, specs({"gen": ">= 5"})) is True
    assert passes("AggregateInstanceExtraSpecsFilter", host, specs({"gen": "<or> 5 <or> 6"})) is False


# --- AggregateMultiTenancyIsolation ----------------------------------------------------------------------

@pytest.mark.parametrize("metadata, project, allowed", [
    ({"filter_tenant_id": "p-mine"}, "p-mine", True),
    ({"filter_tenant_id": "p-mine,p-other"}, "p-mine", True),
    ({"filter_tenant_id": "p-other"}, "p-mine", False),
    ({"filter_tenant_id": "p-other, p-third"}, "p-mine", False),
    ({}, "p-mine", True),
    ({"ssd": "true"}, "p-mine", True),
])
def test_multitenancy(metadata: dict, project: str, allowed: bool) -> None:
    host = in_aggregates(metadata)
    assert passes("AggregateMultiTenancyIsolation", host, specs(None, project_id=project)) is allowed


def test_multitenancy_prefixed_keys() -> None:
    host = in_aggregates({"filter_tenant_id": "p1", "filter_tenant_id_teamA": "p2,p3",
                          "filter_tenant_id_teamB": "p4,p5"})
    for project, allowed in (("p1", True), ("p3", True), ("p5", True), ("p6", False)):
        assert passes("AggregateMultiTenancyIsolation", host, specs(None, project_id=project)) is allowed


def test_multitenancy_host_in_no_aggregate() -> None:
    assert passes("AggregateMultiTenancyIsolation", {"host": "hv1"}, specs(None, project_id="p")) is True


# --- AggregateImagePropertiesIsolation, AggregateTypeAffinityFilter --------------------------------------

def image(props: dict) -> dict:
    return specs(None, image={"id": "img1", "properties": props})


def test_image_properties_isolation() -> None:
    host = in_aggregates({"os_distro": "debian,ubuntu", "hw_vm_mode": "hvm"})
    assert passes("AggregateImagePropertiesIsolation", host, image({"os_distro": "debian"})) is True
    assert passes("AggregateImagePropertiesIsolation", host, image({"os_distro": "windows"})) is False
    assert passes("AggregateImagePropertiesIsolation", host, image({"os_distro": "debian,"})) is False
    assert passes("AggregateImagePropertiesIsolation", host, image({})) is True
    assert passes("AggregateImagePropertiesIsolation", {"host": "hv1"}, image({"os_distro": "windows"})) is True


def test_image_properties_isolation_namespace() -> None:
    host = in_aggregates({"os_distro": "debian", "stx.tier": "gold"})
    config = {"aggregate_image_properties_isolation_namespace": "stx"}
    # outside the namespace, a mismatch does not count
    assert passes("AggregateImagePropertiesIsolation", host, image({"os_distro": "windows"}), config) is True
    assert passes("AggregateImagePropertiesIsolation", host, image({"stx.tier": "silver"}), config) is False
    assert passes("AggregateImagePropertiesIsolation", host, image({"stx.tier": "gold"}), config) is True


def test_type_affinity() -> None:
    assert passes("AggregateTypeAffinityFilter", {"host": "hv1"}, specs(None)) is True
    assert passes("AggregateTypeAffinityFilter", in_aggregates({"instance_type": "m1.small"}), specs(None)) is True
    assert passes("AggregateTypeAffinityFilter", in_aggregates({"instance_type": "m1.large"}), specs(None)) is False
    assert passes("AggregateTypeAffinityFilter", in_aggregates({"instance_type": "m1.large, m1.small"}),
                  specs(None)) is True
