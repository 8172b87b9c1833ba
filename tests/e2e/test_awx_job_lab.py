"""Real AWX-shaped jobs: the full provision.yml through ansible_runner, against the lab's hypervisors
and a real PostgreSQL, two jobs at once, then a delete job.

Each job's private data dir is laid out as AWX's RunJob writes it: env/extravars (the job's extra
vars), env/envvars (credentials injected as environment: the store URL), env/ssh_key (the machine
credential: ansible-runner hands it to an ssh-agent, it is never a file in the inventory),
inventory/hosts (the inventory, as the JSON AWX renders), project/ (the SCM checkout) and
requirements_collections/ (the collection). The hypervisors get room for one bench server each,
so two parallel jobs that both pick the emptiest host would overcommit it: the store's lock must
send the second one to the other host.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing as t
import uuid
from pathlib import Path

import ansible_runner
import pytest
import sqlalchemy as sa
import yaml

from stratus_lab import pg_server
from stratus_lab.session import LabSession

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
STATE = Path(os.environ.get("STRATUS_E2E_AWX_STATE", "/tmp/stratus-cli-lab/awx"))
PREFIX = os.environ.get("STRATUS_E2E_AWX_PREFIX", "stxc")
SUBNET = os.environ.get("STRATUS_E2E_AWX_SUBNET", "10.240")
BENCH = {"flavor": "m1.bench", "image": "stratus-bench", "networks": [{"name": "demo"}]}

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("ssh-agent") is None, reason="ansible-runner needs ssh-agent for env/ssh_key"),
]


@pytest.fixture(scope="module")
def lab() -> t.Iterator[Path]:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=2):
        yield STATE


@pytest.fixture(scope="module")
def store(pg_url: str) -> str:
    return pg_server.fresh_database(pg_url, "awx_job_lab_%s" % uuid.uuid4().hex[:8])


def job_inventory(lab_state: Path) -> dict[str, t.Any]:
    """The lab's hypervisors (room for one bench server each), localhost, and the demo catalog as vars of all."""
    lab_inv = yaml.safe_load((lab_state / "inventory.yml").read_text())
    hypervisors = lab_inv["all"]["children"]["hypervisors"]
    for hostvars in hypervisors["hosts"].values():
        hostvars.pop("ansible_ssh_private_key_file")  # the machine credential (env/ssh_key) brings the key
        hostvars.update(stratus_vcpus=1, stratus_cpu_allocation_ratio=1.0)
    catalog = yaml.safe_load((ROOT / "inventory" / "group_vars" / "all" / "catalog.yml").read_text())
    catalog["stratus_image_dir"] = str(ROOT / "build" / "images")
    return {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                            "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
                    "children": {"hypervisors": hypervisors}, "vars": catalog}}


def awx_job(base: Path, ident: str, db_url: str, lab_state: Path, servers: list[dict[str, t.Any]]) -> Path:
    pdd = base / ident
    (pdd / "env").mkdir(parents=True)
    (pdd / "env" / "extravars").write_text(json.dumps({"stratus_servers": servers}))
    collections = pdd / "requirements_collections"
    (pdd / "env" / "envvars").write_text(json.dumps({
        # the Stratus credential's env injector: the store and the caller (docs/awx.md)
        "STRATUS_DB_URL": db_url,
        "STRATUS_USER_ID": "demo", "STRATUS_PROJECT_ID": "demo", "STRATUS_ROLES": "member",
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        # in an execution environment ansible-playbook is on the PATH; here it is the repo's .venv
        "PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", "")),
    }))
    (pdd / "env" / "ssh_key").write_text((lab_state / "ssh" / "id_ed25519").read_text())
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text(json.dumps(job_inventory(lab_state)))
    shutil.copytree(ROOT / "playbooks", pdd / "project" / "playbooks", symlinks=True)
    (collections / "ansible_collections" / "stratus").mkdir(parents=True)
    (collections / "ansible_collections" / "stratus" / "compute").symlink_to(ROOT, target_is_directory=True)
    return pdd


def run_jobs(pdds: list[Path]) -> list[t.Any]:
    """ansible_runner.run_async on each private data dir at once, as two AWX job slots would."""
    started = [ansible_runner.run_async(private_data_dir=str(p), playbook="playbooks/provision.yml", ident=p.name,
                                        quiet=True) for p in pdds]
    for thread, _runner in started:
        thread.join(timeout=900)
    return [r for _thread, r in started]


def tail(runner: t.Any) -> str:
    return runner.stdout.read()[-5000:]


def artifacts(runner: t.Any) -> dict[str, t.Any]:
    stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    return stats[-1]["event_data"].get("artifact_data") or {}


def domains(lab_state: Path, k: int) -> list[str]:
    """Running libvirt domains of hypervisor hvK, asked over ssh as the runner reaches it."""
    proc = subprocess.run(
        ["ssh", "-i", str(lab_state / "ssh" / "id_ed25519"), "-F", "/dev/null",
         "-o", "UserKnownHostsFile=%s" % (lab_state / "ssh" / "known_hosts"), "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", "root@%s.%d.2" % (SUBNET, k), "virsh -c qemu:///system list --name"],
        capture_output=True, text=True, timeout=60, check=True)
    return sorted(line for line in proc.stdout.split() if line)


def claims(db_url: str) -> list[tuple[t.Any, ...]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT i.name, c.host, c.vcpus FROM resource_claims c JOIN instances i ON i.uuid = c.instance_uuid "
                "WHERE i.deleted = '' ORDER BY i.name"))]
    finally:
        engine.dispose()


def servers_inventory(tmp: Path, db_url: str, before: t.Sequence[Path] = (), after: t.Sequence[Path] = (),
                      **config: t.Any) -> tuple[str, dict[str, t.Any]]:
    """ansible-inventory --graph and the hostvars of stratus.compute.servers over the job's store, with other
    inventory sources parsed before or after it."""
    source = tmp / "servers.stratus.yml"
    source.write_text(yaml.safe_dump(dict({"plugin": "stratus.compute.servers", "db_url": db_url, "context": {
        "user_id": "demo", "project_id": "demo", "roles": ["member"]}}, **config)))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".ansible" / "collections"))
    sources = [a for path in [*before, source, *after] for a in ("-i", str(path))]
    out = []
    for args in (["--graph"], ["--list"]):
        proc = subprocess.run([str(VENV_BIN / "ansible-inventory"), *sources, *args], capture_output=True,
                              text=True, env=env, cwd=str(tmp), timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out.append(proc.stdout)
    hostvars = json.loads(out[1])["_meta"]["hostvars"]
    unwrapped = {name: {k: v["__ansible_unsafe"] if isinstance(v, dict) and "__ansible_unsafe" in v else v
                        for k, v in hv.items()} for name, hv in hostvars.items()}
    return out[0], unwrapped


def test_parallel_jobs_build_without_overcommit_then_delete(lab: Path, store: str, tmp_path: Path) -> None:
    # job-b's launcher names its server like a hypervisor (the inventory plugin must not let it take hv1 over)
    pdds = [awx_job(tmp_path, "job-%s" % n, store, lab, [dict(BENCH, name=name)])
            for n, name in (("a", "awx-a"), ("b", "hv1"))]
    runners = run_jobs(pdds)
    for runner in runners:
        assert runner.status == "successful", tail(runner)
        assert (Path(runner.config.artifact_dir) / "status").read_text() == "successful"
    # set_stats: each job publishes the servers it created, for the workflow node after it
    created = {runner.config.ident: [(s["name"], s["status"]) for s in artifacts(runner)["stratus_servers_created"]]
               for runner in runners}
    assert created == {"job-a": [("awx-a", "ACTIVE")], "job-b": [("hv1", "ACTIVE")]}
    # one vCPU of room per host: the two servers are on different hosts, each host holds one
    placed = claims(store)
    assert [(name, vcpus) for name, _host, vcpus in placed] == [("awx-a", 1), ("hv1", 1)]
    assert sorted(host for _name, host, _vcpus in placed) == ["hv1", "hv2"]
    on_hosts = {"hv%d" % k: domains(lab, k) for k in (1, 2)}
    assert sorted(len(d) for d in on_hosts.values()) == [1, 1], on_hosts
    uuids = {s["id"] for runner in runners for s in artifacts(runner)["stratus_servers_created"]}
    assert {d.removeprefix("instance-") for ds in on_hosts.values() for d in ds} == uuids

    # the servers inventory plugin (AWX's inventory source) sees them, with ansible_host = their IP
    graph, hosts = servers_inventory(tmp_path, store)
    assert "@hypervisor_hv1:" in graph and "@hypervisor_hv2:" in graph and "@project_demo:" in graph, graph
    assert sorted(hosts) == ["server-awx-a", "server-hv1"]  # the plugin's host_prefix
    assert all(h["ansible_host"].startswith("10.240.0.") for h in hosts.values()), hosts
    # merged with the lab's inventory, in either order, the hypervisor hv1 stays the hypervisor
    lab_hv1 = yaml.safe_load((lab / "inventory.yml").read_text())["all"]["children"]["hypervisors"]["hosts"]["hv1"]
    for order in ({"before": [lab / "inventory.yml"]}, {"after": [lab / "inventory.yml"]},
                  {"before": [lab / "inventory.yml"], "host_prefix": ""}):
        _graph, merged = servers_inventory(tmp_path, store, **order)
        assert merged["hv1"]["ansible_host"] == lab_hv1["ansible_host"], (order, merged["hv1"])
        assert "stratus_id" not in merged["hv1"], order
        server_hv1 = [h for h, v in merged.items() if v.get("stratus_name") == "hv1"]
        assert len(server_hv1) == 1 and merged[server_hv1[0]]["ansible_host"].startswith("10.240.0."), order

    delete = run_jobs([awx_job(tmp_path, "job-delete", store, lab,
                               [{"name": "awx-a", "state": "absent"}, {"name": "hv1", "state": "absent"}])])[0]
    assert delete.status == "successful", tail(delete)
    assert claims(store) == []
    assert domains(lab, 1) == [] and domains(lab, 2) == []
