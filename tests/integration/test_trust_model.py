"""Who is asking, and what a launcher may change (docs/trust-model.md), through the real ansible-playbook.

A project member who may launch provision.yml with extra variables (an AWX prompt on launch, `-e`)
tries to become someone else: a request that names its own caller, an extra stratus_context, an
extra policy, quotas, image file, store URL or Python interpreter, and a context that calls itself
admin. Every attempt is refused with a code, nothing reaches the store, and the hypervisor play never
runs. The caller of an AWX credential or the CLI (the environment) beats the inventory's.
"""
from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

from frontend_helpers import ROOT, VENV_BIN, caller_env, env, inventory, write_yaml

ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}
BOB = {"user_id": "bob", "project_id": "pb", "roles": ["member"]}
TINY = {"flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}]}


def provision(tmp: Path, extravars: dict[str, t.Any], inventory_vars: t.Optional[dict[str, t.Any]] = None,
              caller: t.Optional[t.Mapping[str, t.Any]] = None, check: bool = False) -> tuple[str, str]:
    """The real provision.yml with these extra vars (hypervisors local, libvirt's test driver); (db_url, output)."""
    hosts = inventory({"hv1": {}})
    hosts["all"]["children"]["hypervisors"]["vars"].update(
        ansible_connection="local", ansible_python_interpreter=str(VENV_BIN / "python"),
        stratus_libvirt_uri="test:///default", stratus_base_pool_path=str(tmp / "base"),
        stratus_instance_pool_path=str(tmp / "instances"))
    hosts["all"]["vars"] = dict(hosts["all"]["vars"], **(inventory_vars or {}))
    inv = write_yaml(tmp / "hosts.yml", hosts)
    db_url = "sqlite:///%s" % (tmp / "s.db")
    vars_file = write_yaml(tmp / "extravars.yml", extravars)
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inv), str(ROOT / "playbooks" / "provision.yml"),
         "-e", "@%s" % vars_file] + (["--check"] if check else []),
        capture_output=True, text=True, env=env(STRATUS_DB_URL=db_url, **caller_env(caller)), cwd=str(tmp),
        timeout=300, check=False)
    return db_url, proc.stdout + proc.stderr


def error_of(output: str) -> dict[str, t.Any]:
    """The error of the first failed task result in ansible-playbook's output."""
    for line in output.splitlines():
        if "FAILED! => " in line:
            res = json.loads(line.split("FAILED! => ", 1)[1])
            if "error" in res:
                return res["error"]
        if "failed: [localhost]" in line and "=> " in line:
            return json.loads(line.split("=> ", 1)[1])["error"]
    raise AssertionError("no failed task in:\n" + output[-3000:])


def rows(db_url: str, table: str) -> list[t.Any]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return []
            return list(conn.execute(sa.text("SELECT * FROM %s" % table)))
    finally:
        engine.dispose()


def hypervisor_play_ran(output: str) -> bool:
    return any(line.startswith("hv1 ") for line in output.splitlines())


def test_a_request_cannot_name_its_caller(tmp_path: Path) -> None:
    request = dict(TINY, name="evil", context=ADMIN, availability_zone="nova:hv1")
    db_url, out = provision(tmp_path, {"stratus_servers": [request]})
    error = error_of(out)
    assert error["code"] == "InvalidRequest" and error["field"] == "context", error
    assert "cannot name its caller" in error["message"]
    assert rows(db_url, "instances") == [] and not hypervisor_play_ran(out)
    assert "Traceback" not in out


def test_a_request_key_the_schema_does_not_know_is_refused_not_dropped(tmp_path: Path) -> None:
    db_url, out = provision(tmp_path, {"stratus_servers": [dict(TINY, name="x", is_admin=True)]})
    error = error_of(out)
    assert error["code"] == "InvalidRequest" and error["field"] == "is_admin", error
    assert rows(db_url, "instances") == []


@pytest.mark.parametrize("extra", [
    {"stratus_context": ADMIN},
    {"stratus_policy": {"os_compute_api:servers:create:forced_host": "@"}},
    {"stratus_quotas": {"defaults": {"instances": -1}}},
    {"stratus_images": [{"id": "11111111-2222-4333-8444-555555555555", "name": "cirros", "file": "/etc/shadow"}]},
    {"stratus_db_url": "sqlite:////tmp/elsewhere.db"},
    {"stratus_launch_vars": ["stratus_context"]},
    {"ansible_python_interpreter": "/bin/sh -c 'touch /tmp/pwned' #"},
    {"stratus_run_uuids": ["00000000-0000-0000-0000-000000000000"]},
], ids=lambda e: next(iter(e)))
def test_a_launcher_cannot_override_the_operator(tmp_path: Path, extra: dict[str, t.Any]) -> None:
    name = next(iter(extra))
    db_url, out = provision(tmp_path, dict(extra, stratus_servers=[dict(TINY, name="web")]))
    error = error_of(out)
    assert error["code"] == "Forbidden" and error["field"] == name, error
    assert name in error["message"]
    assert rows(db_url, "instances") == [] and rows(db_url, "instance_actions") == []
    assert not hypervisor_play_ran(out), "the playbook must stop before the hypervisors"
    assert "Traceback" not in out


def test_the_operator_may_allow_an_extra_var(tmp_path: Path) -> None:
    _db_url, refused = provision(tmp_path, {"stratus_servers": [], "stratus_spawn_parallel": 2}, check=True)
    assert error_of(refused)["code"] == "Forbidden"
    _db_url, out = provision(tmp_path, {"stratus_servers": [dict(TINY, name="web")], "stratus_spawn_parallel": 2},
                             inventory_vars={"stratus_launch_vars": ["stratus_spawn_parallel"]}, check=True)
    assert "failed=0" in out and "Forbidden" not in out, out[-3000:]


def test_a_context_cannot_declare_itself_admin(tmp_path: Path) -> None:
    """is_admin in the operator's own stratus_context is refused too: admin is a role, decided by policy."""
    db_url, out = provision(tmp_path, {"stratus_servers": [dict(TINY, name="web")]},
                            inventory_vars={"stratus_context": dict(BOB, is_admin=True)})
    error = error_of(out)
    assert error["code"] == "InvalidCatalog" and error["field"] == "stratus_context.is_admin", error
    assert rows(db_url, "instances") == []


def test_the_environment_names_the_caller_before_the_inventory(tmp_path: Path) -> None:
    """An AWX credential's env injector (or the CLI's flags) beats the inventory's stratus_context (alice)."""
    db_url, out = provision(tmp_path, {"stratus_servers": [dict(TINY, name="web")]}, caller=BOB)
    assert "hv1 " in out, out[-3000:]
    made = rows(db_url, "instances")
    assert [(r.name, r.project_id, r.user_id) for r in made] == [("web", "pb", "bob")]
    # a member may not force a host, whichever file says otherwise
    _db, forced = provision(tmp_path / "f", {"stratus_servers": [dict(TINY, name="f", availability_zone="nova:hv1")]},
                            caller=BOB, check=True)
    assert error_of(forced)["code"] == "PolicyNotAuthorized"
