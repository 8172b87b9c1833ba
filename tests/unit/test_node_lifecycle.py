"""The bare-metal node lifecycle against a real store (SQLite and PostgreSQL) with a fake BMC driver:
conductor/nodes.py (moves, maintenance, enrolment) and compute_api/node_views.py (list, show, events).
"""
from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import states
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    POWER_OFF, POWER_ON, BMCInventory,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import node_views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import read_nodes
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import nodes as conductor
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_nodes

PASSWORD = "Bmc-S3cret-77f"
NETWORKS = [{"id": "net-bm", "name": "baremetal", "cidr": "10.10.0.0/24"}]
ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}
MEMBER = {"user_id": "alice", "project_id": "p1", "roles": ["member"]}


def hostvars(name: str, driver: str = "redfish", **changes: t.Any) -> dict[str, t.Any]:
    index = int(name[-1])
    node: dict[str, t.Any] = {
        "stratus_bm_driver": driver,
        "stratus_bm_address": "http://10.0.0.5:8000" if driver == "redfish" else "10.0.0.5:%d" % (622 + index),
        "stratus_bm_username": "admin", "stratus_bm_password": PASSWORD,
        "stratus_bm_nics": [{"mac": "52:54:00:b0:%02x:01" % index, "network": "baremetal"}],
        "stratus_bm_resource_class": "baremetal.lab",
        "stratus_bm_properties": {"cpus": 1, "memory_mb": 512, "local_gb": 1, "cpu_arch": "x86_64"},
    }
    if driver == "redfish":
        node["stratus_bm_system_id"] = "/redfish/v1/Systems/sys-%d" % index
    node.update(changes)
    return node


def inventory(**per_node: dict[str, t.Any]) -> list[t.Any]:
    hv = per_node or {"node1": hostvars("node1"), "node3": hostvars("node3", "ipmi")}
    return read_nodes(list(hv), hv, NETWORKS)


class FakeDriver:
    """A BMC: power, inventory and media as a test sets them; every call recorded."""

    def __init__(self, node: str, fault: t.Optional[StratusError] = None, media: bool = True) -> None:
        self.node = node
        self.fault = fault
        self.media = media
        self.power = POWER_ON
        self.found = BMCInventory(cpus=1, memory_mb=512, macs=("52:54:00:b0:%02x:01" % int(node[-1]),))
        self.calls: list[str] = []

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if self.fault is not None:
            raise self.fault

    def verify(self) -> str:
        self._call("verify")
        return self.power

    def read_inventory(self) -> BMCInventory:
        self._call("read_inventory")
        return self.found

    def power_off(self, force: bool = True) -> None:
        self._call("power_off force=%s" % force)
        self.power = POWER_OFF

    def wait_for_power(self, target: str, timeout: float = 120.0) -> None:
        self._call("wait_for_power %s" % target)
        assert self.power == target

    def eject_media(self) -> None:
        self._call("eject_media")
        if not self.media:
            raise StratusError("BMCUnsupported", "node %s: ipmi BMC: eject virtual media: IPMI has no virtual media"
                               % self.node, "hostvars[%s].stratus_bm_driver" % self.node)


class Lab:
    """One store, the inventory's nodes and their fake BMCs."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.nodes = inventory()
        self.drivers: dict[str, FakeDriver] = {n.name: FakeDriver(n.name, media=n.driver == "redfish")
                                               for n in self.nodes}

    def move(self, name: str, verb: str, ctx: t.Optional[dict[str, t.Any]] = None,
             check: bool = False) -> conductor.NodeOutcome:
        return conductor.move_node(self.nodes, name, verb, Caller(ctx or ADMIN, Enforcer()), self.db_url, check,
                                   "req-test", lambda node: self.drivers[node.name])  # type: ignore[arg-type,return-value]

    def maintenance(self, name: str, on: bool, reason: t.Optional[str] = None,
                    check: bool = False) -> conductor.NodeOutcome:
        return conductor.set_maintenance(self.nodes, name, on, reason, Caller(ADMIN, Enforcer()), self.db_url,
                                         check, "req-test")

    def view(self, name: str, events: bool = False) -> dict[str, t.Any]:
        with store.transaction(self.db_url) as conn:
            return node_views.node_views(conn, self.nodes, name, events)[0]

    def state(self, name: str) -> str:
        return self.view(name)["provision_state"]

    def events(self, name: str) -> list[tuple[str, t.Optional[str], t.Optional[str], str]]:
        return [(e["event"], e["from_state"], e["to_state"], e["result"]) for e in self.view(name, True)["events"]]

    def refused(self, code: str, call: t.Callable[[], t.Any]) -> StratusError:
        before = self.snapshot()
        with pytest.raises(StratusError) as err:
            call()
        assert err.value.code == code
        assert self.snapshot() == before, "a refusal changed the store"
        return err.value

    def snapshot(self) -> list[t.Any]:
        with store.transaction(self.db_url) as conn:
            return [tuple(r) for r in conn.execute(sa.select(baremetal_nodes).order_by(baremetal_nodes.c.name))]


@pytest.fixture()
def lab(db_url: str) -> Lab:
    return Lab(db_url)


def walk(lab: Lab, name: str) -> None:
    for verb in ("manage", "inspect", "provide"):
        outcome = lab.move(name, verb)
        assert outcome.changed and outcome.error is None, outcome


@pytest.mark.parametrize("name", ["node1", "node3"])
def test_enroll_manage_inspect_provide_to_available(lab: Lab, name: str) -> None:
    assert lab.state(name) == states.ENROLL and not lab.view(name)["recorded"]
    walk(lab, name)
    view = lab.view(name)
    assert (view["provision_state"], view["power_state"], view["last_error"]) == (states.AVAILABLE, POWER_OFF, None)
    assert view["inspected"]["differences"] == [] and view["inspected"]["cpus"] == 1
    assert lab.events(name) == [
        ("enroll", None, "enroll", "success"),
        ("manage", "enroll", "verifying", "start"), ("manage", "verifying", "manageable", "success"),
        ("inspect", "manageable", "inspecting", "start"), ("inspect", "inspecting", "manageable", "success"),
        ("provide", "manageable", "cleaning", "start"), ("provide", "cleaning", "available", "success")]
    expected_media = "eject_media"
    assert lab.drivers[name].calls == ["verify", "read_inventory", "power_off force=True", "wait_for_power power off",
                                       expected_media]
    events = lab.view(name, True)["events"]
    assert {(e["user_id"], e["project_id"], e["request_id"]) for e in events} == {("root", "ops", "req-test")}
    media = "virtual media ejected" if name == "node1" else "no virtual media (ipmi)"
    assert events[-1]["message"] == "cleaned: powered off, %s" % media


def test_a_rerun_changes_nothing_and_calls_no_bmc(lab: Lab) -> None:
    walk(lab, "node1")
    calls = list(lab.drivers["node1"].calls)
    again = lab.move("node1", "provide")
    assert not again.changed and again.message == "already available"
    assert lab.drivers["node1"].calls == calls


def test_manage_from_available_is_a_plain_move(lab: Lab) -> None:
    walk(lab, "node1")
    calls = list(lab.drivers["node1"].calls)
    outcome = lab.move("node1", "manage")
    assert outcome.changed and (outcome.from_state, outcome.to_state) == ("available", "manageable")
    assert outcome.message == "available -> manageable (no BMC call)"
    assert lab.drivers["node1"].calls == calls
    assert lab.events("node1")[-1] == ("manage", "available", "manageable", "success")


def test_wrong_credentials_leave_the_node_in_enroll_with_last_error(lab: Lab) -> None:
    fault = StratusError("BMCAuthFailed", "node node1: redfish BMC http://10.0.0.5:8000: read the power state: "
                         "the BMC refused the credentials (HTTP 401)", "hostvars[node1].stratus_bm_password")
    lab.drivers["node1"].fault = fault
    outcome = lab.move("node1", "manage")
    assert outcome.changed and outcome.error is fault
    view = lab.view("node1")
    assert view["provision_state"] == states.ENROLL and view["target_provision_state"] is None
    assert view["last_error"] == "BMCAuthFailed: " + fault.message
    assert lab.events("node1")[-1] == ("manage", "verifying", "enroll", "error")
    lab.drivers["node1"].fault = None  # the operator fixes the password: the same verb again
    assert lab.move("node1", "manage").error is None
    assert lab.view("node1")["last_error"] is None and lab.state("node1") == states.MANAGEABLE


@pytest.mark.parametrize("verb, failure", [("inspect", states.INSPECT_FAILED), ("provide", states.CLEAN_FAILED)])
def test_a_bmc_fault_ends_in_the_verbs_failure_state(lab: Lab, verb: str, failure: str) -> None:
    lab.move("node1", "manage")
    if verb == "provide":
        lab.move("node1", "inspect")
    lab.drivers["node1"].fault = StratusError("BMCUnreachable", "node node1: no answer", "hostvars[node1]")
    outcome = lab.move("node1", verb)
    assert outcome.error is not None and lab.state("node1") == failure
    assert lab.view("node1")["last_error"] == "BMCUnreachable: node node1: no answer"


def test_a_bug_in_the_work_is_recorded_not_left_transient(lab: Lab) -> None:
    lab.drivers["node1"].verify = lambda: 1 / 0  # type: ignore[method-assign]
    outcome = lab.move("node1", "manage")
    assert outcome.error is not None and outcome.error.code == "InternalError"
    assert lab.state("node1") == states.ENROLL and "ZeroDivisionError" in lab.view("node1")["last_error"]


def test_a_node_left_in_a_transient_state_is_moved_by_the_same_verb(lab: Lab) -> None:
    lab.move("node1", "manage")
    with store.transaction(lab.db_url) as conn:  # a run killed during the inspection's BMC work
        conn.execute(baremetal_nodes.update().values(provision_state=states.INSPECTING,
                                                     target_provision_state=states.MANAGEABLE))
    lab.refused("InvalidStateRequested", lambda: lab.move("node1", "provide"))
    outcome = lab.move("node1", "inspect")
    assert outcome.changed and outcome.error is None and lab.state("node1") == states.MANAGEABLE
    assert lab.view("node1")["target_provision_state"] is None


def test_a_verb_ironic_does_not_allow_changes_nothing(lab: Lab) -> None:
    lab.move("node1", "manage")
    err = lab.refused("InvalidStateRequested", lambda: lab.move("node3", "provide"))
    assert err.field == "node3" and '"provide"' in err.message and '"enroll"' in err.message
    assert "allowed from: manageable" in err.message
    assert lab.drivers["node3"].calls == []


def test_unknown_node_and_unknown_verb_are_refused(lab: Lab) -> None:
    err = lab.refused("NodeNotFound", lambda: lab.move("node9", "manage"))
    assert (err.message, err.field) == ("Node node9 could not be found.", "name")
    assert lab.refused("InvalidRequest", lambda: lab.move("node1", "deploy")).field == "provision_action"
    lab.refused("NodeNotFound", lambda: lab.maintenance("node9", True, "x"))


def test_policy_admin_by_default(lab: Lab) -> None:
    err = lab.refused("PolicyNotAuthorized", lambda: lab.move("node1", "manage", ctx=MEMBER))
    assert "baremetal:node:set_provision_state" in err.message
    overridden = Caller(MEMBER, Enforcer({"baremetal:node:set_provision_state": "role:member"}))
    assert conductor.move_node(lab.nodes, "node1", "manage", overridden, lab.db_url, False, "req-test",
                               lambda node: lab.drivers[node.name]).changed  # type: ignore[arg-type,return-value]


def test_check_mode_says_what_would_happen_and_changes_nothing(lab: Lab) -> None:
    outcome = lab.move("node1", "manage", check=True)
    assert outcome.changed and outcome.message == "enroll -> verifying -> manageable (or enroll)"
    assert lab.snapshot() == [] and lab.drivers["node1"].calls == []
    walk(lab, "node1")
    assert not lab.move("node1", "provide", check=True).changed


def test_maintenance_on_and_off_with_a_reason(lab: Lab) -> None:
    lab.refused("InvalidRequest", lambda: lab.maintenance("node1", True))
    lab.refused("InvalidRequest", lambda: lab.maintenance("node1", True, "two\nlines"))
    lab.refused("InvalidRequest", lambda: lab.maintenance("node1", False, "why"))
    on = lab.maintenance("node1", True, "replacing a DIMM")
    assert on.changed and on.message == "in maintenance: replacing a DIMM"
    view = lab.view("node1")
    assert (view["maintenance"], view["maintenance_reason"], view["maintenance_set_by"]) == (
        True, "replacing a DIMM", ["store"])
    assert not lab.maintenance("node1", True, "replacing a DIMM").changed
    assert lab.maintenance("node1", True, "a new reason").changed
    walk_to_manageable = [lab.move("node1", "manage"), lab.move("node1", "inspect")]
    assert all(o.error is None for o in walk_to_manageable)  # Ironic verifies and inspects in maintenance
    err = lab.refused("NodeInMaintenance", lambda: lab.move("node1", "provide"))
    assert "a new reason" in err.message
    assert lab.maintenance("node1", False).changed and not lab.maintenance("node1", False).changed
    assert lab.view("node1")["maintenance"] is False
    assert [e for e in lab.events("node1") if e[0].startswith("maintenance")] == [
        ("maintenance on", "enroll", "enroll", "success"), ("maintenance on", "enroll", "enroll", "success"),
        ("maintenance off", "manageable", "manageable", "success")]
    assert lab.move("node1", "provide").changed


def test_off_clears_the_stores_flag_only(db_url: str) -> None:
    lab = Lab(db_url)
    lab.nodes = inventory(node1=hostvars("node1", stratus_bm_maintenance=True,
                                         stratus_bm_maintenance_reason="rack power work"))
    view = lab.view("node1")
    assert (view["maintenance"], view["maintenance_set_by"]) == (True, ["inventory"])
    lab.maintenance("node1", True, "and a DIMM")
    assert lab.view("node1")["maintenance_reason"] == "rack power work; and a DIMM"
    outcome = lab.maintenance("node1", False)
    assert outcome.changed and "the inventory still puts node1 in maintenance" in (outcome.message or "")
    assert lab.view("node1")["maintenance"] is True and lab.view("node1")["maintenance_set_by"] == ["inventory"]


def test_rows_of_nodes_that_left_the_inventory_are_reported_not_deleted(lab: Lab) -> None:
    caller = Caller(ADMIN, Enforcer())
    assert conductor.sync_nodes(lab.nodes, caller, lab.db_url, True, "r") == {"enrolled": [], "departed": []}
    assert conductor.sync_nodes(lab.nodes, caller, lab.db_url, False, "r") == {
        "enrolled": ["node1", "node3"], "departed": []}
    lab.nodes = [n for n in lab.nodes if n.name == "node1"]
    assert conductor.sync_nodes(lab.nodes, caller, lab.db_url, False, "r") == {"enrolled": [], "departed": ["node3"]}
    with store.transaction(lab.db_url) as conn:
        views = node_views.node_views(conn, lab.nodes)
    assert [(v["name"], v["in_inventory"], v["recorded"]) for v in views] == [("node1", True, True),
                                                                              ("node3", False, True)]
    assert "driver" not in views[1]
    lab.refused("NodeNotFound", lambda: lab.move("node3", "manage"))  # the operator's inventory decides


def test_inspection_reports_differences_without_failing(lab: Lab) -> None:
    lab.move("node1", "manage")
    lab.drivers["node1"].found = BMCInventory(cpus=2, memory_mb=512, macs=("52:54:00:b0:01:01", "52:54:00:b0:01:02"))
    outcome = lab.move("node1", "inspect")
    assert outcome.error is None and lab.state("node1") == states.MANAGEABLE
    differences = lab.view("node1")["inspected"]["differences"]
    assert differences == [{"property": "cpus", "inventory": 1, "bmc": 2},
                           {"property": "macs", "inventory": ["52:54:00:b0:01:01"],
                            "bmc": ["52:54:00:b0:01:01", "52:54:00:b0:01:02"]}]
    assert outcome.message == ("inspected: differs from the inventory: cpus 2 (inventory 1), "
                               "macs 52:54:00:b0:01:01,52:54:00:b0:01:02 (inventory 52:54:00:b0:01:01)")


def test_inspection_of_a_bmc_that_reports_little(lab: Lab) -> None:
    lab.move("node3", "manage")
    lab.drivers["node3"].found = BMCInventory(cpus=None, memory_mb=None, macs=())
    outcome = lab.move("node3", "inspect")
    assert outcome.message == "inspected: matches the inventory; the BMC does not report cpus, memory_mb, macs"


def test_no_password_in_views_events_or_store(lab: Lab) -> None:
    lab.drivers["node1"].fault = StratusError("BMCAuthFailed", "node node1: refused", "hostvars[node1]")
    lab.move("node1", "manage")
    lab.maintenance("node3", True, "x")
    with store.transaction(lab.db_url) as conn:
        dump = repr(node_views.node_views(conn, lab.nodes, events=True))
        dump += repr([tuple(r) for r in conn.execute(sa.text("select * from baremetal_nodes"))])
        dump += repr([tuple(r) for r in conn.execute(sa.text("select * from baremetal_node_events"))])
    assert PASSWORD not in dump and "node1" in dump
