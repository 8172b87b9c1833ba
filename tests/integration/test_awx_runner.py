"""Jobs laid out as AWX lays them out, run by ansible-runner against a real PostgreSQL, two at a time.

AWX's RunJob writes a private data dir (env/extravars, env/envvars, env/cmdline, inventory/,
project/ = the SCM checkout, requirements_collections/) and calls ansible_runner.run on it. Here
the hypervisors are fake (never contacted): the check-mode jobs run the real provision.yml, the
others run play 1 (decision, claims, store rows) so that what they write can be checked.
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
from frontend_helpers import DECIDE_PLAYBOOK, ROOT, VENV_BIN, inventory, write_yaml

TINY = {"flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}]}


def job(base: Path, ident: str, db_url: str, extravars: dict[str, t.Any], hosts: dict[str, t.Any],
        check: bool, playbook: str = "playbooks/provision.yml", credential: t.Optional[dict[str, str]] = None
        ) -> Path:
    """A private data dir the way AWX writes one for a job (`credential`: the Stratus credential's env)."""
    pdd = base / ident
    write_yaml(pdd / "env" / "extravars", extravars)
    collections = pdd / "requirements_collections"
    write_yaml(pdd / "env" / "envvars", {
        **(credential or {}),
        # AWX injects the store URL through a credential (env), never as an extra var
        "STRATUS_DB_URL": db_url,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        # in an EE, ansible-playbook is on the PATH; here it is the repo's .venv
        "PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", "")),
    })
    if check:
        (pdd / "env" / "cmdline").write_text("--check")
    write_yaml(pdd / "inventory" / "hosts.yml", hosts)
    shutil.copytree(ROOT / "playbooks", pdd / "project" / "playbooks", symlinks=True)
    (pdd / "project" / "playbooks" / "decide.yml").write_text(DECIDE_PLAYBOOK)
    (collections / "ansible_collections" / "stratus").mkdir(parents=True)
    (collections / "ansible_collections" / "stratus" / "compute").symlink_to(ROOT, target_is_directory=True)
    return pdd


def run_parallel(pdds: list[Path], playbook: str) -> list[t.Any]:
    """ansible_runner.run_async on each private data dir at once, as two AWX job slots would."""
    started = [ansible_runner.run_async(private_data_dir=str(p), playbook=playbook, ident=p.name, quiet=True)
               for p in pdds]
    for thread, _runner in started:
        thread.join(timeout=600)
    return [r for _thread, r in started]


def events(runner: t.Any, name: str) -> list[dict[str, t.Any]]:
    return [e for e in runner.events if e.get("event") == name]


def stdout(runner: t.Any) -> str:
    return runner.stdout.read()[-4000:]


@pytest.fixture()
def pg_db(pg_url: str) -> str:
    return pg_server.fresh_database(pg_url, "awx_runner_%s" % uuid.uuid4().hex[:8])


def test_two_check_mode_jobs_in_parallel_both_succeed(pg_db: str, tmp_path: Path) -> None:
    hosts = inventory()
    pdds = [job(tmp_path, "job-%d" % i, pg_db, {"stratus_servers": [dict(TINY, name="web%d" % i, min_count=2)]},
                hosts, check=True) for i in (1, 2)]
    runners = run_parallel(pdds, "playbooks/provision.yml")
    for runner in runners:
        assert runner.status == "successful", stdout(runner)
        decided = [e["event_data"]["res"] for e in events(runner, "runner_item_on_ok")
                   if e["event_data"].get("task_action") == "stratus.compute.server"]
        assert len(decided) == 1 and [s["host"] for s in decided[0]["servers"]] in (["hv1", "hv2"], ["hv2", "hv1"])
        # set_stats reaches the job's artifacts (AWX hands them to the next workflow node)
        stats = events(runner, "playbook_on_stats")[-1]["event_data"]
        assert stats["artifact_data"]["stratus_servers_created"] == []
        assert (Path(runner.config.artifact_dir) / "status").read_text() == "successful"
    engine = sa.create_engine(pg_db)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM instances")).scalar() == 0, "check mode wrote rows"
    finally:
        engine.dispose()


def test_two_deciding_jobs_in_parallel_never_overcommit(pg_db: str, tmp_path: Path) -> None:
    """Play 1 for real, twice at once: 3 + 3 one-vCPU servers for a host that holds 4."""
    hosts = inventory({"hv1": {}}, stratus_vcpus=4, stratus_memory_mb=4096, stratus_local_gb=40)
    pdds = [job(tmp_path, "job-%s" % n, pg_db, {"stratus_servers": [dict(TINY, name=n, min_count=3)]}, hosts,
                check=False) for n in ("a", "b")]
    runners = run_parallel(pdds, "playbooks/decide.yml")
    assert sorted(r.status for r in runners) == ["failed", "successful"], [stdout(r) for r in runners]
    loser = next(r for r in runners if r.status == "failed")
    codes = [e["event_data"]["res"].get("error", {}).get("code") for e in events(loser, "runner_item_on_failed")]
    assert codes == ["NoValidHost"], stdout(loser)
    engine = sa.create_engine(pg_db)
    try:
        with engine.connect() as conn:
            used = conn.execute(sa.text("SELECT host, sum(vcpus), sum(memory_mb), sum(disk_gb), count(*) "
                                        "FROM resource_claims GROUP BY host")).fetchall()
            assert [tuple(u) for u in used] == [("hv1", 3, 768, 3, 3)]
            # the limits: (total - reserved) * ratio, ratios 1.0 here
            assert all(u[1] <= 4 and u[2] <= 4096 and u[3] <= 40 for u in used)
            assert conn.execute(sa.text("SELECT count(*) FROM instances WHERE deleted = ''")).scalar() == 3
            assert conn.execute(sa.text("SELECT count(*) FROM ip_allocations")).scalar() == 3
    finally:
        engine.dispose()


def test_survey_job_makes_the_request(pg_db: str, tmp_path: Path) -> None:
    """provision_survey.yml turns the answers of the survey generated for the job's inventory into a request."""
    hosts = write_yaml(tmp_path / "survey-inventory.yml", inventory())
    spec = json.loads(subprocess.run([str(VENV_BIN / "stratus"), "-i", str(hosts), "awx", "survey"],
                                     capture_output=True, text=True, check=True, timeout=300).stdout) \
        if (VENV_BIN / "stratus").exists() else None
    answers = {"stratus_survey_name": "svc", "stratus_survey_flavor": "m1.tiny", "stratus_survey_image": "cirros",
               "stratus_survey_networks": "net1", "stratus_survey_min_count": 2, "stratus_survey_key_name": "",
               "stratus_survey_tags": "a, b", "stratus_survey_config_drive": "true"}
    if spec is not None:
        questions = {q["variable"]: q for q in spec["spec"]}
        assert set(answers) <= set(questions)
        for variable, answer in answers.items():  # what AWX lets through: an answer among the choices
            assert questions[variable]["type"] != "multiplechoice" or answer in questions[variable]["choices"]
    pdd = job(tmp_path, "survey", pg_db, answers, inventory(), check=True)
    runner = ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/provision_survey.yml", quiet=True)
    assert runner.status == "successful", stdout(runner)
    items = [e["event_data"]["res"] for e in events(runner, "runner_item_on_ok")
             if e["event_data"].get("task_action") == "stratus.compute.server"]
    assert items[0]["item"] == {"name": "svc", "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}],
                                "min_count": 2, "tags": ["a", "b"], "config_drive": "true"}
    assert [s["name"] for s in items[0]["servers"]] == ["svc-1", "svc-2"]


def test_prompt_on_launch_cannot_change_who_asks_or_what_the_operator_set(pg_db: str, tmp_path: Path) -> None:
    """A member's credential (env) and hostile extra vars typed at launch: each job fails with a code before a
    hypervisor is contacted, and the store holds nothing; the credential's caller owns what a fair job makes."""
    member = {"STRATUS_USER_ID": "carol", "STRATUS_PROJECT_ID": "pc", "STRATUS_ROLES": "member"}
    forced = dict(TINY, name="evil", availability_zone="az1:hv1")
    hostile = {
        "context-in-request": {"stratus_servers": [dict(forced, context={"user_id": "root", "project_id": "ops",
                                                                         "roles": ["admin"]})]},
        "context-extra-var": {"stratus_servers": [forced],
                              "stratus_context": {"user_id": "root", "project_id": "ops", "roles": ["admin"]}},
        "store-and-policy": {"stratus_servers": [forced], "stratus_db_url": "sqlite:////tmp/other.db",
                             "stratus_policy": {"os_compute_api:servers:create:forced_host": "@"}},
        "image-file": {"stratus_servers": [dict(TINY, name="img")],
                       "stratus_images": [{"id": "11111111-2222-4333-8444-555555555555", "name": "cirros",
                                           "file": "/etc/shadow"}]},
    }
    expect = {"context-in-request": ("InvalidRequest", "context"), "context-extra-var": ("Forbidden", "stratus_context"),
              "store-and-policy": ("Forbidden", "stratus_db_url"), "image-file": ("Forbidden", "stratus_images")}
    for ident, extravars in hostile.items():
        pdd = job(tmp_path, ident, pg_db, extravars, inventory(), check=False, credential=member)
        runner = ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/provision.yml", quiet=True)
        assert runner.status == "failed", stdout(runner)
        failed = [e["event_data"] for e in events(runner, "runner_item_on_failed") + events(runner, "runner_on_failed")]
        error = failed[0]["res"]["error"]
        assert (error["code"], error["field"]) == expect[ident], (ident, error)
        assert not any(e["event_data"].get("host") in ("hv1", "hv2") for e in runner.events
                       if e.get("event", "").startswith("runner_on")), "%s reached a hypervisor" % ident
    fair = job(tmp_path, "fair", pg_db, {"stratus_servers": [dict(TINY, name="fair")]}, inventory(), check=False,
               credential=member, playbook="playbooks/decide.yml")
    assert ansible_runner.run(private_data_dir=str(fair), playbook="playbooks/decide.yml", quiet=True).status == \
        "successful"
    engine = sa.create_engine(pg_db)
    try:
        with engine.connect() as conn:
            made = [tuple(r) for r in conn.execute(sa.text("SELECT name, project_id, user_id FROM instances"))]
    finally:
        engine.dispose()
    assert made == [("fair", "pc", "carol")]


@pytest.mark.skipif(not (VENV_BIN / "ansible-builder").exists(), reason="ansible-builder is not installed")
def test_execution_environment_definition(tmp_path: Path) -> None:
    """ansible-builder reads meta/execution-environment.yml, as the EE definition and as collection metadata."""
    proc = subprocess.run([str(VENV_BIN / "ansible-builder"), "create", "-f", str(ROOT / "meta" /
                                                                                  "execution-environment.yml"),
                           "-c", str(tmp_path / "ctx")], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = tmp_path / "ctx" / "_build"
    containerfile = next(p for p in (tmp_path / "ctx").iterdir() if p.name in ("Containerfile", "Dockerfile"))
    assert "ansible-core==2.19.14" in containerfile.read_text()
    assert "libvirt-python==12.8.0" in (build / "requirements.txt").read_text()
    assert "libvirt-devel [compile platform:rpm]" in (build / "bindep.txt").read_text()
    assert yaml.safe_load((build / "requirements.yml").read_text())["collections"]
    intro = subprocess.run([str(VENV_BIN / "ansible-builder"), "introspect", "--sanitize",
                            str(ROOT / ".ansible" / "collections")], capture_output=True, text=True, timeout=120,
                           check=False)
    assert intro.returncode == 0, intro.stdout + intro.stderr
    found = yaml.safe_load(intro.stdout.split("---", 1)[1])
    assert any(line.startswith("SQLAlchemy==2.0.44") for line in found["python"])
    assert any(line.startswith("libvirt-devel") for line in found["system"])
