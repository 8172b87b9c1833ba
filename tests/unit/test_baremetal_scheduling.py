"""Bare-metal scheduling without a store: the flavor convention (module_utils/baremetal/flavor.py and the
catalog's check), each node filter (module_utils/scheduler/filters/baremetal.py), NodeState's whole-node
consume and the node scheduler (deterministic pick, alternates, multi-create, explain)."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.flavor import (
    BaremetalFlavor, FlavorSpecError, baremetal_flavor,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters import baremetal as bmf
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.node_state import NodeState
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import (
    NodeScheduler, SchedulerConfig,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog

ZEROS = {"resources:VCPU": "0", "resources:MEMORY_MB": "0", "resources:DISK_GB": "0"}


def bm_specs(**extra: t.Any) -> dict[str, t.Any]:
    specs: dict[str, t.Any] = {"resources:CUSTOM_BAREMETAL_SMALL": "1", **ZEROS}
    specs.update(extra)
    return {k: v for k, v in specs.items() if v is not None}


# --- the flavor convention ---------------------------------------------------------------------------------

def test_a_bare_metal_flavor_is_recognised_with_its_class_and_traits() -> None:
    got = baremetal_flavor(bm_specs(**{"trait:CUSTOM_RAID": "required", "trait:HW_CPU_X86_AVX2": "forbidden",
                                       "hw:cpu_policy": "dedicated"}))
    assert got == BaremetalFlavor("CUSTOM_BAREMETAL_SMALL", ("CUSTOM_RAID",), ("HW_CPU_X86_AVX2",))


def test_yaml_numbers_count_as_nova_strings() -> None:
    got = baremetal_flavor({"resources:CUSTOM_GOLD": 1, "resources:VCPU": 0, "resources:MEMORY_MB": 0,
                            "resources:DISK_GB": 0})
    assert got is not None and got.resource_class == "CUSTOM_GOLD"


@pytest.mark.parametrize("specs", [None, {}, {"hw:cpu_policy": "dedicated"}, {"capabilities:cpu_arch": "x86_64"}])
def test_a_flavor_without_a_custom_class_is_virtual(specs: t.Any) -> None:
    assert baremetal_flavor(specs) is None


@pytest.mark.parametrize("specs, key, words", [
    (bm_specs(**{"resources:CUSTOM_BAREMETAL_SMALL": "2"}), "resources:CUSTOM_BAREMETAL_SMALL", "exactly \"1\""),
    (bm_specs(**{"resources:CUSTOM_BAREMETAL_SMALL": "0"}), "resources:CUSTOM_BAREMETAL_SMALL", "exactly \"1\""),
    (bm_specs(**{"resources:VCPU": "4"}), "resources:VCPU", "not '4'"),
    (bm_specs(**{"resources:MEMORY_MB": None}), "resources:MEMORY_MB", "missing"),
    (bm_specs(**{"resources:DISK_GB": "10"}), "resources:DISK_GB", "sets it to \"0\""),
    (bm_specs(**{"resources:CUSTOM_OTHER": "1"}), "resources:CUSTOM_OTHER", "one resource class"),
    (bm_specs(**{"resources:CUSTOM_bad": "1"}), "resources:CUSTOM_bad", "one resource class"),
    ({"resources:CUSTOM_bad-1": "1", **ZEROS}, "resources:CUSTOM_bad-1", "upper case"),
    (bm_specs(**{"resources:PCPU": "2"}), "resources:PCPU", "Stratus knows"),
    (bm_specs(**{"trait:CUSTOM_RAID": "preferred"}), "trait:CUSTOM_RAID", "required or forbidden"),
    (bm_specs(**{"trait:custom_raid": "required"}), "trait:custom_raid", "upper case"),
    ({"resources:VCPU": "0"}, "resources:VCPU", "only a bare-metal flavor"),
    ({"trait:CUSTOM_RAID": "required"}, "trait:CUSTOM_RAID", "hypervisors have none"),
])
def test_what_the_convention_refuses_names_the_extra_spec(specs: dict[str, t.Any], key: str, words: str) -> None:
    with pytest.raises(FlavorSpecError) as err:
        baremetal_flavor(specs)
    assert err.value.key == key
    assert words in err.value.message and err.value.message.startswith(key)


def test_the_catalog_refuses_a_bad_bare_metal_flavor_with_its_field() -> None:
    flavors = [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512},
               {"id": "2", "name": "bm.small", "vcpus": 8, "ram": 32768, "disk": 400,
                "extra_specs": bm_specs(**{"resources:CUSTOM_BAREMETAL_SMALL": "2"})}]
    with pytest.raises(StratusError) as err:
        Catalog({"stratus_flavors": flavors})
    assert err.value.code == "InvalidCatalog"
    assert err.value.field == "stratus_flavors[1].extra_specs.resources:CUSTOM_BAREMETAL_SMALL"
    assert err.value.message.startswith("stratus_flavors[1].extra_specs.resources:CUSTOM_BAREMETAL_SMALL: '2'")
    flavors[1]["extra_specs"] = bm_specs()
    assert Catalog({"stratus_flavors": flavors}).flavors[1]["name"] == "bm.small"


# --- the node filters --------------------------------------------------------------------------------------

def node(name: str = "n1", **kw: t.Any) -> NodeState:
    fields: dict[str, t.Any] = dict(vcpus=8, memory_mb=32768, local_gb=400, resource_class="CUSTOM_BAREMETAL_SMALL",
                                    provision_state="available", networks=["net-1"], traits=["CUSTOM_RAID"],
                                    driver="redfish", boot_interface="redfish-virtual-media")
    fields.update(kw)
    return NodeState(host=name, **fields)


def spec(extra_specs: t.Optional[dict[str, t.Any]] = None, **kw: t.Any) -> RequestSpec:
    flavor = {"name": "bm.small", "vcpus": 8, "memory_mb": 32768, "root_gb": 400,
              "extra_specs": bm_specs() if extra_specs is None else extra_specs}
    return RequestSpec(flavor=flavor, requested_networks=kw.pop("requested_networks", ["net-1"]), **kw)


def verdict(filter_cls: type, host: NodeState, request: RequestSpec) -> tuple[bool, t.Optional[str]]:
    f = filter_cls(SchedulerConfig())
    passes = f.host_passes(host, request)
    return passes, None if passes else f.reason(host, request)


def test_resource_class_filter() -> None:
    assert verdict(bmf.ResourceClassFilter, node(), spec()) == (True, None)
    assert verdict(bmf.ResourceClassFilter, node(resource_class="CUSTOM_BIG"), spec()) == (
        False, "the node's resource class is CUSTOM_BIG; the flavor asks for CUSTOM_BAREMETAL_SMALL")
    passes, why = verdict(bmf.ResourceClassFilter, node(), spec({}))
    assert not passes and "flavor bm.small asks for no bare-metal resource class" in str(why)


def test_a_refused_spec_reaching_the_filters_is_invalid_request() -> None:
    with pytest.raises(StratusError) as err:
        bmf.ResourceClassFilter().prepare(spec(bm_specs(**{"resources:VCPU": "2"})))
    assert (err.value.code, err.value.field) == ("InvalidRequest", "flavor.extra_specs.resources:VCPU")


def test_traits_filter_required_and_forbidden() -> None:
    required = spec(bm_specs(**{"trait:CUSTOM_RAID": "required", "trait:CUSTOM_GPU": "required"}))
    assert verdict(bmf.NodeTraitsFilter, node(traits=["CUSTOM_RAID", "CUSTOM_GPU"]), required) == (True, None)
    assert verdict(bmf.NodeTraitsFilter, node(traits=["CUSTOM_RAID"]), required) == (
        False, "the node lacks the required trait(s) CUSTOM_GPU")
    forbidden = spec(bm_specs(**{"trait:CUSTOM_RAID": "forbidden"}))
    assert verdict(bmf.NodeTraitsFilter, node(traits=[]), forbidden) == (True, None)
    assert verdict(bmf.NodeTraitsFilter, node(), forbidden) == (False, "the node has the forbidden trait(s) CUSTOM_RAID")
    assert bmf.NodeTraitsFilter().prepare(spec()) is None  # no trait asked: a no-op


def test_zone_filter_with_the_default_zone() -> None:
    assert verdict(bmf.NodeAvailabilityZoneFilter, node(availability_zone="rack-1"),
                   spec(availability_zone="rack-1")) == (True, None)
    assert verdict(bmf.NodeAvailabilityZoneFilter, node(), spec(availability_zone="nova")) == (True, None)
    assert verdict(bmf.NodeAvailabilityZoneFilter, node(), spec(availability_zone="rack-1")) == (
        False, "the node is in zone nova; the request asks for rack-1")
    assert verdict(bmf.NodeAvailabilityZoneFilter, node(availability_zone="rack-2"), spec()) == (True, None)


def test_network_filter() -> None:
    assert verdict(bmf.NodeNetworkFilter, node(networks=["net-1", "net-2"]),
                   spec(requested_networks=["net-2"])) == (True, None)
    assert verdict(bmf.NodeNetworkFilter, node(), spec(requested_networks=["net-1", "net-9"])) == (
        False, "the node has no NIC on network(s) net-9")


def test_maintenance_filter() -> None:
    assert verdict(bmf.NodeBootInterfaceFilter, node(), spec()) == (True, None)
    # a (vendor) driver registered without a boot interface is never given out for a deploy it cannot do
    assert verdict(bmf.NodeBootInterfaceFilter, node(driver="acme", boot_interface=None), spec()) == (
        False, "driver acme has no deploy boot interface")
    assert verdict(bmf.NodeMaintenanceFilter, node(), spec()) == (True, None)
    assert verdict(bmf.NodeMaintenanceFilter, node(maintenance=True, maintenance_reason="replacing a DIMM"),
                   spec()) == (False, "the node is in maintenance: replacing a DIMM")


def test_claimed_filter() -> None:
    assert verdict(bmf.NodeClaimedFilter, node(), spec()) == (True, None)
    assert verdict(bmf.NodeClaimedFilter, node(instance_uuid="u-1"), spec()) == (
        False, "the node is claimed by instance u-1")
    taken = node()
    taken.consume(spec(), "u-2")
    assert verdict(bmf.NodeClaimedFilter, taken, spec()) == (
        False, "an earlier instance of this request takes the node (u-2)")


def test_provision_state_filter() -> None:
    assert verdict(bmf.ProvisionStateFilter, node(), spec()) == (True, None)
    assert verdict(bmf.ProvisionStateFilter, node(provision_state="cleaning"), spec()) == (
        False, "the node's provision state is cleaning, not available")
    passes, why = verdict(bmf.ProvisionStateFilter, node(provision_state="enroll"), spec())
    assert not passes and "enroll" in str(why)


def test_node_filters_refuse_a_hypervisor() -> None:
    from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState

    with pytest.raises(TypeError):
        bmf.ResourceClassFilter().host_passes(HostState(host="hv1"), spec())


def test_a_node_is_consumed_whole() -> None:
    n = node()
    n.consume(RequestSpec(flavor={"vcpus": 1, "memory_mb": 1, "root_gb": 1}), "u-1")
    assert (n.vcpus_used, n.memory_mb_used, n.local_gb_used, n.free_ram_mb, n.free_disk_mb) == (8, 32768, 400, 0, 0)
    assert n.instance_uuid == "u-1" and n.instances == ["u-1"] and n.num_instances == 1


# --- the node scheduler ------------------------------------------------------------------------------------

def fleet() -> list[NodeState]:
    return [node("n1"), node("n2"), node("n3", maintenance=True, maintenance_reason="bad disk"),
            node("n4", instance_uuid="u-old"), node("n5", provision_state="enroll"),
            node("n6", resource_class="CUSTOM_BIG"), node("n7", availability_zone="rack-2")]


def test_the_first_node_by_order_wins_with_the_others_as_alternates() -> None:
    for _run in range(5):  # no randomness: the same store gives the same node
        selections = NodeScheduler(SchedulerConfig(max_attempts=3)).select_destinations(fleet(), spec(), ["u-1"])
        assert [(s.host, s.alternates) for s in selections] == [("n1", ["n2", "n7"])]


def test_max_attempts_one_means_no_alternates() -> None:
    selections = NodeScheduler(SchedulerConfig(max_attempts=1)).select_destinations(fleet(), spec(), ["u-1"])
    assert selections[0].alternates == []


def test_two_instances_take_two_nodes_and_a_third_gets_no_valid_host_with_every_reason() -> None:
    scheduler = NodeScheduler(SchedulerConfig())
    two = scheduler.select_destinations(fleet(), spec(num_instances=2, availability_zone="nova"), ["a", "b"])
    assert [s.host for s in two] == ["n1", "n2"]
    explain: dict[str, t.Any] = {}
    with pytest.raises(StratusError) as err:
        scheduler.select_destinations(fleet(), spec(num_instances=3, availability_zone="nova"), ["a", "b", "c"],
                                      explain=explain)
    assert err.value.code == "NoValidHost"
    why = {host: (v["rejected_by"], v.get("reason")) for host, v in err.value.explain.items()}
    assert why == {
        "n1": ("NodeClaimedFilter", "an earlier instance of this request takes the node (a)"),
        "n2": ("NodeClaimedFilter", "an earlier instance of this request takes the node (b)"),
        "n3": ("NodeMaintenanceFilter", "the node is in maintenance: bad disk"),
        "n4": ("NodeClaimedFilter", "the node is claimed by instance u-old"),
        "n5": ("ProvisionStateFilter", "the node's provision state is enroll (not yet managed, inspected and "
                                       "provided)"),
        "n6": ("ResourceClassFilter", "the node's resource class is CUSTOM_BIG; the flavor asks for "
                                      "CUSTOM_BAREMETAL_SMALL"),
        "n7": ("NodeAvailabilityZoneFilter", "the node is in zone rack-2; the request asks for nova"),
    }
    assert [s.host for s in err.value.selections] == ["n1", "n2"]


def test_explain_of_a_placement_has_the_host_structure() -> None:
    explain: dict[str, t.Any] = {}
    NodeScheduler().select_destinations(fleet(), spec(), ["u-1"], explain=explain)
    assert explain["n1"] == {"rejected_by": None, "weights": {}, "weight": 0.0}
    assert explain["n3"]["rejected_by"] == "NodeMaintenanceFilter"
    assert set(explain) == {"n%d" % i for i in range(1, 8)}


def test_the_configured_filters_and_weighers_do_not_apply_to_nodes() -> None:
    config = SchedulerConfig.from_dict({"enabled_filters": ["RamFilter"], "weighers": ["RAMWeigher"],
                                        "host_subset_size": 3, "max_attempts": 2})
    scheduler = NodeScheduler(config)
    assert [f.name for f in scheduler.filters] == [cls.name for cls in bmf.NODE_FILTERS]
    assert scheduler.weighers == [] and scheduler.config.host_subset_size == 1
    assert scheduler.config.max_attempts == 2


def test_a_forced_node_is_the_only_candidate_and_still_filtered() -> None:
    scheduler = NodeScheduler(SchedulerConfig(max_attempts=3))
    picked = scheduler.select_destinations(fleet(), spec(force_hosts=["n2"]), ["u-1"])
    assert [(s.host, s.alternates) for s in picked] == [("n2", [])]
    explain: dict[str, t.Any] = {}
    with pytest.raises(StratusError) as err:
        scheduler.select_destinations(fleet(), spec(force_hosts=["n4"]), ["u-1"], explain=explain)
    assert err.value.explain["n4"]["rejected_by"] == "NodeClaimedFilter"
    assert err.value.explain["n1"] == {"rejected_by": "force_hosts"}
