"""The steps' hosts of recorded actions (playbooks/tasks/action_hosts.yml) read each server_action result's own
`action`: the action plugin's result names the action it recorded, with or without wait, and the task file
templated by Ansible over such results picks the rebuild step's hosts by it (no loop item needed)."""
from __future__ import annotations

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


def test_no_playbook_makes_up_an_action_for_the_steps() -> None:
    """The declarative rebuild loop hands its items as they are: the module's result names the rebuild."""
    for path in ("playbooks/provision.yml", "playbooks/tasks/action_hosts.yml"):
        text = (ROOT / path).read_text()
        assert "item.action" not in text and "'combine'" not in text, path
