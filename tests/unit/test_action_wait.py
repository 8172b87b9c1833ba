"""server_action's wait: its own run of the steps (the command line) and how it reads the action's end from the
store (a real SQLite file and PostgreSQL server)."""
from __future__ import annotations

import datetime
import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.actions import action_wait
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions as rules
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

# web is a fixture: pytest finds it here by its name
from test_server_actions import ALICE, caller, web  # noqa: F401 pylint: disable=unused-import

DONE = action_wait.StepsRun(0, "PLAY RECAP ok", False)


def stop(db_url: str, uuid: str) -> datetime.datetime:
    since = lifecycle.now()
    server_actions.request_action(uuid, rules.action_of("stop"), caller(ALICE), db_url, False, "req-stop")
    return since


def test_the_steps_run_on_this_runs_inventories_and_extra_vars_then_the_recorded_actions() -> None:
    argv = action_wait.steps_argv(["inv/lab.yml", "/etc/stratus/demo.yml"], ["@/tmp/launch.json", "a=1"], "/x/r.json")
    assert argv[1:5] == ["-m", "ansible", "playbook", str(action_wait.STEPS_PLAYBOOK)]
    assert action_wait.STEPS_PLAYBOOK.is_file() and action_wait.STEPS_PLAYBOOK.name == "action_steps_for.yml"
    assert argv[5:] == ["-i", "inv/lab.yml", "-i", "/etc/stratus/demo.yml", "-e", "@/tmp/launch.json", "-e", "a=1",
                        "-e", "@/x/r.json"]


def test_an_action_its_steps_ended_gives_the_server(db_url: str, web: str) -> None:  # noqa: F811
    since = stop(db_url, web)
    with store.transaction(db_url, locked=True) as conn:
        row = server_actions.powering_on_host(conn, "hv1")[0]
        server_actions.power_done(conn, row, "hv1", since)
    server = action_wait.ended(db_url, web, since, "stop", DONE, 600)
    assert (server["vm_state"], server["task_state"]) == ("stopped", None)


def test_a_failed_step_is_the_error_with_the_fault(db_url: str, web: str) -> None:  # noqa: F811
    since = stop(db_url, web)
    with store.transaction(db_url, locked=True) as conn:
        row = server_actions.powering_on_host(conn, "hv1")[0]
        fault = {"code": "InstancePowerOffFailure", "message": "Failed to power off instance: gone"}
        server_actions.power_failed(conn, row, "hv1", since, fault)
    with pytest.raises(StratusError) as err:
        action_wait.ended(db_url, web, since, "stop", DONE, 600)
    assert err.value.code == "InstancePowerOffFailure" and "gone" in err.value.message


def test_an_old_fault_is_not_this_actions(db_url: str, web: str) -> None:  # noqa: F811
    before = stop(db_url, web)
    with store.transaction(db_url, locked=True) as conn:
        row = server_actions.powering_on_host(conn, "hv1")[0]
        server_actions.power_failed(conn, row, "hv1", before, {"code": "InstancePowerOffFailure", "message": "x"})
    since = stop(db_url, web)  # the stop asked again after its failure: ends well this time
    with store.transaction(db_url, locked=True) as conn:
        row = server_actions.powering_on_host(conn, "hv1")[0]
        server_actions.power_done(conn, row, "hv1", since)
    assert action_wait.ended(db_url, web, since, "stop", DONE, 600)["vm_state"] == "stopped"


LEFT_UNDER_WAY = [(action_wait.StepsRun(None, "", True), "ActionTimeout"),
                  (action_wait.StepsRun(0, "hv1 : unreachable=1", False), "HypervisorUnavailable")]


@pytest.mark.parametrize("run, code", LEFT_UNDER_WAY)
def test_an_action_left_under_way_says_so_and_how_to_finish_it(db_url: str, web: str, run: t.Any,  # noqa: F811
                                                               code: str) -> None:
    since = stop(db_url, web)
    with pytest.raises(StratusError) as err:
        action_wait.ended(db_url, web, since, "stop", run, 30)
    assert err.value.code == code and "again" in err.value.message and "powering-off" in err.value.message
