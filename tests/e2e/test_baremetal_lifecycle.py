"""End-to-end: the bare-metal node lifecycle against the lab's real BMCs (sushy-tools' Redfish emulator and
virtualbmc in the lab's BMC namespace), driven as an operator does: `stratus baremetal node ...` and
`ansible-playbook playbooks/baremetal_node.yml`, with the lab's inventory (its baremetal_nodes group: node1
Redfish, node2 IPMI) and the demo catalog.

A Redfish node and the IPMI node walk enroll -> manage -> inspect -> provide -> available; a wrong BMC
password is BMCAuthFailed with the node left in enroll and last_error set; a verb the state does not allow
is InvalidStateRequested with nothing changed; maintenance on and off with a reason; a rerun is changed=0;
the BMC password is in no output, log, inventory or store.

Its own prefix, subnet and state dir (no other test uses stxl / 10.247); one lab bring-up. Needs root.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest
import sushy
import yaml

from stratus_lab.paths import ANSIBLE_CONFIG, COLLECTIONS, DEMO_INVENTORY, ROOT
from stratus_lab.session import lab_command
from wait_helpers import wait_until  # tests/wait_helpers.py

# Short and fixed: ssh control sockets live under it.
STATE = Path("/tmp/stratus-bm-life")
PREFIX = "stxl"
SUBNET = "10.247"
STRATUS = ROOT / ".venv" / "bin" / "stratus"
PLAYBOOK = ROOT / "playbooks" / "baremetal_node.yml"
ADMIN = ["--user", "root", "--project", "ops", "--role", "admin"]
# The first Redfish GET of a System can take ~60 s on 2 cores (libvirtd probing QEMU); far above it.
FIRST_ANSWER_S = 240.0

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
    pytest.mark.skipif(not STRATUS.exists(), reason="the CLI is not installed (make setup installs it)"),
]


class Operator:
    """The operator's shell: every command's output kept, to look for the password in it at the end."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.log = STATE / "ansible.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "STRATUS_"))}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "cli"), os.environ.get("PYTHONPATH", "")) if p)
        env["STRATUS_LAB_DIR"] = str(STATE)  # the lab's inventory and its store (<lab dir>/store)
        return env

    def run(self, argv: list[str], env: t.Mapping[str, str], rc: int) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, capture_output=True, text=True, env=dict(env), cwd=str(STATE), timeout=900,
                              check=False)
        self.shown += [proc.stdout, proc.stderr]
        assert proc.returncode == rc, "%s: rc %s\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv[-6:]), proc.returncode, proc.stdout[-3000:], proc.stderr[-4000:])
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    def stratus(self, *args: str, rc: int = 0) -> dict[str, t.Any]:
        """`stratus <global options> ARGS -o json` as admin; its JSON document ({} when it printed none)."""
        proc = self.run([str(STRATUS), *ADMIN, *args, "-o", "json"], self.env(), rc)
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    def playbook(self, *extra: str, rc: int = 0) -> str:
        """baremetal_node.yml by ansible-playbook, the lab's and the demo's inventories, an ansible log."""
        env = dict(self.env(), ANSIBLE_CONFIG=str(ANSIBLE_CONFIG), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
                   ANSIBLE_LOG_PATH=str(self.log),
                   ANSIBLE_NOCOLOR="1", STRATUS_STATE_DIR=str(STATE / "store"), STRATUS_USER_ID="root",
                   STRATUS_PROJECT_ID="ops", STRATUS_ROLES="admin")
        argv = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-v", "-i", str(STATE / "inventory.yml"),
                "-i", str(DEMO_INVENTORY), str(PLAYBOOK), *extra]
        return self.run(argv, env, rc).stdout


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(lab_command(*args, state=STATE), capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, "stratus_lab %s failed:\n%s\n%s" % (" ".join(args), proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def operator() -> t.Iterator[Operator]:
    if (STATE / "lab.json").exists():
        lab("down")  # leftovers of an interrupted earlier run
    lab("up", "--hypervisors", "1", "--baremetal", "2", "--prefix", PREFIX, "--subnet-base", SUBNET)
    try:
        wait_for_the_redfish_emulator()
        yield Operator()
    finally:
        subprocess.run(lab_command("down", state=STATE), capture_output=True, timeout=900, check=False)


def lab_nodes() -> list[dict[str, t.Any]]:
    return json.loads((STATE / "lab.json").read_text())["nodes"]


def password() -> str:
    return Path(lab_nodes()[0]["password_file"]).read_text().strip()


def wait_for_the_redfish_emulator() -> None:
    """The emulator's first answer is the slow one (libvirtd probing QEMU): wait for it once, so that the
    BMC calls under test answer within their own timeout."""
    record = lab_nodes()[0]
    auth = sushy.auth.BasicAuth(username=record["username"], password=password())

    def answer() -> bool:
        try:
            sushy.Sushy(f"{record['redfish_address']}/redfish/v1", auth=auth).get_system(record["redfish_path"])
            return True
        except sushy.exceptions.ConnectionError:
            return False
    wait_until(answer, "the Redfish emulator to answer", timeout=FIRST_ANSWER_S, interval=1)


def events(node: dict[str, t.Any]) -> list[tuple[str, str, str]]:
    return [(e["event"], e["to_state"], e["result"]) for e in node["events"]]


def show(op: Operator, name: str) -> dict[str, t.Any]:
    return op.stratus("baremetal", "node", "show", name)["node"]


def test_the_lab_inventory_has_two_redfish_ways_and_one_ipmi(operator: Operator) -> None:
    inventory = yaml.safe_load((STATE / "inventory.yml").read_text())
    nodes = inventory["all"]["children"]["baremetal_nodes"]["hosts"]
    assert {name: v["stratus_bm_driver"] for name, v in nodes.items()} == {"node1": "redfish", "node2": "ipmi"}
    assert nodes["node2"]["stratus_bm_address"] == f"{SUBNET}.250.2:624"
    assert "lookup('ansible.builtin.file'" in nodes["node1"]["stratus_bm_password"]
    listed = operator.stratus("baremetal", "node", "list")["nodes"]
    assert [(n["name"], n["driver"], n["provision_state"], n["recorded"]) for n in listed] == [
        ("node1", "redfish", "enroll", False), ("node2", "ipmi", "enroll", False)]


def test_a_verb_the_state_does_not_allow_changes_nothing(operator: Operator) -> None:
    before = operator.stratus("baremetal", "node", "list")
    operator.stratus("baremetal", "node", "provide", "node1", rc=1)
    assert "error: InvalidStateRequested:" in operator.shown[-1] and "(field: node1)" in operator.shown[-1]
    assert operator.stratus("baremetal", "node", "list") == before


def test_a_wrong_password_leaves_the_node_in_enroll_with_last_error(operator: Operator) -> None:
    wrong = STATE / "wrong-password.yml"
    wrong.write_text(yaml.safe_dump({"all": {"children": {"baremetal_nodes": {"hosts": {
        "node1": {"stratus_bm_password": "not-the-password"}}}}}}))
    inventories = ["-i", str(STATE / "inventory.yml"), "-i", str(DEMO_INVENTORY), "-i", str(wrong)]
    document = operator.stratus(*inventories, "baremetal", "node", "manage", "node1", rc=1)
    assert "error: BMCAuthFailed:" in operator.shown[-1]
    assert "(field: hostvars[node1].stratus_bm_password)" in operator.shown[-1]
    node = document["node"]
    assert node["provision_state"] == "enroll" and node["last_error"].startswith("BMCAuthFailed: node node1: ")
    assert events(show(operator, "node1"))[-2:] == [("manage", "verifying", "start"), ("manage", "enroll", "error")]


@pytest.mark.parametrize("name", ["node1", "node2"])
def test_enroll_manage_inspect_provide_to_available(operator: Operator, name: str) -> None:
    walked = [operator.stratus("baremetal", "node", verb, name)["node"]["provision_state"]
              for verb in ("manage", "inspect", "provide")]
    assert walked == ["manageable", "manageable", "available"]
    node = show(operator, name)
    assert (node["provision_state"], node["power_state"], node["last_error"]) == ("available", "power off", None)
    assert events(node)[-6:] == [
        ("manage", "verifying", "start"), ("manage", "manageable", "success"),
        ("inspect", "inspecting", "start"), ("inspect", "manageable", "success"),
        ("provide", "cleaning", "start"), ("provide", "available", "success")]
    inspected = node["inspected"]
    if name == "node1":  # Redfish reports the domain as the lab made it: what its inventory says
        assert (inspected["cpus"], inspected["differences"]) == (1, [])
        # sushy-tools' libvirt driver has no MemorySummary for it (512 MiB is under 1 GiB)
        assert inspected["memory_mb"] == 512 or "memory_mb" in inspected["not_reported"]
        assert inspected["macs"] == [nic["mac"] for nic in node["nics"]]
        assert node["events"][-1]["message"] == "cleaned: powered off, virtual media ejected"
    else:  # plain IPMI says little of the hardware; virtualbmc nothing but what its FRU data has
        assert "cpus" in inspected["not_reported"] and "memory_mb" in inspected["not_reported"]
        assert node["events"][-1]["message"] == "cleaned: powered off, no virtual media (ipmi)"


def test_a_rerun_changes_nothing(operator: Operator) -> None:
    out = operator.playbook("-e", "stratus_baremetal_node=node1", "-e", "stratus_baremetal_action=provide")
    assert re.search(r"^localhost +: ok=2 +changed=0 +unreachable=0 +failed=0", out, re.M), out[-2000:]
    listed = operator.stratus("baremetal", "node", "list")["nodes"]
    assert [n["provision_state"] for n in listed] == ["available", "available"]


def test_maintenance_on_and_off_with_a_reason(operator: Operator) -> None:
    node = operator.stratus("baremetal", "node", "maintenance", "node2", "on", "--reason", "replacing a DIMM")["node"]
    assert (node["maintenance"], node["maintenance_reason"], node["maintenance_set_by"]) == (
        True, "replacing a DIMM", ["store"])
    operator.stratus("baremetal", "node", "manage", "node2")  # available -> manageable, allowed in maintenance
    operator.stratus("baremetal", "node", "provide", "node2", rc=1)
    assert "error: NodeInMaintenance:" in operator.shown[-1] and "replacing a DIMM" in operator.shown[-1]
    assert show(operator, "node2")["provision_state"] == "manageable"
    off = operator.stratus("baremetal", "node", "maintenance", "node2", "off")
    assert off["changed"] is True and off["node"]["maintenance"] is False
    assert operator.stratus("baremetal", "node", "maintenance", "node2", "off")["changed"] is False
    assert operator.stratus("baremetal", "node", "provide", "node2")["node"]["provision_state"] == "available"
    logged = [(e["event"], e["message"]) for e in show(operator, "node2")["events"] if e["event"].startswith("main")]
    assert logged == [("maintenance on", "replacing a DIMM"), ("maintenance off", None)]


def test_the_password_is_in_no_output_log_inventory_or_store(operator: Operator) -> None:
    secret = password()
    assert len(secret) >= 16
    assert operator.shown and operator.log.read_text()
    store_files = [p for p in (STATE / "store").iterdir() if p.is_file()]
    seen = operator.shown + [operator.log.read_text(), (STATE / "inventory.yml").read_text()]
    seen += [p.read_bytes().decode("latin-1") for p in store_files]
    assert store_files and not any(secret in text for text in seen)
