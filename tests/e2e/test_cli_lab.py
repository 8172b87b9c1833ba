"""The `stratus` command as a new user drives it, against a real lab: lab up, create (flags and a
YAML file), list, show, explain, delete, lab down; JSON read by jq; exit codes 0, 1 and 2.

Runs the installed entry point (.venv/bin/stratus, which setup/bootstrap.sh installs editable)
from a directory outside the checkout, with no ANSIBLE_CONFIG, as a user's shell would. The
checkout's cli/ is put first on PYTHONPATH so that a worktree sharing another checkout's .venv
tests its own code. Two bench servers (16 MiB guests) on two hypervisors keep it short.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing as t
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRATUS = ROOT / ".venv" / "bin" / "stratus"
# Short and fixed: ssh control sockets live under it (unix socket paths are limited to ~100 bytes).
STATE = Path(os.environ.get("STRATUS_E2E_CLI_STATE", "/tmp/stratus-cli-lab/e2e"))
PREFIX = os.environ.get("STRATUS_E2E_CLI_PREFIX", "stxc")
SUBNET = os.environ.get("STRATUS_E2E_CLI_SUBNET", "10.240")
BENCH = ["--flavor", "m1.bench", "--image", "stratus-bench", "--network", "demo"]

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(not STRATUS.exists(), reason="the CLI is not installed (make setup installs it)"),
    pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (setup/apt-packages.txt)"),
]


def user_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "STRATUS_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "cli"), os.environ.get("PYTHONPATH", "")) if p)
    env["STRATUS_LAB_DIR"] = str(STATE)  # the lab and its store (<lab dir>/store), for every command
    return env


def stratus(*args: str, rc: int = 0, cwd: t.Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(STRATUS), *args], capture_output=True, text=True, env=user_env(),
                          cwd=str(cwd or STATE.parent), timeout=900, check=False)
    assert proc.returncode == rc, "stratus %s: rc %s\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(args), proc.returncode, proc.stdout[-3000:], proc.stderr[-4000:])
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def jq(program: str, document: str) -> str:
    proc = subprocess.run(["jq", "-r", program], input=document, capture_output=True, text=True, timeout=30,
                          check=False)
    assert proc.returncode == 0, "jq %s: %s\n%s" % (program, proc.stderr, document[-2000:])
    return proc.stdout.strip()


def namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True, timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX + "-")]


@pytest.fixture(scope="module")
def lab() -> t.Iterator[dict[str, t.Any]]:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(STRATUS), "lab", "down"], env=user_env(), capture_output=True, timeout=300, check=False)
    up = stratus("lab", "up", "--hypervisors", "2", "--prefix", PREFIX, "--subnet-base", SUBNET, "-o", "json")
    try:
        yield json.loads(up.stdout)
    finally:
        subprocess.run([str(STRATUS), "lab", "down"], env=user_env(), capture_output=True, timeout=300,
                       check=False)


def test_entry_point_and_package(tmp_path: Path) -> None:
    assert stratus("--version").stdout.strip().startswith("stratus ")
    assert "Examples:" in stratus("--help").stdout
    assert "stratus server create -f servers.yml" in stratus("server", "create", "--help").stdout
    # `pip install ./cli` builds a wheel whose console script is the same entry point
    subprocess.run([str(ROOT / ".venv" / "bin" / "pip"), "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT / "cli")], check=True, capture_output=True, timeout=300)
    wheel, = tmp_path.glob("stratus_cli-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        entry_points = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("entry_points.txt"))
    assert "stratus = stratus_cli.app:main" in entry_points


def test_usage_errors_exit_2() -> None:
    missing = stratus("server", "create", "--flavor", "m1.bench", rc=2)
    assert "error: InvalidInput: give --name" in missing.stderr and "(field: --name)" in missing.stderr
    bad_output = stratus("server", "list", "--output", "xml", rc=2)
    assert bad_output.stdout == "" and "(field: --output)" in bad_output.stderr
    assert "error: InvalidInput: No such command 'nosuch'." in stratus("server", "nosuch", rc=2).stderr
    assert "(field: --bogus)" in stratus("server", "create", "--bogus", rc=2).stderr
    assert "KEY=VALUE" in stratus("server", "create", "--name", "x", *BENCH, "--metadata", "novalue", rc=2).stderr


def test_lab_up_writes_the_inventory(lab: dict[str, t.Any]) -> None:
    assert lab["up"] is True
    assert [(h["name"], h["address"]) for h in lab["hypervisors"]] == [
        ("hv1", "%s.1.2" % SUBNET), ("hv2", "%s.2.2" % SUBNET)]
    assert sorted(namespaces()) == ["%s-hv1" % PREFIX, "%s-hv2" % PREFIX]
    assert (STATE / "inventory.yml").is_file()
    assert json.loads(stratus("lab", "status", "-o", "json").stdout)["up"] is True


def test_create_from_flags_shows_progress_and_prints_json(lab: dict[str, t.Any]) -> None:
    proc = stratus("server", "create", "--name", "web", *BENCH, "--output", "json")
    assert jq('.servers[] | [.name, .status] | @tsv', proc.stdout) == "web\tACTIVE"
    # progress from runner events, per play, task and host, on stderr (stdout is the JSON alone)
    progress = proc.stderr.splitlines()
    assert "== Decide what to build (checks, policy, quota, schedule, claims, IPs)" in progress
    assert "-- Spawn step (define, start, wait until running)" in progress
    host = jq(".servers[0].host", proc.stdout)
    assert any(line.split()[:2] == [host, "changed"] for line in progress), proc.stderr[-3000:]


def test_create_from_a_yaml_file(lab: dict[str, t.Any], tmp_path: Path) -> None:
    request = tmp_path / "db.yml"
    request.write_text("name: db\nflavor: m1.bench\nimage: stratus-bench\nnetworks: [{name: demo}]\n"
                       "metadata: {role: db}\n")
    table = stratus("server", "create", "-f", str(request), cwd=tmp_path).stdout
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "ID", "HOST", "STATUS", "TASK", "IP", "FLAVOR"]
    assert row.split()[0] == "db" and row.split()[3] == "ACTIVE"
    # the same file again changes nothing
    assert jq(".changed", stratus("-q", "server", "create", "-f", str(request), "-o", "json").stdout) == "false"


def test_list_and_show(lab: dict[str, t.Any]) -> None:
    listed = stratus("-q", "server", "list", "-o", "json").stdout
    rows = jq('.servers[] | [.name, .status, .addresses.demo[0].addr] | @tsv', listed).splitlines()
    assert sorted(r.split("\t")[:2] for r in rows) == [["db", "ACTIVE"], ["web", "ACTIVE"]]
    assert all(r.split("\t")[2].startswith("10.240.0.") for r in rows)
    # the RAM weigher spreads two servers over the two hypervisors
    assert sorted(jq(".servers[].host", listed).split()) == ["hv1", "hv2"]
    shown = stratus("-q", "server", "show", "db", "-o", "json").stdout
    assert jq(".server.metadata.role", shown) == "db"
    assert jq("[.server.actions[].action] | join(\",\")", shown) == "create"
    assert "db" in stratus("-q", "server", "show", "db").stdout


def test_explain_names_the_filter_that_rejected_each_host(lab: dict[str, t.Any]) -> None:
    args = ("server", "explain", "--name", "big", "--flavor", "m1.xlarge", "--image", "stratus-bench",
            "--network", "demo", "--availability-zone", "az2")
    proc = stratus("-q", *args, rc=1)
    verdicts = {line.split()[0]: line for line in proc.stdout.splitlines()[1:3]}
    assert "rejected by AvailabilityZoneFilter" in verdicts["hv1"]  # hv1 is in az1
    assert "rejected by RamFilter" in verdicts["hv2"]  # 16384 MiB > 8192 MiB x 1.5
    assert "big would not be scheduled: NoValidHost" in proc.stdout
    assert "error: NoValidHost" in proc.stderr
    as_json = stratus("-q", *args, "-o", "json", rc=1).stdout
    assert jq('.hosts | to_entries | map("\\(.key)=\\(.value.rejected_by)") | join(" ")', as_json) == \
        "hv1=AvailabilityZoneFilter hv2=RamFilter"
    assert jq(".scheduled", as_json) == "false"


def test_refused_requests_exit_1_with_the_code(lab: dict[str, t.Any]) -> None:
    novalid = stratus("-q", "server", "create", "--name", "big", "--flavor", "m1.xlarge", "--image",
                      "stratus-bench", "--network", "demo", rc=1)
    assert "error: NoValidHost: big: No valid host was found." in novalid.stderr
    quota = stratus("-q", "server", "create", "--name", "many", *BENCH, "--count", "20", rc=1)
    assert "error: QuotaExceeded: many: Quota exceeded for" in quota.stderr
    assert "(field: max_count)" in quota.stderr
    missing = stratus("-q", "server", "show", "ghost", rc=1)
    assert "error: InstanceNotFound: Instance ghost could not be found. (field: name)" in missing.stderr
    # nothing was written by the refusals
    assert sorted(jq(".servers[].name", stratus("-q", "server", "list", "-o", "json").stdout).split()) == \
        ["db", "web"]


def test_delete(lab: dict[str, t.Any]) -> None:
    gone = stratus("-q", "server", "delete", "web", "db", "nope", "-o", "json").stdout
    assert jq('[.servers[] | "\\(.name)=\\(.status)"] | sort | join(" ")', gone) == "db=DELETED web=DELETED"
    assert jq(".not_found[]", gone) == "nope"
    assert jq(".servers | length", stratus("-q", "server", "list", "-o", "json").stdout) == "0"
    quota = stratus("-q", "quota", "show", "-o", "json").stdout
    assert jq(".quota_set.instances.in_use", quota) == "0"


def test_lab_down_leaves_no_namespace(lab: dict[str, t.Any]) -> None:
    down = stratus("lab", "down", "-o", "json")
    assert json.loads(down.stdout)["up"] is False
    assert namespaces() == []
    assert not (STATE / "inventory.yml").exists()
    assert stratus("lab", "status", rc=1).stdout.strip().endswith("lab not up in %s" % STATE)
