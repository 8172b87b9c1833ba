"""stratus.compute.servers through ansible-inventory, against a store that play 1 filled (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
import subprocess
import typing as t
import uuid
from pathlib import Path

import pytest
import yaml

import pg_server
from conftest import BACKENDS
from frontend_helpers import NETWORK_ID, VENV_BIN, decide, env, inventory, write_yaml

ALICE = {"user_id": "alice", "project_id": "pa", "roles": ["member"]}
BOB = {"user_id": "bob", "project_id": "pb", "roles": ["member"]}
ROOT_CTX = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One store per backend for the module, filled once by play 1 (the plugin only reads it)."""
    tmp = tmp_path_factory.mktemp("inventory-%s" % request.param)
    if request.param == "sqlite":
        db_url = "sqlite:///%s" % (tmp / "stratus.db")
    else:
        db_url = pg_server.fresh_database(request.getfixturevalue("pg_url"),
                                          "inventory_plugin_%s" % uuid.uuid4().hex[:8])
    inv = write_yaml(tmp / "hosts.yml", inventory())
    decide(tmp, inv, db_url, [
        {"name": "web", "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}], "min_count": 2,
         "availability_zone": "az1", "metadata": {"role": "web", "note": "{% raw %}{{ 7 * 6 }}{% endraw %}"}, "context": ALICE},
        {"name": "db", "flavor": "m1.big", "image": "cirros", "networks": [{"uuid": NETWORK_ID}],
         "metadata": {"role": "db"}, "context": BOB},
    ])
    return db_url


def ansible_inventory(tmp: Path, db_url: str, config: dict[str, t.Any], *args: str, name: str = "x.stratus.yml"
                      ) -> subprocess.CompletedProcess:
    source = write_yaml(tmp / name, dict({"plugin": "stratus.compute.servers", "db_url": db_url}, **config))
    return subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(source), *args], capture_output=True,
                          text=True, env=env(), cwd=str(tmp), timeout=120, check=False)


def unwrap(value: t.Any) -> t.Any:
    """ansible-inventory --list writes an unsafe string as {"__ansible_unsafe": "..."}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def listing(tmp: Path, db_url: str, config: dict[str, t.Any], raw: bool = False) -> dict[str, t.Any]:
    proc = ansible_inventory(tmp, db_url, config, "--list")
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    return data if raw else unwrap(data)


def members(data: dict[str, t.Any], group: str) -> set[str]:
    return set((data.get(group) or {}).get("hosts") or [])


def test_graph_groups_a_members_servers(store: str, tmp_path: Path) -> None:
    proc = ansible_inventory(tmp_path, store, {"context": ALICE}, "--graph")
    assert proc.returncode == 0, proc.stderr[-3000:]
    graph = proc.stdout
    for group in ("@project_pa:", "@az_az1:", "@flavor_m1_tiny:", "@hypervisor_hv1:"):
        assert group in graph, graph
    assert "web-1" in graph and "web-2" in graph
    assert "db" not in graph and "project_pb" not in graph


def test_hostvars_ansible_host_and_unsafe_values(store: str, tmp_path: Path) -> None:
    config = {"context": ALICE, "compose": {"stratus_note": "stratus_metadata.note"},
              "keyed_groups": [{"key": "stratus_metadata.role", "prefix": "role"}],
              "groups": {"webs": "stratus_name.startswith('web')"}}
    raw = listing(tmp_path, store, config, raw=True)["_meta"]["hostvars"]["web-1"]
    assert raw["stratus_metadata"]["note"] == {"__ansible_unsafe": "{{ 7 * 6 }}"}, "store values are marked unsafe"
    assert raw["stratus_name"] == {"__ansible_unsafe": "web-1"}
    data = listing(tmp_path, store, config)
    hostvars = data["_meta"]["hostvars"]
    assert set(hostvars) == {"web-1", "web-2"}
    web1 = hostvars["web-1"]
    assert web1["ansible_host"] == web1["stratus_addresses"]["net1"][0]["addr"]
    assert web1["ansible_host"].startswith("10.77.0.")
    assert web1["stratus_project_id"] == "pa" and web1["stratus_flavor"] == "m1.tiny"
    assert web1["stratus_hypervisor"] in ("hv1", "hv2") and web1["stratus_vm_state"] == "building"
    # a value from the store is never rendered as a template, not even through compose
    assert web1["stratus_metadata"]["note"] == "{{ 7 * 6 }}"
    assert web1["stratus_note"] == "{{ 7 * 6 }}"
    assert members(data, "role_web") == {"web-1", "web-2"}
    assert members(data, "webs") == {"web-1", "web-2"}
    by_host = {h: members(data, "hypervisor_%s" % h) for h in ("hv1", "hv2")}
    assert set().union(*by_host.values()) == {"web-1", "web-2"}


def test_project_b_member_does_not_see_project_a(store: str, tmp_path: Path) -> None:
    data = listing(tmp_path, store, {"context": BOB})
    assert set(data["_meta"]["hostvars"]) == {"db"}
    assert members(data, "project_pb") == {"db"}
    assert "project_pa" not in data and "web-1" not in json.dumps(data)
    assert members(data, "flavor_m1_big") == {"db"}


def test_admin_sees_every_project_unless_asked_not_to(store: str, tmp_path: Path) -> None:
    data = listing(tmp_path, store, {"context": ROOT_CTX})
    assert set(data["_meta"]["hostvars"]) == {"web-1", "web-2", "db"}
    assert members(data, "project_pa") == {"web-1", "web-2"} and members(data, "project_pb") == {"db"}
    own = listing(tmp_path, store, {"context": ROOT_CTX, "all_projects": False})
    assert own["_meta"]["hostvars"] == {}


def test_context_from_options_and_vm_state_filter(store: str, tmp_path: Path) -> None:
    data = listing(tmp_path, store, {"user_id": "bob", "project_id": "pb", "roles": ["reader"]})
    assert set(data["_meta"]["hostvars"]) == {"db"}
    assert listing(tmp_path, store, {"context": ALICE, "vm_states": ["active"]})["_meta"]["hostvars"] == {}


def test_refuses_a_caller_without_context_and_other_file_names(store: str, tmp_path: Path) -> None:
    proc = ansible_inventory(tmp_path, store, {}, "--list")
    assert "PolicyNotAuthorized" in proc.stderr and "Traceback" not in proc.stderr
    other = ansible_inventory(tmp_path, store, {"context": ALICE}, "--list", name="x.yml")
    # not ours by name: ansible-inventory falls through to other plugins and finds no servers
    assert "web-1" not in other.stdout
    assert yaml.safe_load((tmp_path / "x.yml").read_text())["plugin"] == "stratus.compute.servers"
