"""The stratus.compute.scheduler lookup: explicit host states, the inventory and the store, bad input."""
from __future__ import annotations

import datetime
import os
import typing as t
from pathlib import Path

import pytest
from ansible.errors import AnsibleError

from sched_helpers import lookup

from ansible_collections.stratus.compute.plugins.lookup.scheduler import LookupModule

SMALL = {"vcpus": 1, "memory_mb": 1024, "root_gb": 10}


def inventory(**extra: t.Any) -> dict[str, t.Any]:
    hostvars = {
        "hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 100,
                "stratus_ram_allocation_ratio": 1.0, "stratus_aggregates": ["ssd"]},
        "hv2": {"stratus_vcpus": 8, "stratus_memory_mb": 16384, "stratus_local_gb": 100,
                "stratus_ram_allocation_ratio": 1.0},
        "hv3": {"stratus_vcpus": 8, "stratus_memory_mb": 16384, "stratus_local_gb": 100,
                "stratus_disabled": True},
    }
    variables: dict[str, t.Any] = {
        "groups": {"hypervisors": ["hv1", "hv2", "hv3"]}, "hostvars": hostvars,
        "stratus_networks": [{"id": "net-a", "name": "a", "cidr": "10.9.0.0/24", "hypervisors": ["hv1", "hv2"]}],
        "stratus_host_aggregates": [
            {"name": "ssd", "metadata": {"disk": "ssd", "ram_weight_multiplier": "100"}},
            {"name": "zone-b", "hosts": ["hv2", "hv3"], "availability_zone": "az-b"},
        ],
    }
    variables.update(extra)
    return variables


def run(spec: t.Any, variables: dict[str, t.Any], **kwargs: t.Any) -> list[dict[str, t.Any]]:
    return LookupModule().run([spec], variables, **kwargs)


# --- from the inventory -----------------------------------------------------------------------------------

def test_inventory_hosts_with_aggregates(tmp_path: Path) -> None:
    variables = inventory(stratus_db_url="sqlite:///%s" % (tmp_path / "none.db"))
    out = run({"flavor": SMALL}, variables)
    assert out[0]["host"] == "hv1"   # the ssd aggregate's ram_weight_multiplier
    assert not (tmp_path / "none.db").exists()   # reading a store that is not there does not create it
    out = run({"flavor": SMALL, "availability_zone": "az-b"}, variables, explain=True)
    assert out[0]["host"] == "hv2"
    assert out[0]["explain"]["hv1"] == {"rejected_by": "AvailabilityZoneFilter"}
    assert out[0]["explain"]["hv3"] == {"rejected_by": "ComputeFilter"}
    out = run({"flavor": dict(SMALL, extra_specs={"disk": "ssd"})}, variables,
              config={"enabled_filters": ["AggregateInstanceExtraSpecsFilter"]})
    assert out[0]["host"] == "hv1"


def test_inventory_hosts_option_and_networks() -> None:
    variables = inventory()
    out = run({"flavor": SMALL, "requested_networks": ["net-a"]}, variables, hosts=["hv2", "hv3"], use_store=False,
              explain=True)
    assert out[0]["host"] == "hv2" and set(out[0]["explain"]) == {"hv2", "hv3"}
    variables["stratus_networks"][0]["hypervisors"] = ["hv1"]
    out = run({"flavor": SMALL, "requested_networks": ["net-a"]}, variables, use_store=False, explain=True)
    assert out[0]["host"] == "hv1" and out[0]["explain"]["hv2"] == {"rejected_by": "NetworkFilter"}


def test_inventory_unknown_host() -> None:
    with pytest.raises(AnsibleError, match=r"ComputeHostNotFound: Compute host hv9 could not be found.*hosts\[0\]"):
        run({"flavor": SMALL}, inventory(), hosts=["hv9"], use_store=False)


def test_inventory_bad_hostvar() -> None:
    variables = inventory()
    variables["hostvars"]["hv1"]["stratus_vcpus"] = "many"
    with pytest.raises(AnsibleError, match="InvalidCatalog.*stratus_vcpus"):
        run({"flavor": SMALL}, variables, use_store=False)


def test_inventory_bad_aggregates() -> None:
    with pytest.raises(AnsibleError, match=r"InvalidCatalog.*stratus_host_aggregates\[0\]"):
        run({"flavor": SMALL}, inventory(stratus_host_aggregates=[{"hosts": ["hv1"]}]), use_store=False)


def _store_rows(db_url: str) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
        claims, instance_action_events, instance_actions, instances,
    )

    now = datetime.datetime.now(datetime.timezone.utc)
    with store.transaction(db_url) as conn:
        for i, (host, vm_state, group) in enumerate((("hv1", "active", "g1"), ("hv1", "building", None),
                                                     ("hv2", "active", "g1"))):
            uuid = "00000000-0000-4000-8000-00000000000%d" % i
            conn.execute(instances.insert().values(
                uuid=uuid, project_id="p", user_id="u", name="s%d" % i, hostname="s%d" % i, host=host,
                flavor={}, request={}, vm_state=vm_state, metadata={}, tags=[], created_at=now,
                server_group_id=group, launch_index=i))
            conn.execute(claims.insert().values(instance_uuid=uuid, host=host, project_id="p", vcpus=2,
                                                memory_mb=6144, disk_gb=10, created_at=now))
        action = conn.execute(instance_actions.insert().values(
            instance_uuid="x", action="create", request_id="r", start_time=now)).inserted_primary_key[0]
        conn.execute(instance_action_events.insert().values(action_id=action, event="compute_spawn", host="hv2",
                                                            start_time=now, result="Error"))


def test_inventory_usage_from_the_store(db_url: str) -> None:
    _store_rows(db_url)
    variables = inventory(stratus_db_url=db_url,
                          stratus_server_groups=[{"id": "g1", "name": "g", "policy": "anti-affinity",
                                                  "project_id": "p"}])
    out = run({"flavor": SMALL}, variables, explain=True, config={"ram_weight_multiplier": 1.0})
    explain = out[0]["explain"]
    # hv1: 2 claims (12 GiB of 8 used: full); hv2 has one failed build
    assert explain["hv1"] == {"rejected_by": "RamFilter"}
    assert explain["hv2"] == {"rejected_by": None, "weights": {}, "weight": 0.0}   # the only one left: not weighed
    out = run({"flavor": {"vcpus": 1, "memory_mb": 512}}, variables, explain=True,
              config={"enabled_filters": ["ComputeFilter"]}, hosts=["hv1", "hv2"])
    weights = out[0]["explain"]
    assert weights["hv2"]["weights"]["BuildFailureWeigher"] == -1000000.0
    assert weights["hv1"]["weights"]["IoOpsWeigher"] == -1.0          # one build under way
    assert out[0]["host"] == "hv1"
    # a new member of server group g1 (anti-affinity): both hosts already have one
    out = run({"flavor": {"vcpus": 1}, "instance_group": {"id": "g1"}}, variables, explain=True,
              hosts=["hv1", "hv2"], config={"enabled_filters": ["ServerGroupAntiAffinityFilter"]})
    assert out[0]["host"] is None
    assert {n["rejected_by"] for n in out[0]["explain"].values()} == {"ServerGroupAntiAffinityFilter"}


def test_a_server_group_made_through_the_api_is_found_in_the_store(db_url: str) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.resources import server_groups
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

    _store_rows(db_url)
    with store.transaction(db_url) as conn:
        server_groups.add(conn, "g1", "g", "p", "u", "anti-affinity", {}, datetime.datetime.now(datetime.timezone.utc))
    out = run({"flavor": {"vcpus": 1}, "instance_group": {"id": "g1"}}, inventory(stratus_db_url=db_url),
              explain=True, hosts=["hv1", "hv2"], config={"enabled_filters": ["ServerGroupAntiAffinityFilter"]})
    assert out[0]["host"] is None
    assert {n["rejected_by"] for n in out[0]["explain"].values()} == {"ServerGroupAntiAffinityFilter"}


def test_unknown_server_group() -> None:
    with pytest.raises(AnsibleError, match="InstanceGroupNotFound"):
        run({"flavor": SMALL, "instance_group": {"id": "nope"}}, inventory(), use_store=False)


# --- explicit host states ---------------------------------------------------------------------------------

def test_several_request_specs_share_the_hosts() -> None:
    hosts = [{"host": "hv1", "vcpus": 4, "memory_mb": 2048, "local_gb": 40, "ram_allocation_ratio": 1.0}]
    out = LookupModule().run([[{"flavor": SMALL}, {"flavor": SMALL}]], {}, host_states=hosts)
    assert [e["host"] for e in out] == ["hv1", "hv1"]
    with pytest.raises(AnsibleError, match="NoValidHost"):
        LookupModule().run([{"flavor": SMALL}, {"flavor": SMALL, "num_instances": 2}], {}, host_states=hosts)


def test_seed_makes_choices_repeatable() -> None:
    hosts = [{"host": "hv%d" % i, "vcpus": 4, "memory_mb": 4096, "local_gb": 40} for i in range(6)]
    config = {"host_subset_size": 6}
    first = [lookup({"flavor": SMALL}, hosts, config, seed=11)[0]["host"] for _attempt in range(5)]
    assert len(set(first)) == 1
    assert len({lookup({"flavor": SMALL}, hosts, config, seed=s)[0]["host"] for s in range(30)}) > 1


def test_config_from_variables() -> None:
    hosts = [{"host": "hv1", "free_ram_mb": 100}, {"host": "hv2", "free_ram_mb": 200}]
    out = LookupModule().run([{"flavor": {}}], {"stratus_scheduler": {"ram_weight_multiplier": -1.0}},
                             host_states=hosts)
    assert out[0]["host"] == "hv1"


@pytest.mark.parametrize("terms, kwargs, pattern", [
    ([{"flavor": {"vcpus": "two"}}], {"host_states": []}, r"InvalidRequest: request_spec.flavor.vcpus: .*"
                                                          r"\(field: request_spec.flavor.vcpus\)"),
    ([{"flavor": {}, "bogus": 1}], {"host_states": []}, r"field: request_spec.bogus"),
    ([], {"host_states": []}, r"request_spec: a request spec is required"),
    (["not a spec"], {"host_states": []}, r"InvalidRequest: request_spec: must be a mapping"),
    ([{"flavor": {}}], {"host_states": "hv1"}, r"host_states: must be a list"),
    ([{"flavor": {}}], {"host_states": [{"host": "a"}, {"host": "a"}]}, r"host_states\[1\].host: a is listed twice"),
    ([{"flavor": {}}], {"host_states": [{"vcpus": 1}]}, r"field: host_states\[0\].host"),
    ([{"flavor": {}}], {"host_states": [], "hosts": ["a"]}, r"give one of them"),
    ([{"flavor": {}}], {"host_states": [], "colour": "red"}, r"colour: unknown option"),
    ([{"flavor": {}}], {"host_states": [], "explain": "perhaps"}, r"explain: must be a boolean"),
    ([{"flavor": {}}], {"host_states": [], "config": {"host_subset_size": 0}},
     r"InvalidRequest: stratus_scheduler.host_subset_size: must be >= 1, got 0 \(field: stratus_scheduler\)"),
    ([{"flavor": {}}], {"host_states": []}, r"NoValidHost: No valid host was found"),
    ([{"flavor": {}, "availability_zone": "a:b:c:d"}], {"host_states": []}, r"InvalidInput"),
    ([{"flavor": {}, "instance_group": {"rules": {}}}], {"host_states": []}, r"needs a policy"),
])
def test_bad_input_is_an_ansible_error_with_code_and_field(terms: list, kwargs: dict, pattern: str) -> None:
    with pytest.raises(AnsibleError, match=pattern) as err:
        LookupModule().run(terms, {}, **kwargs)
    assert "Traceback" not in str(err.value)


def test_lookup_imports_without_sqlalchemy(tmp_path: Path) -> None:
    """The plugin and the pure scheduler import with no SQLAlchemy (the store is imported only when read)."""
    import subprocess
    import sys

    blocker = tmp_path / "sqlalchemy.py"
    blocker.write_text("raise ImportError('no sqlalchemy here')\n")
    code = ("import sys; sys.path[:0] = [%r, %r]\n"
            "from ansible_collections.stratus.compute.plugins.lookup.scheduler import LookupModule\n"
            "out = LookupModule().run([{'flavor': {}}], {}, host_states=[{'host': 'a'}])\n"
            "assert out[0]['host'] == 'a', out\n") % (str(tmp_path), COLLECTIONS)
    subprocess.run([sys.executable, "-c", code], check=True)


COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), ".ansible", "collections")
