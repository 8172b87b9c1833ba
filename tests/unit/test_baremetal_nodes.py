"""Bare-metal nodes as inventory: schemas/baremetal_node.json and compute_api/baremetal_nodes.py.

Every refusal is InvalidCatalog with the node's variable as its field, and never shows the password.
"""
from __future__ import annotations

import copy
import json
import typing as t
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.drivers import DRIVERS
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import baremetal_nodes, schema

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "baremetal_node.json"
PASSWORD = "Bmc-S3cret-77f"
NETWORKS = [{"id": "net-prov", "name": "provisioning", "cidr": "10.10.0.0/24"},
            {"id": "net-data", "name": "data", "cidr": "10.20.0.0/24"}]


def redfish_node(**changes: t.Any) -> dict[str, t.Any]:
    node: dict[str, t.Any] = {
        "ansible_host": "127.0.0.1",  # other hostvars are ignored
        "stratus_bm_driver": "redfish",
        "stratus_bm_address": "https://10.0.0.5:8443",
        "stratus_bm_username": "admin",
        "stratus_bm_password": PASSWORD,
        "stratus_bm_system_id": "/redfish/v1/Systems/node-1",
        "stratus_bm_nics": [{"mac": "52:54:00:AA:00:01", "network": "provisioning"},
                            {"mac": "52:54:00:aa:00:02", "network": "net-data"}],
        "stratus_bm_resource_class": "baremetal.small",
        "stratus_bm_properties": {"cpus": 8, "memory_mb": 32768, "local_gb": 400, "cpu_arch": "x86_64"},
        "stratus_bm_traits": ["CUSTOM_RAID", "HW_CPU_X86_AVX2"],
        "stratus_bm_availability_zone": "rack-1",
    }
    node.update(changes)
    return {k: v for k, v in node.items() if v is not None}


def ipmi_node(**changes: t.Any) -> dict[str, t.Any]:
    node = redfish_node(stratus_bm_driver="ipmi", stratus_bm_address="10.0.0.6:6230",
                        stratus_bm_nics=[{"mac": "52:54:00:bb:00:01", "network": "provisioning"}])
    del node["stratus_bm_system_id"]
    node.update(changes)
    return {k: v for k, v in node.items() if v is not None}


def refusal(hostvars: dict[str, t.Any]) -> StratusError:
    with pytest.raises(StratusError) as err:
        baremetal_nodes.read_nodes(list(hostvars), hostvars, NETWORKS)
    assert err.value.code == "InvalidCatalog"
    assert PASSWORD not in err.value.message and PASSWORD not in str(err.value)
    return err.value


def test_a_redfish_and_an_ipmi_node_are_read_into_records() -> None:
    nodes = baremetal_nodes.read_nodes(["n1", "n2"], {"n1": redfish_node(), "n2": ipmi_node()}, NETWORKS)
    n1, n2 = nodes
    assert (n1.name, n1.driver, n2.driver) == ("n1", "redfish", "ipmi")
    assert [(nic.mac, nic.network) for nic in n1.nics] == [("52:54:00:aa:00:01", "provisioning"),
                                                           ("52:54:00:aa:00:02", "data")]
    assert n1.placement_resource_class == "CUSTOM_BAREMETAL_SMALL"
    assert (n1.cpus, n1.memory_mb, n1.local_gb, n1.cpu_arch) == (8, 32768, 400, "x86_64")
    assert n1.traits == ("CUSTOM_RAID", "HW_CPU_X86_AVX2") and n1.availability_zone == "rack-1"
    assert n1.bmc.system_id == "/redfish/v1/Systems/node-1" and n1.bmc.verify_tls is True
    assert n2.bmc.system_id is None and n2.maintenance is False
    assert n1.bmc.password == PASSWORD
    assert PASSWORD not in repr(nodes) and PASSWORD not in str(nodes)


def test_nodes_from_task_vars_reads_the_group_and_the_catalog_networks() -> None:
    task_vars = {"groups": {"baremetal_nodes": ["n1"], "hypervisors": ["hv1"]},
                 "hostvars": {"n1": redfish_node(), "hv1": {"stratus_vcpus": 4}}, "stratus_networks": NETWORKS}
    assert [n.name for n in baremetal_nodes.nodes_from_task_vars(task_vars)] == ["n1"]
    assert baremetal_nodes.nodes_from_task_vars({"groups": {}}) == []


def test_maintenance_needs_a_reason() -> None:
    err = refusal({"n1": redfish_node(stratus_bm_maintenance=True)})
    assert err.field == "hostvars[n1].stratus_bm_maintenance_reason"
    node = baremetal_nodes.read_nodes(["n1"], {"n1": redfish_node(
        stratus_bm_maintenance=True, stratus_bm_maintenance_reason="replacing a DIMM")}, NETWORKS)[0]
    assert node.maintenance and node.maintenance_reason == "replacing a DIMM"


@pytest.mark.parametrize("node, field", [
    (redfish_node(stratus_bm_driver="vendorx"), "stratus_bm_driver"),
    (redfish_node(stratus_bm_driver=None), "stratus_bm_driver"),
    # the address: redfish wants an http(s) URL, ipmi host[:port]; nothing else reaches a URL or a session
    (redfish_node(stratus_bm_address="10.0.0.5"), "stratus_bm_address"),
    (redfish_node(stratus_bm_address="ftp://10.0.0.5"), "stratus_bm_address"),
    (redfish_node(stratus_bm_address="https://10.0.0.5/redfish/v1?x=1"), "stratus_bm_address"),
    (redfish_node(stratus_bm_address="https://10.0.0.5\n"), "stratus_bm_address"),
    (redfish_node(stratus_bm_address="https://user:pw@10.0.0.5"), "stratus_bm_address"),
    (redfish_node(stratus_bm_address="https://10.0.0.5:99999"), "stratus_bm_address"),
    (ipmi_node(stratus_bm_address="https://10.0.0.6"), "stratus_bm_address"),
    (ipmi_node(stratus_bm_address="10.0.0.6:6230; reboot"), "stratus_bm_address"),
    (ipmi_node(stratus_bm_address="10.0.0.6:0"), "stratus_bm_address"),
    (redfish_node(stratus_bm_username="ad min"), "stratus_bm_username"),
    (redfish_node(stratus_bm_username="ad:min"), "stratus_bm_username"),
    (redfish_node(stratus_bm_password=None), "stratus_bm_password"),
    (redfish_node(stratus_bm_system_id=None), "stratus_bm_system_id"),
    (redfish_node(stratus_bm_system_id="/redfish/v1/Systems/../Managers"), "stratus_bm_system_id"),
    (redfish_node(stratus_bm_system_id="/redfish/v1/Systems/a b"), "stratus_bm_system_id"),
    (ipmi_node(stratus_bm_system_id="/redfish/v1/Systems/x"), "stratus_bm_system_id"),
    (ipmi_node(stratus_bm_verify_tls=True), "stratus_bm_verify_tls"),
    (redfish_node(stratus_bm_nics=[]), "stratus_bm_nics"),
    (redfish_node(stratus_bm_nics=[{"mac": "52:54:00:aa:00:1", "network": "data"}]), "stratus_bm_nics[0].mac"),
    (redfish_node(stratus_bm_nics=[{"mac": "52:54:00:aa:00:01\n", "network": "data"}]), "stratus_bm_nics[0].mac"),
    (redfish_node(stratus_bm_nics=[{"mac": "52:54:00:aa:00:01"}]), "stratus_bm_nics[0].network"),
    (redfish_node(stratus_bm_nics=[{"mac": "52:54:00:aa:00:01", "network": "data", "vlan": 3}]),
     "stratus_bm_nics[0].vlan"),
    (redfish_node(stratus_bm_resource_class="baremetal small"), "stratus_bm_resource_class"),
    (redfish_node(stratus_bm_resource_class="CUSTOM_BAREMETAL"), "stratus_bm_resource_class"),
    (redfish_node(stratus_bm_properties={"cpus": 0, "memory_mb": 1, "local_gb": 0, "cpu_arch": "x86_64"}),
     "stratus_bm_properties.cpus"),
    (redfish_node(stratus_bm_properties={"cpus": 1, "memory_mb": 1, "local_gb": 0}), "stratus_bm_properties.cpu_arch"),
    (redfish_node(stratus_bm_traits=["custom_raid"]), "stratus_bm_traits[0]"),
    (redfish_node(stratus_bm_availability_zone=" az "), "stratus_bm_availability_zone"),
    (redfish_node(stratus_bm_verify_tls="no"), "stratus_bm_verify_tls"),
    (redfish_node(stratus_bm_adress="https://10.0.0.5"), "stratus_bm_adress"),  # a typo is refused, not ignored
])
def test_a_bad_node_is_refused_with_its_field(node: dict[str, t.Any], field: str) -> None:
    assert refusal({"n1": node}).field == "hostvars[n1].%s" % field


def test_a_mac_on_no_catalog_network_is_refused() -> None:
    nics = [{"mac": "52:54:00:aa:00:01", "network": "provisioning"}, {"mac": "52:54:00:aa:00:09", "network": "storage"}]
    err = refusal({"n1": redfish_node(stratus_bm_nics=nics)})
    assert err.field == "hostvars[n1].stratus_bm_nics[1].network"
    assert "52:54:00:aa:00:09" in err.message and "storage" in err.message


@pytest.mark.parametrize("second_mac", ["52:54:00:aa:00:02", "52:54:00:AA:00:02"])
def test_a_mac_of_two_nodes_is_refused_at_the_second(second_mac: str) -> None:
    err = refusal({"n1": redfish_node(), "n2": ipmi_node(
        stratus_bm_nics=[{"mac": "52:54:00:bb:00:01", "network": "data"}, {"mac": second_mac, "network": "data"}])})
    assert err.field == "hostvars[n2].stratus_bm_nics[1].mac" and "node n1" in err.message


def test_a_mac_twice_on_one_node_is_refused() -> None:
    nics = [{"mac": "52:54:00:aa:00:01", "network": "data"}, {"mac": "52:54:00:aa:00:01", "network": "provisioning"}]
    assert refusal({"n1": redfish_node(stratus_bm_nics=nics)}).field == "hostvars[n1].stratus_bm_nics[1].mac"


@pytest.mark.parametrize("password", [12345678, ["x", PASSWORD], "", "x" * 300])
def test_a_bad_password_is_refused_without_being_shown(password: t.Any) -> None:
    err = refusal({"n1": redfish_node(stratus_bm_password=password)})
    assert err.field == "hostvars[n1].stratus_bm_password"
    assert "12345678" not in err.message and "x" * 20 not in err.message


def test_a_refusal_about_another_variable_does_not_quote_the_password() -> None:
    # jsonschema quotes the whole object when the object itself is wrong; the password is masked there too
    err = refusal({"n1": redfish_node(stratus_bm_system_id=None)})
    assert err.field == "hostvars[n1].stratus_bm_system_id"


def test_the_schema_marks_the_password_secret_and_names_the_registry_drivers() -> None:
    document = json.loads(SCHEMA.read_text())
    assert schema.secret_names("baremetal_node.json") == {"stratus_bm_password"}
    assert sorted(document["properties"]["stratus_bm_driver"]["enum"]) == sorted(DRIVERS)


def test_a_refused_group_changes_nothing() -> None:
    hostvars = {"n1": redfish_node(), "n2": ipmi_node(stratus_bm_driver="vendorx")}
    before = copy.deepcopy(hostvars)
    refusal(hostvars)
    assert hostvars == before
