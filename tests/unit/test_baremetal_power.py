"""Power actions of bare-metal servers (stop, start, reboot through the node's BMC): the walk of
module_utils/baremetal/power.py on a fake BMC driver (graceful, then forced after the timeout; the
BMC's faults), and conductor/baremetal_power.py on a real store (SQLite and PostgreSQL): the request
recorded as any server's, each server ended as the hypervisor step ends one."""
from __future__ import annotations

import time
import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import power
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    POWER_OFF, POWER_ON, BMCAccess, BMCDriver, BMCInventory,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions as rules
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import read_nodes
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import nodes as node_conductor
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.baremetal_power import NodePower
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_nodes, instances
from test_node_lifecycle import ADMIN as NODE_ADMIN, NETWORKS, hostvars
from test_server_actions import ALICE, ask, caller, log, row, web  # noqa: F401  pylint: disable=unused-import

ACCESS = BMCAccess(node="node1", address="http://10.0.0.5:8000", username="admin", password="Bmc-S3cret-77f")
# The OS's shutdown window and the BMC's: short, so that a forced power off comes quickly.
QUICK = power.PowerWaiting(shutdown_timeout=0.3, power_timeout=0.5, interval=0.01)


class FakeBMC(BMCDriver):
    """A node's BMC: the base class's power_on/power_off/waits over a power state a test drives.

    ``os_shuts_down``: a graceful power off is honoured (after two reads), else ignored (the lab's
    guest has no ACPI handler); ``faults``: the code a request of (target, force) fails with;
    ``silent``: no answer at all; ``stuck``: a power change is accepted and never applied."""

    name = "fake"

    def __init__(self, on: bool = True, os_shuts_down: bool = False, faults: t.Optional[dict] = None,
                 silent: bool = False, stuck: bool = False) -> None:
        super().__init__(ACCESS)
        self.power = POWER_ON if on else POWER_OFF
        self.os_shuts_down, self.faults, self.silent, self.stuck = os_shuts_down, faults or {}, silent, stuck
        self.requests: list[tuple[str, bool]] = []
        self._off_in: t.Optional[int] = None

    def import_library(self) -> t.Any:
        return object()

    def _answer(self, action: str) -> None:
        if self.silent:
            raise self.error("BMCUnreachable", action, "no answer from the BMC", "stratus_bm_address")

    def power_state(self) -> str:
        self._answer("read the power state")
        if self._off_in is not None:
            self._off_in -= 1
            if self._off_in <= 0:
                self.power, self._off_in = POWER_OFF, None
        return self.power

    def set_power(self, target: str, force: bool) -> None:
        self._answer(target)
        self.requests.append((target, force))
        if (target, force) in self.faults:
            raise self.error(self.faults[(target, force)], target, "refused")
        if self.stuck:
            return
        if target == POWER_OFF and not force:
            self._off_in = 2 if self.os_shuts_down else None
        else:
            self.power = target

    def set_boot_device(self, device: str, once: bool = True) -> None:
        raise AssertionError("a power action does not touch the boot device: the deploy set it persistently")

    def insert_media(self, url: str) -> None:
        raise AssertionError("the medium stays inserted")

    def eject_media(self) -> None:
        raise AssertionError("the medium stays inserted")

    def read_inventory(self) -> BMCInventory:
        return BMCInventory(None, None, ())

    def map_error(self, action: str, exc: BaseException) -> t.Optional[StratusError]:
        return None


GRACEFUL, FORCED, ON = (POWER_OFF, False), (POWER_OFF, True), (POWER_ON, False)


def test_stop_is_graceful_when_the_os_shuts_down() -> None:
    bmc = FakeBMC(os_shuts_down=True)
    assert power.run_step("stop", bmc, QUICK) == {"ok": True, "changed": True, "forced": False, "power_state": POWER_OFF}
    assert bmc.requests == [GRACEFUL]


def test_stop_forces_the_node_off_after_the_shutdown_timeout() -> None:
    bmc = FakeBMC(os_shuts_down=False)
    began = time.monotonic()
    assert power.run_step("stop", bmc, QUICK)["forced"] is True
    assert time.monotonic() - began >= QUICK.shutdown_timeout  # it waited the OS's window first
    assert bmc.requests == [GRACEFUL, FORCED] and bmc.power == POWER_OFF


def test_a_timeout_of_0_forces_at_once_and_an_off_node_is_left_alone() -> None:
    bmc = FakeBMC()
    assert power.run_step("stop", bmc, power.PowerWaiting(shutdown_timeout=0, power_timeout=0.5, interval=0.01))[
        "forced"] is True
    assert bmc.requests == [FORCED]
    assert power.run_step("stop", bmc, QUICK) == {"ok": True, "changed": False, "power_state": POWER_OFF}
    assert bmc.requests == [FORCED]


def test_a_bmc_without_graceful_power_off_is_forced() -> None:
    bmc = FakeBMC(faults={GRACEFUL: "BMCUnsupported"})
    assert power.run_step("stop", bmc, QUICK)["forced"] is True
    assert bmc.requests == [GRACEFUL, FORCED]


def test_start_and_the_reboots() -> None:
    bmc = FakeBMC(on=False)
    assert power.run_step("start", bmc, QUICK) == {"ok": True, "changed": True, "power_state": POWER_ON}
    assert power.run_step("start", bmc, QUICK)["changed"] is False and bmc.requests == [ON]
    bmc.requests.clear()
    assert power.run_step("reboot_soft", bmc, QUICK)["hard_fallback"] is True  # the OS ignored it
    assert bmc.requests == [GRACEFUL, FORCED, ON] and bmc.power == POWER_ON
    polite = FakeBMC(os_shuts_down=True)
    assert power.run_step("reboot_soft", polite, QUICK)["hard_fallback"] is False
    assert polite.requests == [GRACEFUL, ON]
    bmc.requests.clear()
    assert power.run_step("reboot_hard", bmc, QUICK) == {"ok": True, "changed": True, "power_state": POWER_ON}
    assert bmc.requests == [FORCED, ON]
    off = FakeBMC(on=False)
    assert power.run_step("reboot_hard", off, QUICK)["ok"] and off.requests == [ON]  # a stopped server too


def test_a_soft_reboot_needs_a_node_that_is_on() -> None:
    outcome = power.run_step("reboot_soft", FakeBMC(on=False), QUICK)
    assert not outcome["ok"] and outcome["error"]["code"] == "InstanceInvalidState"


@pytest.mark.parametrize("step", ["stop", "start", "reboot_soft", "reboot_hard"])
def test_a_bmc_that_does_not_answer_is_bmc_unreachable(step: str) -> None:
    bmc = FakeBMC(silent=True)
    outcome = power.run_step(step, bmc, QUICK)
    assert not outcome["ok"] and outcome["error"]["code"] == "BMCUnreachable"
    assert outcome["error"]["field"] == "hostvars[node1].stratus_bm_address" and bmc.requests == []


def test_a_refused_forced_power_off_and_a_node_that_never_comes_on_are_bmc_errors() -> None:
    outcome = power.run_step("stop", FakeBMC(faults={FORCED: "BMCAuthFailed"}), power.PowerWaiting(0, 0.5, 0.01))
    assert outcome["error"]["code"] == "BMCAuthFailed"
    outcome = power.run_step("start", FakeBMC(on=False, stuck=True), QUICK)
    assert outcome["error"]["code"] == "BMCError" and "was not in power on after" in outcome["error"]["message"]


# ---------------------------------------------------------------- the store's side


def nodes() -> list[t.Any]:
    hv = {"node1": hostvars("node1"), "node3": hostvars("node3", "ipmi")}
    return read_nodes(list(hv), hv, NETWORKS)


@pytest.fixture()
def metal(db_url: str, web: str) -> str:  # noqa: F811  (the fixture of test_server_actions)
    """web made a bare-metal server on node1 (its plan's driver baremetal), the nodes enrolled."""
    node_conductor.sync_nodes(nodes(), caller(NODE_ADMIN), db_url, False, "req-enrol")
    plan = dict(row(db_url, web).plan, driver="baremetal")
    with store.transaction(db_url) as conn:
        conn.execute(instances.update().where(instances.c.uuid == web).values(plan=plan, host="node1"))
    return web


def step(db_url: str, bmc: FakeBMC, waiting: power.PowerWaiting = QUICK) -> NodePower:
    done = NodePower(nodes(), db_url, lambda node: waiting, driver_factory=lambda node: bmc)
    done.run(None)
    return done


def node_power(db_url: str) -> t.Optional[str]:
    with store.transaction(db_url) as conn:
        return conn.execute(sa.select(baremetal_nodes.c.power_state).where(baremetal_nodes.c.name == "node1")).scalar()


def test_stop_start_and_reboot_of_a_bare_metal_server(db_url: str, metal: str) -> None:
    out = ask(db_url, "web", "stop")
    assert out.changed and out.baremetal and out.host == "node1" and out.server["task_state"] == "powering-off"
    bmc = FakeBMC()
    done = step(db_url, bmc)
    assert done.instances[metal]["ok"] and done.instances[metal]["node"] == "node1"
    stopped = row(db_url, metal)
    assert (stopped.vm_state, stopped.task_state, stopped.power_state) == ("stopped", None, "shutdown")
    assert node_power(db_url) == POWER_OFF
    ask(db_url, "web", "start")
    step(db_url, bmc)
    assert (row(db_url, metal).vm_state, row(db_url, metal).power_state) == ("active", "running")
    assert node_power(db_url) == POWER_ON
    ask(db_url, "web", "reboot", "hard")
    step(db_url, bmc)
    assert bmc.requests == [GRACEFUL, FORCED, ON, FORCED, ON]
    assert log(db_url, metal)[1:] == [("stop", [("compute_stop_instance", "Success")]),
                                      ("start", [("compute_start_instance", "Success")]),
                                      ("reboot", [("compute_reboot_instance", "Success")])]
    with store.transaction(db_url) as conn:  # the hypervisor step's details
        details = conn.execute(sa.text("select e.details from instance_actions_events e join instance_actions a "
                                       "on a.id = e.action_id where a.action = 'stop'")).scalar()
    assert details == "forced off after the shutdown timeout"
    assert step(db_url, bmc).instances == {}  # nothing left in a power task_state


def test_a_bmc_that_does_not_answer_fails_the_action_with_its_code(db_url: str, metal: str) -> None:
    ask(db_url, "web", "stop")
    done = step(db_url, FakeBMC(silent=True))
    assert not done.instances[metal]["ok"]
    kept = row(db_url, metal)  # a failed stop keeps the vm_state, with the fault (Nova)
    assert (kept.vm_state, kept.task_state) == ("active", None)
    assert kept.fault["code"] == "BMCUnreachable" and kept.fault["host"] == "node1"
    assert log(db_url, metal)[-1] == ("stop", [("compute_stop_instance", "Error")])
    ask(db_url, "web", "reboot")
    step(db_url, FakeBMC(silent=True))
    assert row(db_url, metal).vm_state == "error"  # a failed reboot leaves it in ERROR, as on a hypervisor


def test_a_hypervisors_server_is_not_the_bare_metal_steps(db_url: str, web: str) -> None:  # noqa: F811
    out = ask(db_url, "web", "stop")
    assert out.host == "hv1" and not out.baremetal
    assert step(db_url, FakeBMC()).instances == {} and row(db_url, web).task_state == "powering-off"


def test_a_bare_metal_servers_other_actions_are_refused(db_url: str, metal: str) -> None:
    with pytest.raises(StratusError) as err:  # refused before its image is looked at
        server_actions.request_action("web", rules.ACTIONS["rebuild"], caller(ALICE), db_url, False, "req-rebuild")
    assert (err.value.code, err.value.field) == ("InvalidRequest", "server") and "bare-metal" in err.value.message
    assert row(db_url, metal).task_state is None and [a for a, _events in log(db_url, metal)] == ["create"]
