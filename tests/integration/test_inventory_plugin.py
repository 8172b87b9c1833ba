"""stratus.compute.servers through ansible-inventory, against a store that play 1 filled (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml

from stratus_lab.store import empty_store_url
from conftest import BACKENDS
from frontend_helpers import NETWORK_ID, VENV_BIN, decide, env, inventory, write_yaml

ALICE = {"user_id": "alice", "project_id": "pa", "roles": ["member"]}
BOB = {"user_id": "bob", "project_id": "pb", "roles": ["member"]}
ROOT_CTX = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One store per backend for the module, filled once by play 1 (the plugin only reads it)."""
    tmp = tmp_path_factory.mktemp("inventory-%s" % request.param)
    db_url = empty_store_url(request.param, tmp, "inventory_plugin", lambda: request.getfixturevalue("pg_url"))
    inv = write_yaml(tmp / "hosts.yml", inventory())
    decide(tmp, inv, db_url, [
        {"name": "web", "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}], "min_count": 2,
         "availability_zone": "az1", "metadata": {"role": "web", "note": "{% raw %}{{ 7 * 6 }}{% endraw %}"}},
    ], caller=ALICE)
    decide(tmp, inv, db_url, [
        {"name": "db", "flavor": "m1.big", "image": "cirros", "networks": [{"uuid": NETWORK_ID}],
         "metadata": {"role": "db"}},
    ], caller=BOB)
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
    # play 1 only: the servers are building (status BUILD)
    for group in ("@project_pa:", "@az_az1:", "@flavor_m1_tiny:", "@hypervisor_hv1:", "@status_build:"):
        assert group in graph, graph
    assert "server-web-1" in graph and "server-web-2" in graph
    assert "server-db" not in graph and "project_pb" not in graph


def test_hostvars_ansible_host_and_unsafe_values(store: str, tmp_path: Path) -> None:
    config = {"context": ALICE, "compose": {"stratus_note": "stratus_metadata.note"},
              "keyed_groups": [{"key": "stratus_metadata.role", "prefix": "role"}],
              "groups": {"webs": "stratus_name.startswith('web')"}}
    raw = listing(tmp_path, store, config, raw=True)["_meta"]["hostvars"]["server-web-1"]
    assert raw["stratus_metadata"]["note"] == {"__ansible_unsafe": "{{ 7 * 6 }}"}, "store values are marked unsafe"
    assert raw["stratus_name"] == {"__ansible_unsafe": "web-1"}
    data = listing(tmp_path, store, config)
    hostvars = data["_meta"]["hostvars"]
    assert set(hostvars) == {"server-web-1", "server-web-2"}
    web1 = hostvars["server-web-1"]
    assert web1["ansible_host"] == web1["stratus_addresses"]["net1"][0]["addr"]
    assert web1["ansible_host"].startswith("10.77.0.")
    assert web1["stratus_project_id"] == "pa" and web1["stratus_flavor"] == "m1.tiny"
    assert web1["stratus_hypervisor"] in ("hv1", "hv2") and web1["stratus_vm_state"] == "building"
    # a value from the store is never rendered as a template, not even through compose
    assert web1["stratus_metadata"]["note"] == "{{ 7 * 6 }}"
    assert web1["stratus_note"] == "{{ 7 * 6 }}"
    assert members(data, "role_web") == {"server-web-1", "server-web-2"}
    assert members(data, "webs") == {"server-web-1", "server-web-2"}
    by_host = {h: members(data, "hypervisor_%s" % h) for h in ("hv1", "hv2")}
    assert set().union(*by_host.values()) == {"server-web-1", "server-web-2"}


def test_project_b_member_does_not_see_project_a(store: str, tmp_path: Path) -> None:
    data = listing(tmp_path, store, {"context": BOB})
    assert set(data["_meta"]["hostvars"]) == {"server-db"}
    assert members(data, "project_pb") == {"server-db"}
    assert "project_pa" not in data and "web-1" not in json.dumps(data)
    assert members(data, "flavor_m1_big") == {"server-db"}


def test_admin_sees_every_project_unless_asked_not_to(store: str, tmp_path: Path) -> None:
    data = listing(tmp_path, store, {"context": ROOT_CTX})
    assert set(data["_meta"]["hostvars"]) == {"server-web-1", "server-web-2", "server-db"}
    assert members(data, "project_pa") == {"server-web-1", "server-web-2"} and members(data, "project_pb") == {"server-db"}
    own = listing(tmp_path, store, {"context": ROOT_CTX, "all_projects": False})
    assert own["_meta"]["hostvars"] == {}


def test_context_from_options_and_vm_state_filter(store: str, tmp_path: Path) -> None:
    data = listing(tmp_path, store, {"user_id": "bob", "project_id": "pb", "roles": ["reader"]})
    assert set(data["_meta"]["hostvars"]) == {"server-db"}
    assert listing(tmp_path, store, {"context": ALICE, "vm_states": ["active"]})["_meta"]["hostvars"] == {}


def test_refuses_a_caller_without_context_and_other_file_names(store: str, tmp_path: Path) -> None:
    proc = ansible_inventory(tmp_path, store, {}, "--list")
    assert "PolicyNotAuthorized" in proc.stderr and "Traceback" not in proc.stderr
    other = ansible_inventory(tmp_path, store, {"context": ALICE}, "--list", name="x.yml")
    # not ours by name: ansible-inventory falls through to other plugins and finds no servers
    assert "web-1" not in other.stdout
    assert yaml.safe_load((tmp_path / "x.yml").read_text())["plugin"] == "stratus.compute.servers"


def test_context_may_not_declare_itself_admin(store: str, tmp_path: Path) -> None:
    proc = ansible_inventory(tmp_path, store, {"context": dict(ALICE, is_admin=True)}, "--list")
    # ansible-inventory reports a source it cannot parse and goes on without it
    assert "InvalidCatalog" in proc.stderr and "is_admin" in proc.stderr
    assert "Traceback" not in proc.stderr and "server-db" not in proc.stdout


def test_environment_names_the_caller_before_the_source(store: str, tmp_path: Path) -> None:
    """An AWX credential's env injector (or the CLI) wins over the source file's context."""
    config = {"plugin": "stratus.compute.servers", "db_url": store, "context": ROOT_CTX}
    source = write_yaml(tmp_path / "x.stratus.yml", config)
    proc = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(source), "--list"], capture_output=True,
                          text=True, env=env(STRATUS_USER_ID="bob", STRATUS_PROJECT_ID="pb", STRATUS_ROLES="reader"),
                          cwd=str(tmp_path), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(unwrap(json.loads(proc.stdout))["_meta"]["hostvars"]) == {"server-db"}


def test_a_server_cannot_take_over_another_sources_host(tmp_path: Path) -> None:
    """Servers named like the hypervisor (hv1) or localhost, merged with the hypervisors' inventory in either
    order: the hypervisor keeps its ansible_host, and no server host merges into it (issue 15, item 4)."""
    db_url = "sqlite:///%s" % (tmp_path / "stratus.db")
    inv = write_yaml(tmp_path / "hosts.yml", inventory())
    decide(tmp_path, inv, db_url, [
        {"name": name, "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}]}
        for name in ("hv1", "localhost", "server-hv2", "web 1")], caller=ALICE)
    static = write_yaml(tmp_path / "static.yml", {"all": {"hosts": {
        "hv1": {"ansible_host": "192.0.2.10", "ansible_user": "root"},
        "server-hv2": {"ansible_host": "192.0.2.11", "ansible_user": "root"}}}})

    def merged(config: dict[str, t.Any], static_first: bool) -> dict[str, t.Any]:
        source = write_yaml(tmp_path / "s.stratus.yml", dict({"plugin": "stratus.compute.servers", "db_url": db_url,
                                                             "context": ALICE}, **config))
        order = [static, source] if static_first else [source, static]
        args = [a for src in order for a in ("-i", str(src))]
        proc = subprocess.run([str(VENV_BIN / "ansible-inventory"), *args, "--list"], capture_output=True,
                              text=True, env=env(), cwd=str(tmp_path), timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return unwrap(json.loads(proc.stdout))["_meta"]["hostvars"]

    for static_first in (True, False):
        hostvars = merged({}, static_first)
        assert hostvars["hv1"] == {"ansible_host": "192.0.2.10", "ansible_user": "root"}
        assert hostvars["server-hv1"]["stratus_name"] == "hv1"
        assert hostvars["server-localhost"]["stratus_name"] == "localhost"
        assert "localhost" not in hostvars
        names = {v.get("stratus_name") for v in hostvars.values()}
        assert names >= {"hv1", "localhost", "server-hv2", "web 1"}
        if static_first:
            # the static source was parsed first: the server named server-hv2 (host server-server-hv2) is
            # fine, and nothing merged into the static server-hv2
            assert hostvars["server-hv2"] == {"ansible_host": "192.0.2.11", "ansible_user": "root"}
        # a name that is not a plain host name is named by uuid
        web = next(h for h, v in hostvars.items() if v.get("stratus_name") == "web 1")
        assert web == "server-" + hostvars[web]["stratus_id"]
    # Without a prefix, a source parsed after the static one cannot take the hypervisor's name either.
    hostvars = merged({"host_prefix": ""}, static_first=True)
    assert hostvars["hv1"] == {"ansible_host": "192.0.2.10", "ansible_user": "root"}
    by_name = {v.get("stratus_name"): h for h, v in hostvars.items() if v.get("stratus_name")}
    assert by_name["hv1"] == hostvars[by_name["hv1"]]["stratus_id"]
    assert by_name["localhost"] == hostvars[by_name["localhost"]]["stratus_id"]
    assert "localhost" not in hostvars
