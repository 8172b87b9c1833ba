"""The steps' hosts of recorded actions (playbooks/tasks/action_hosts.yml) read each server_action result's own
`action`: the action plugin's result names the action it recorded, with or without wait, and the task file
templated by Ansible over such results picks the rebuild step's hosts by it (no loop item needed)."""
from __future__ import annotations

import functools
import types
import typing as t
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.stratus.compute.plugins.action import server_action as plugin
from ansible_collections.stratus.compute.plugins.plugin_utils.actions import action_wait
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import action_requests

ROOT = Path(__file__).resolve().parents[2]
SERVER = {"id": "6b0f2d1e-9a43-4c1b-8f0e-3f2a5c7d9e10", "name": "web-1"}


def action_module(recorded: dict[str, t.Any], monkeypatch: pytest.MonkeyPatch) -> t.Any:
    """The plugin whose request is the shared record_action (conductor/action_requests.py), its store side (tested
    in test_server_actions.py) answering `recorded`."""
    monkeypatch.setattr(action_requests, "_record", lambda args, ctx, request_id: dict(recorded))
    module = object.__new__(plugin.ActionModule)
    module._task = types.SimpleNamespace(check_mode=False, args={})
    module.request = lambda args, task_vars: action_requests.record_action(args, t.cast(t.Any, None), "req-1")
    return module


def args(action: str, wait: bool) -> dict[str, t.Any]:
    return {"server": "web-1", "action": action, "wait": wait, "timeout": 600, "force": False}


@pytest.mark.parametrize("action", ["stop", "rebuild", "evacuate", "resize", "live_migrate"])
def test_the_result_names_the_action_it_recorded(action: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = action_module({"changed": True, "server": SERVER, "hosts": ["hv1"], "server_uuids": [SERVER["id"]]},
                        monkeypatch).read(args(action, wait=False), {})
    assert out["action"] == action and "item" not in out


def test_wait_hands_its_steps_the_result_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    handed: list[list[dict[str, t.Any]]] = []
    monkeypatch.setattr(action_wait, "run_steps", lambda results, sources, timeout: handed.append(results) or
                        action_wait.StepsRun(0, "", False))
    monkeypatch.setattr(action_wait, "ended", lambda *a: dict(SERVER, status="ACTIVE"))
    out = action_module({"changed": True, "server": SERVER, "hosts": ["hv2"], "server_uuids": [SERVER["id"]]},
                        monkeypatch).read(args("rebuild", wait=True), {})
    assert out["server"]["status"] == "ACTIVE"
    (results,) = handed
    assert [(r["action"], r["hosts"]) for r in results] == [("rebuild", ["hv2"])] and "item" not in results[0]


def action_hosts(results: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """action_hosts.yml's facts, templated by Ansible over these server_action results."""
    loader = DataLoader()
    (task,) = loader.load_from_file(str(ROOT / "playbooks" / "tasks" / "action_hosts.yml"))
    templar = Templar(loader=loader, variables={"stratus_action_results": results})
    return {k: templar.template(trust_as_template(v)) for k, v in task["ansible.builtin.set_fact"].items()}


def test_the_rebuild_step_runs_where_a_result_says_rebuild_or_evacuate() -> None:
    results = [
        {"action": "stop", "hosts": ["hv1"], "nodes": [], "server_uuids": ["a"]},
        {"action": "rebuild", "hosts": ["hv2"], "nodes": [], "server_uuids": ["b"]},
        {"action": "evacuate", "hosts": ["hv3"], "nodes": [], "server_uuids": ["c"]},
        {"action": "reboot", "hosts": [], "nodes": ["node1"], "server_uuids": ["d"]},
        {"action": "resize", "hosts": [], "nodes": [], "move_first": ["hv1"], "move_then": ["hv3"],
         "server_uuids": ["e"]},
        {"failed": False, "error": {"code": "InstanceInvalidState", "message": "no", "field": "action"}},  # refused
        {"skipped": True},
    ]
    facts = action_hosts(results)
    assert facts["stratus_rebuild_hosts"] == ["hv2", "hv3"]
    assert facts["stratus_power_hosts"] == ["hv1", "hv2", "hv3"] and facts["stratus_power_nodes"] == ["node1"]
    assert facts["stratus_power_uuids"] == ["a", "b", "c", "d", "e"] and facts["stratus_move_uuids"] == ["e"]
    assert (facts["stratus_move_first_hosts"], facts["stratus_move_then_hosts"]) == (["hv1"], ["hv3"])


def test_a_live_migrations_source_has_no_power_step() -> None:
    """Its `hosts` (the source) is the live-migration plays' work; the power play (and its worker) is skipped."""
    results = [{"action": "live_migrate", "hosts": ["hv1"], "nodes": [], "live_destinations": ["hv2"],
                "server_uuids": ["a"]},
               {"action": "stop", "hosts": ["hv3"], "nodes": [], "server_uuids": ["b"]}]
    facts = action_hosts(results)
    assert facts["stratus_power_hosts"] == ["hv3"] and facts["stratus_power_uuids"] == ["a", "b"]
    assert (facts["stratus_live_dest_hosts"], facts["stratus_live_source_hosts"]) == (["hv2"], ["hv1"])


@functools.lru_cache(maxsize=1)
def action_steps() -> tuple[DataLoader, list[dict[str, t.Any]]]:
    """action_steps.yml's plays, parsed once for the tests below."""
    loader = DataLoader()
    return loader, loader.load_from_file(str(ROOT / "playbooks" / "action_steps.yml"))


def play_hosts(name: str, hostvars: dict[str, t.Any], groups: dict[str, list[str]]) -> list[str]:
    """The hosts of action_steps.yml's play `name`, templated by Ansible as the play starts (its vars too)."""
    loader, plays = action_steps()
    (play,) = [p for p in plays if p["name"] == name]
    variables: dict[str, t.Any] = {"hostvars": hostvars, "groups": groups}
    variables.update({k: trust_as_template(v) for k, v in (play.get("vars") or {}).items()})
    # sorted: Ansible's intersect filter keeps no order, and a play runs its hosts in the inventory's order anyway
    return sorted(Templar(loader=loader, variables=variables).template(trust_as_template(play["hosts"])))


LIVE_RUN = {"stratus_live_dest_hosts": ["hv2", "hv3"], "stratus_live_source_hosts": ["hv1", "hv4"]}
HYPERVISORS = {"hypervisors": ["hv1", "hv2", "hv3", "hv4"]}


@pytest.mark.parametrize("reports, cleaned", [
    ({"hv1": [], "hv4": []}, []),                        # no leftovers anywhere: no worker for the clean-up
    ({"hv1": ["hv3", "hv9"], "hv4": []}, ["hv3"]),       # a rollback left hv3's half: only hv3 (hv9 not of the run)
    ({"hv1": []}, ["hv2", "hv3"]),                       # hv4 said nothing (unreachable, failed): every destination
    ({"hv1": [], "hv4": None}, ["hv2", "hv3"]),
])
def test_the_clean_up_play_runs_on_the_destinations_with_leftovers(reports: dict[str, t.Any],
                                                                   cleaned: list[str]) -> None:
    hostvars: dict[str, t.Any] = {"localhost": LIVE_RUN, "hv1": {}, "hv2": {}, "hv3": {}, "hv4": {}}
    for host, left in reports.items():
        hostvars[host] = {"stratus_live_migrated": {"changed": True} if left is None else {"leftover_hosts": left}}
    assert play_hosts("Clean the destinations of failed live migrations", hostvars, HYPERVISORS) == cleaned


def test_the_rebuild_play_runs_only_on_the_hosts_that_rebuild() -> None:
    """Its own play, after every host's power step: a run without a rebuild forks no worker for it."""
    hostvars = {"localhost": {"stratus_power_hosts": ["hv1", "hv2"], "stratus_rebuild_hosts": ["hv2", "hv9"]}}
    assert play_hosts("Rebuild servers on their hypervisors", hostvars, HYPERVISORS) == ["hv2"]
    assert play_hosts("Stop, start or reboot servers on their hypervisors", hostvars, HYPERVISORS) == ["hv1", "hv2"]
    assert play_hosts("Rebuild servers on their hypervisors", {"localhost": {}}, HYPERVISORS) == []


def test_the_bare_metal_play_runs_only_with_bare_metal_work() -> None:
    name = "Stop, start or reboot bare-metal servers through their nodes' BMCs"
    with_nodes = {"localhost": {"stratus_power_nodes": ["node1"]}}
    assert play_hosts(name, with_nodes, dict(HYPERVISORS, baremetal_nodes=["node1"])) == ["localhost"]
    assert play_hosts(name, with_nodes, HYPERVISORS) == []
    assert play_hosts(name, {"localhost": {"stratus_power_nodes": []}}, dict(HYPERVISORS, baremetal_nodes=["n"])) == []


def test_no_playbook_makes_up_an_action_for_the_steps() -> None:
    """The declarative rebuild loop hands its items as they are: the module's result names the rebuild."""
    for path in ("playbooks/provision.yml", "playbooks/tasks/action_hosts.yml"):
        text = (ROOT / path).read_text()
        assert "item.action" not in text and "'combine'" not in text, path
