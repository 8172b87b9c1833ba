"""The real `stratus` entry point, through ansible-runner, against a SQLite store and hypervisors never contacted.

Creates run in check mode with the collection's provision.yml, or non-check with a playbook
directory whose provision.yml is play 1 only (the decision, claims and store rows, no build).
"""
from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import pytest

from frontend_helpers import DECIDE_PLAYBOOK, ROOT, VENV_BIN, env, inventory, write_yaml

STRATUS = VENV_BIN / "stratus"
ADMIN = ["--user", "root", "--project", "ops", "--role", "admin"]
WEB = ["--name", "web", "--flavor", "m1.tiny", "--image", "cirros", "--network", "net1"]

pytestmark = pytest.mark.skipif(not STRATUS.exists(), reason="the CLI is not installed (make setup installs it)")


class Stratus:
    def __init__(self, tmp: Path, playbook_dir: t.Optional[Path] = None) -> None:
        self.env = env(STRATUS_INVENTORY=str(write_yaml(tmp / "hosts.yml", inventory())),
                       STRATUS_STATE_DIR=str(tmp / "store"))
        if playbook_dir is not None:
            self.env["STRATUS_PLAYBOOK_DIR"] = str(playbook_dir)
        self.cwd = tmp

    def __call__(self, *args: str, rc: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(STRATUS), "-q", *args], capture_output=True, text=True, env=self.env,
                              cwd=str(self.cwd), timeout=300, check=False)
        assert proc.returncode == rc, "rc %s: %s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr
        return proc

    def json(self, *args: str, rc: int = 0) -> t.Any:
        return json.loads(self(*args, "--output", "json", rc=rc).stdout)


@pytest.fixture()
def decide_only(tmp_path: Path) -> Path:
    """A playbook dir: provision.yml is play 1 only; the read-only playbooks are the collection's."""
    pb = tmp_path / "playbooks"
    pb.mkdir()
    (pb / "provision.yml").write_text(DECIDE_PLAYBOOK)
    for name in ("server_list.yml", "quota_show.yml", "hypervisor_list.yml", "explain.yml"):
        (pb / name).symlink_to(ROOT / "playbooks" / name)
    return pb


def test_create_in_check_mode_writes_nothing(tmp_path: Path) -> None:
    stratus = Stratus(tmp_path)
    out = stratus.json("server", "create", *WEB, "--count", "2", "--check")
    assert out["check"] is True and out["changed"] is True
    assert sorted(s["name"] for s in out["servers"]) == ["web-1", "web-2"]
    assert {s["host"] for s in out["servers"]} <= {"hv1", "hv2"}
    assert stratus.json("server", "list") == {"servers": []}


def test_create_list_show_quota_hypervisors_delete(tmp_path: Path, decide_only: Path) -> None:
    stratus = Stratus(tmp_path, decide_only)
    created = stratus.json("server", "create", *WEB, "--count", "2", "--metadata", "role=web")
    ids = sorted(s["id"] for s in created["servers"])
    assert len(ids) == 2 and created["changed"] and not created["check"]
    again = stratus.json("server", "create", *WEB, "--count", "2", "--metadata", "role=web")
    assert not again["changed"] and sorted(s["id"] for s in again["servers"]) == ids

    listed = stratus.json("server", "list")["servers"]
    assert sorted(s["id"] for s in listed) == ids
    assert all(s["addresses"]["net1"][0]["addr"].startswith("10.77.0.") for s in listed)
    table = stratus("server", "list").stdout
    assert table.splitlines()[0].split() == ["NAME", "ID", "HOST", "STATUS", "TASK", "IP", "FLAVOR"]

    shown = stratus.json("server", "show", "web-1")["server"]
    assert shown["name"] == "web-1" and shown["metadata"] == {"role": "web"}
    assert [a["action"] for a in shown["actions"]] == ["create"]
    assert stratus.json("server", "show", shown["id"])["server"]["name"] == "web-1"

    quota = stratus.json("quota", "show")
    assert quota["project_id"] == "pa"
    assert quota["quota_set"]["instances"] == {"limit": 50, "in_use": 2, "reserved": 0}
    assert quota["quota_set"]["cores"]["in_use"] == 2

    hvs = stratus.json(*ADMIN, "hypervisor", "list")["hypervisors"]
    assert [h["hypervisor_hostname"] for h in hvs] == ["hv1", "hv2"]
    assert sum(h["vcpus_used"] for h in hvs) == 2 and all(h["capacity"]["vcpus"] == 4 for h in hvs)
    bars = stratus(*ADMIN, "hypervisor", "list").stdout
    assert "[" in bars and "/4" in bars
    refused = stratus("hypervisor", "list", rc=1)
    assert "error: PolicyNotAuthorized" in refused.stderr and refused.stdout == ""

    gone = stratus.json("server", "delete", "web-1", "nope")
    assert gone["changed"] and gone["not_found"] == ["nope"]
    assert [s["name"] for s in gone["servers"]] == ["web-1"]
    assert stratus.json("server", "show", "web-1")["server"]["task_state"] == "deleting"


def test_refused_request_exits_1_with_the_code(tmp_path: Path) -> None:
    stratus = Stratus(tmp_path)
    proc = stratus("server", "create", "--name", "x", "--flavor", "m1.nope", "--image", "cirros", "--check", rc=1)
    assert "error: FlavorNotFound: x: Flavor m1.nope could not be found. (field: flavor)" in proc.stderr
    missing = stratus("server", "show", "ghost", rc=1)
    assert "error: InstanceNotFound" in missing.stderr
    assert stratus("server", "list", "--output", "xml", rc=2).stdout == ""


def test_explain_a_request_that_does_not_fit(tmp_path: Path) -> None:
    if "  explain:" not in (ROOT / "plugins" / "modules" / "server.py").read_text():
        pytest.skip("stratus.compute.server has no explain option yet")
    stratus = Stratus(tmp_path)
    proc = stratus("server", "explain", "--name", "big", "--flavor", "m1.big", "--image", "cirros",
                   "--network", "net1", "--count", "5", "--output", "json", rc=1)
    out = json.loads(proc.stdout)
    assert out["scheduled"] is False and out["error"]["code"] == "NoValidHost"
    assert set(out["hosts"]) == {"hv1", "hv2"}
    assert "error: NoValidHost" in proc.stderr
    fits = stratus.json("server", "explain", "--name", "small", "--flavor", "m1.tiny", "--image", "cirros",
                        "--network", "net1")
    assert fits["scheduled"] is True and fits["placements"]


def test_a_request_file_cannot_name_its_caller(tmp_path: Path, decide_only: Path) -> None:
    """`-f` with a context (an admin of another project): refused before anything runs; the flags name the caller."""
    stratus = Stratus(tmp_path, decide_only)
    request = {"name": "x", "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}],
               "availability_zone": "az1:hv1", "context": {"user_id": "root", "project_id": "ops", "roles": ["admin"]}}
    evil = write_yaml(tmp_path / "evil.yml", [request])
    proc = stratus("server", "create", "-f", str(evil), rc=2)
    assert "error: InvalidRequest" in proc.stderr and "stratus_servers[0].context" in proc.stderr
    assert stratus.json(*ADMIN, "server", "list", "--all-projects") == {"servers": []}
    # the flags (the CLI's environment for the run) name the caller, not the inventory's alice
    made = stratus.json("--user", "bob", "--project", "pb", "server", "create", *WEB)
    assert [(s["project_id"], s["user_id"]) for s in made["servers"]] == [("pb", "bob")]
    assert stratus.json("server", "list") == {"servers": []}, "alice (the inventory's caller) sees none of pb's"


def test_the_awx_survey_offers_the_inventorys_flavors(tmp_path: Path) -> None:
    """ansible-inventory reads the catalog the job template's inventory holds (the demo's: bm.small)."""
    stratus = Stratus(tmp_path)
    spec = json.loads(stratus("-i", str(ROOT / "inventory" / "demo.yml"), "awx", "survey").stdout)
    flavor = next(q for q in spec["spec"] if q["variable"] == "stratus_survey_flavor")
    assert flavor["type"] == "multiplechoice" and {"m1.tiny", "bm.small"} <= set(flavor["choices"])
    assert "bm.small" in flavor["question_description"] and "m1.tiny" not in flavor["question_description"]
    (tmp_path / "bare.yml").write_text("all:\n  hosts:\n    localhost: {}\n")
    proc = stratus("-i", str(tmp_path / "bare.yml"), "awx", "survey", rc=1)
    assert "ConfigurationError" in proc.stderr and "no catalog (stratus_flavors)" in proc.stderr


def test_a_disabled_hypervisor_is_left_out_until_enabled(tmp_path: Path) -> None:
    """Nova's os-services disable and enable: the store keeps the host's status and reason; the
    scheduler's ComputeFilter leaves it out meanwhile; admin only; idempotent."""
    stratus = Stratus(tmp_path)
    out = stratus.json(*ADMIN, "hypervisor", "disable", "hv1", "--reason", "firmware update")
    assert out["changed"] and out["service"]["status"] == "disabled"
    assert out["service"]["disabled_reason"] == "firmware update" and out["service"]["updated_by"] == "root"
    assert stratus.json(*ADMIN, "hypervisor", "disable", "hv1", "--reason", "firmware update")["changed"] is False
    hvs = {h["hypervisor_hostname"]: h for h in stratus.json(*ADMIN, "hypervisor", "list")["hypervisors"]}
    assert (hvs["hv1"]["status"], hvs["hv1"]["service"]["disabled_reason"]) == ("disabled", "firmware update")
    assert hvs["hv2"]["status"] == "enabled"
    plan = stratus.json("server", "explain", "--name", "web", "--flavor", "m1.tiny", "--image", "cirros",
                        "--network", "net1")
    assert plan["hosts"]["hv1"]["rejected_by"] == "ComputeFilter" and plan["scheduled"]
    created = stratus.json("server", "create", *WEB, "--count", "3", "--check")
    assert {s["host"] for s in created["servers"]} == {"hv2"}
    member = stratus("hypervisor", "enable", "hv1", rc=1)
    assert "error: PolicyNotAuthorized" in member.stderr
    unknown = stratus(*ADMIN, "hypervisor", "disable", "hv9", rc=1)
    assert "error: ComputeHostNotFound: Compute host hv9 could not be found. (field: host)" in unknown.stderr
    bad = stratus(*ADMIN, "hypervisor", "disable", "hv2", "--reason", "two\nlines", rc=1)
    assert "error: InvalidRequest" in bad.stderr and "(field: reason)" in bad.stderr
    out = stratus.json(*ADMIN, "hypervisor", "enable", "hv1")
    assert out["changed"] and (out["service"]["status"], out["service"]["disabled_reason"]) == ("enabled", None)
    plan = stratus.json("server", "explain", "--name", "web", "--flavor", "m1.tiny", "--image", "cirros",
                        "--network", "net1")
    assert not plan["hosts"]["hv1"].get("rejected_by")
