"""End-to-end: day-2 power actions (stop, start, soft and hard reboot) on a real libvirtd + QEMU guest.

One lab of two hypervisors; one server built by provision.yml, then `playbooks/server_action.yml` and
`stratus server stop|start|reboot`: each action walks Nova's task_state, ends in Nova's vm_state with
its instance action and event in the action log, and libvirt agrees (the domain shut off, or started
again: its console log, which QEMU truncates at each start, loses the mark put into it before and shows
the guest's ready line again). The lab's guest has no ACPI handler, so a clean shutdown times out (the
lab's shutdown timeout is short) and the domain is powered off, which the event says. A stop of a
stopped server changes nothing; a soft reboot of a stopped one is InstanceInvalidState and changes
nothing; provision.yml's rerun leaves the server as the actions left it.

Its own prefix, subnet and state dir (stxd / 10.235); one lab bring-up. Needs root.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest

from stratus_lab import inventory_overlay
from stratus_lab.ansible_run import playbook_argv, recap, run_merged
from stratus_lab.console import console_log, ready_line
from stratus_lab.paths import DEMO_INVENTORY, ROOT
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url
from wait_helpers import wait_until  # tests/wait_helpers.py

STATE = Path("/tmp/stratus-e2e-actions")
PREFIX = "stxd"
SUBNET = "10.235"
STRATUS = ROOT / ".venv" / "bin" / "stratus"
ACTIONS = ROOT / "playbooks" / "server_action.yml"
DEMO = {"user_id": "demo", "project_id": "demo", "roles": ["member"]}
WEB = {"name": "web", "flavor": "m1.tiny", "image": "stratus-guest", "networks": [{"name": "demo"}]}
# The lab's guest ignores ACPI: a short clean-shutdown window (Nova's shutdown_timeout) keeps the test quick.
SHUTDOWN_TIMEOUT = {"stratus_shutdown_timeout": 5, "stratus_shutdown_retry_interval": 2}
BOOT_S = 300.0
MARK = "STRATUS-TEST mark before the action"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
]


@pytest.fixture(scope="module")
def lab() -> t.Iterator[LabSession]:
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=2, caller=DEMO) as session:
        yield session


def rows(query: str) -> list[tuple]:
    return [tuple(row) for row in store_rows(sqlite_url(STATE / "store"), query)]


def web() -> tuple:
    ((uuid, vm_state, task_state, power_state, fault),) = rows(
        "select uuid, vm_state, task_state, power_state, fault from instances where name = 'web' and deleted = ''")
    return uuid, vm_state, task_state, power_state, json.loads(fault) if fault else None


def actions_of(uuid: str) -> list[tuple[str, t.Optional[str], t.Optional[str], t.Optional[str]]]:
    """The action log: (action, event, result, details), one row per event (an action without one: Nones)."""
    return rows("select a.action, e.event, e.result, e.details from instance_actions a left join "
                "instance_actions_events e on e.action_id = a.id where a.instance_uuid = '%s' order by a.id, e.id"
                % uuid)


def host_of(uuid: str) -> str:
    ((host,),) = rows("select host from instances where uuid = '%s'" % uuid)
    return host


def on_host(host: str, command: str) -> str:
    return LabSession(STATE, PREFIX, SUBNET, hypervisors=2).host(int(host[2:])).in_namespaces(command).strip()


def domstate(uuid: str) -> str:
    return on_host(host_of(uuid), "virsh -c qemu:///system domstate %s" % uuid)


def run_actions(lab: LabSession, actions: list[dict[str, t.Any]]) -> t.Any:
    overlay = inventory_overlay.write(STATE / "actions-overlay", SHUTDOWN_TIMEOUT)
    return run_merged(playbook_argv(ACTIONS, [lab.inventory, DEMO_INVENTORY, overlay],
                                    {"stratus_actions": actions}), lab.env, 900)


def mark_console(uuid: str) -> Path:
    log = console_log(STATE, uuid, host_of(uuid))
    with log.open("a") as fp:
        fp.write(MARK + "\n")
    return log


def started_again(uuid: str, log: Path) -> None:
    """QEMU started anew (the console log truncated: the mark gone) and the guest booted (ready line)."""
    wait_until(lambda: MARK not in log.read_text(errors="replace") and ready_line(STATE, uuid, host_of(uuid),
                                                                                  timeout=1),
               "the guest to boot again", timeout=BOOT_S, interval=1)


def test_a_server_to_act_on(lab: LabSession) -> None:
    run = lab.provision([WEB])
    assert run.returncode == 0, run.stdout[-3000:]
    uuid = web()[0]
    assert ready_line(STATE, uuid, host_of(uuid), timeout=BOOT_S)


def test_stop_powers_off_and_a_second_stop_changes_nothing(lab: LabSession) -> None:
    uuid = web()[0]
    run = run_actions(lab, [{"server": "web", "action": "stop"}])
    assert run.returncode == 0, run.stdout[-3000:]
    assert web()[1:] == ("stopped", None, "shutdown", None)
    assert domstate(uuid) == "shut off"
    assert actions_of(uuid)[-1] == ("stop", "compute_stop_instance", "Success",
                                    "forced off after the shutdown timeout")
    # the inventory plugin groups it by its status; server_info says its last action
    assert lab.servers_inventory(DEMO)["status_shutoff"]["hosts"] == ["server-web"]
    again = run_actions(lab, [{"server": uuid, "action": "stop"}])
    assert again.returncode == 0, again.stdout[-3000:]
    assert all(v["changed"] == 0 for v in recap(again.stdout).values()), again.stdout[-3000:]
    assert [a[0] for a in actions_of(uuid)].count("stop") == 1


def test_a_soft_reboot_of_a_stopped_server_is_refused(lab: LabSession) -> None:
    uuid = web()[0]
    before = (web(), actions_of(uuid))
    run = run_actions(lab, [{"server": "web", "action": "reboot", "reboot_type": "soft"}])
    assert run.returncode != 0
    assert "InstanceInvalidState" in run.stdout and "while it is in vm_state stopped" in run.stdout
    assert (web(), actions_of(uuid)) == before and domstate(uuid) == "shut off"


def test_start_boots_it_again(lab: LabSession) -> None:
    uuid = web()[0]
    log = mark_console(uuid)
    run = run_actions(lab, [{"server": "web", "action": "start"}])
    assert run.returncode == 0, run.stdout[-3000:]
    assert web()[1:] == ("active", None, "running", None) and domstate(uuid) == "running"
    started_again(uuid, log)
    assert actions_of(uuid)[-1][:3] == ("start", "compute_start_instance", "Success")


def test_soft_then_hard_reboot(lab: LabSession) -> None:
    uuid = web()[0]
    for reboot_type, details in (("soft", "soft reboot fell back to hard"), ("hard", None)):
        log = mark_console(uuid)
        run = run_actions(lab, [{"server": "web", "action": "reboot", "reboot_type": reboot_type}])
        assert run.returncode == 0, run.stdout[-3000:]
        assert web()[1:] == ("active", None, "running", None)
        started_again(uuid, log)
        assert actions_of(uuid)[-1] == ("reboot", "compute_reboot_instance", "Success", details)


def test_a_request_keeps_the_power_state_it_asks_for(lab: LabSession) -> None:
    """status: stopped in the request stops the server (after the build), a rerun changes nothing,
    status: active starts it again (the overlay's short shutdown window goes with provision too)."""
    uuid = web()[0]
    overlay = inventory_overlay.write(STATE / "actions-overlay", SHUTDOWN_TIMEOUT)
    argv = playbook_argv(ROOT / "playbooks" / "provision.yml", [lab.inventory, DEMO_INVENTORY, overlay],
                         {"stratus_servers": [dict(WEB, status="stopped")]})
    run = run_merged(argv, lab.env, 900)
    assert run.returncode == 0, run.stdout[-3000:]
    assert web()[1:] == ("stopped", None, "shutdown", None) and domstate(uuid) == "shut off"
    assert actions_of(uuid)[-1][:3] == ("stop", "compute_stop_instance", "Success")
    again = run_merged(argv, lab.env, 900)
    assert again.returncode == 0, again.stdout[-3000:]
    assert all(v["changed"] == 0 for v in recap(again.stdout).values()), again.stdout[-3000:]
    log = mark_console(uuid)
    argv = playbook_argv(ROOT / "playbooks" / "provision.yml", [lab.inventory, DEMO_INVENTORY, overlay],
                         {"stratus_servers": [dict(WEB, status="active")]})
    run = run_merged(argv, lab.env, 900)
    assert run.returncode == 0, run.stdout[-3000:]
    assert web()[1:] == ("active", None, "running", None) and domstate(uuid) == "running"
    started_again(uuid, log)


def root_disk(uuid: str) -> tuple[str, str]:
    """The server's root disk (its path from the plan) and its inode on its host: a new file after a rebuild."""
    ((plan,),) = rows("select plan from instances where uuid = '%s'" % uuid)
    path = next(d["path"] for d in json.loads(plan)["disks"] if d["name"] == "%s-disk" % uuid)
    return path, on_host(host_of(uuid), "stat -c %%i %s" % path)


def image_labels(log: Path) -> list[str]:
    """The `STRATUS-GUEST image label=` of each boot in the console log (QEMU's of its latest start)."""
    return [line.split("label=", 1)[1].strip() for line in log.read_text(errors="replace").splitlines()
            if "STRATUS-GUEST image label=" in line]


def test_rebuild_makes_a_new_root_disk_and_keeps_uuid_ip_and_host(lab: LabSession) -> None:
    uuid = web()[0]
    ((ip_before,),) = rows("select address from ip_allocations where instance_uuid = '%s'" % uuid)
    path, inode = root_disk(uuid)
    log = mark_console(uuid)
    # onto another image: the lab's second guest image, whose console says so
    run = run_actions(lab, [{"server": "web", "action": "rebuild", "image": "stratus-guest-b"}])
    assert run.returncode == 0, run.stdout[-3000:]
    assert web()[:4] == (uuid, "active", None, "running")
    assert root_disk(uuid)[0] == path and root_disk(uuid)[1] != inode  # made anew, where it was
    started_again(uuid, log)
    assert f"uuid={uuid} ip={ip_before}" in ready_line(STATE, uuid, host_of(uuid), timeout=1)
    assert image_labels(log) == ["b"]
    assert actions_of(uuid)[-1] == ("rebuild", "compute_rebuild_instance", "Success", None)
    # a stopped server is rebuilt (back onto the first image) and stays stopped (Nova keeps the power state)
    assert run_actions(lab, [{"server": "web", "action": "stop"}]).returncode == 0
    run = run_actions(lab, [{"server": "web", "action": "rebuild", "image": "stratus-guest"}])
    assert run.returncode == 0, run.stdout[-3000:]
    assert web()[1:] == ("stopped", None, "shutdown", None) and domstate(uuid) == "shut off"
    log = mark_console(uuid)
    assert run_actions(lab, [{"server": "web", "action": "start"}]).returncode == 0
    started_again(uuid, log)
    assert image_labels(log) == ["-"]
    refused = run_actions(lab, [{"server": "web", "action": "rebuild", "image": "stratus-guest-kernel"}])
    assert refused.returncode != 0 and "ImageUnacceptable" in refused.stdout


def cli(lab: LabSession, *args: str) -> dict[str, t.Any]:
    """The CLI on the lab's inventories (with the short shutdown window) and store; the caller as its flags
    say, else the lab's (the demo member)."""
    overlay = inventory_overlay.write(STATE / "actions-overlay", SHUTDOWN_TIMEOUT)
    proc = subprocess.run([str(STRATUS), "-i", str(lab.inventory), "-i", str(DEMO_INVENTORY), "-i", str(overlay),
                           *args, "-o", "json"], capture_output=True, text=True,
                          env=dict(lab.env, STRATUS_LAB_DIR=str(STATE)), cwd=str(STATE), timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_the_cli_stops_and_starts_and_provision_keeps_what_it_left(lab: LabSession) -> None:
    uuid = web()[0]
    out = cli(lab, "server", "stop", "web")
    assert out["changed"] and [(s["id"], s["status"]) for s in out["servers"]] == [(uuid, "SHUTOFF")]
    assert out["servers"][0]["last_action"]["action"] == "stop"
    assert out["servers"][0]["last_action"]["result"] == "Success"
    rerun = lab.provision([WEB])  # the request unchanged: the stopped server stays stopped
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert all(v["changed"] == 0 for v in recap(rerun.stdout).values()), rerun.stdout[-3000:]
    assert web()[1] == "stopped" and domstate(uuid) == "shut off"
    out = cli(lab, "server", "start", "web")
    assert out["changed"] and out["servers"][0]["status"] == "ACTIVE" and domstate(uuid) == "running"
    # --no-wait answers once the stop is recorded (Nova's API); the run goes on and `server wait` follows it
    out = cli(lab, "server", "stop", "--no-wait", "web")
    assert out["wait"] is False and out["servers"][0]["task_state"] == "powering-off", out
    out = cli(lab, "server", "wait", "web", "--timeout", "300")
    assert out["servers"][0]["status"] == "SHUTOFF" and out["servers"][0]["last_action"]["result"] == "Success"
    assert domstate(uuid) == "shut off"
    out = cli(lab, "server", "start", "web")
    assert out["servers"][0]["status"] == "ACTIVE"


MODULE_ALONE = [{"name": "The server_action module on its own, as a user's playbook has it", "hosts": "localhost",
                 "gather_facts": False, "tasks": [
                     {"name": "Stop with a timeout too short", "stratus.compute.server_action": {
                         "server": "web", "action": "stop", "timeout": 1}, "register": "too_short",
                      "ignore_errors": True},
                     {"name": "Stop, waiting (the default)", "stratus.compute.server_action": {
                         "server": "web", "action": "stop"}, "register": "stopped"},
                     {"name": "Start, recorded only", "stratus.compute.server_action": {
                         "server": "web", "action": "start", "wait": False}, "register": "recorded"},
                     {"name": "Start, waiting", "stratus.compute.server_action": {
                         "server": "web", "action": "start"}, "register": "started"},
                     {"name": "Keep the results", "ansible.builtin.copy": {
                         "dest": str(STATE / "module-alone.json"), "mode": "0600",
                         "content": "{{ {'too_short': too_short, 'stopped': stopped, 'recorded': recorded, "
                                    "'started': started} | to_json }}"}}]}]


def test_the_module_on_its_own_waits_for_its_action(lab: LabSession) -> None:
    uuid = web()[0]
    playbook = STATE / "module-alone.yml"
    playbook.write_text(json.dumps(MODULE_ALONE))
    overlay = inventory_overlay.write(STATE / "actions-overlay", SHUTDOWN_TIMEOUT)
    run = run_merged(playbook_argv(playbook, [lab.inventory, DEMO_INVENTORY, overlay], {}), lab.env, 900)
    assert run.returncode == 0, run.stdout[-3000:]
    out = json.loads((STATE / "module-alone.json").read_text())
    # past its timeout the task fails and the stop stays recorded; the same stop again finishes it
    assert out["too_short"]["failed"] and out["too_short"]["error"]["code"] == "ActionTimeout", out["too_short"]
    assert (out["stopped"]["server"]["vm_state"], out["stopped"]["server"]["task_state"]) == ("stopped", None)
    # wait false: Nova's API answer, the server in its task_state; the next start waits and finishes it
    assert out["recorded"]["server"]["task_state"] == "powering-on" and out["recorded"]["changed"]
    assert (out["started"]["server"]["vm_state"], out["started"]["server"]["task_state"]) == ("active", None)
    assert web()[1:4] == ("active", None, "running") and domstate(uuid) == "running"
    assert [a for a, _e, _r, _d in actions_of(uuid)][-2:] == ["stop", "start"]


ADMIN = ("--user", "root", "--project", "ops", "--role", "admin")


def test_evacuate_rebuilds_it_elsewhere_and_the_old_host_is_cleaned_when_back(lab: LabSession) -> None:
    uuid = web()[0]
    source = host_of(uuid)
    other = "hv1" if source == "hv2" else "hv2"
    ((ip,),) = rows("select address from ip_allocations where instance_uuid = '%s'" % uuid)
    k = int(source[2:])
    lab.daemon("stop", "sshd", k)  # the host is gone for the controller; the operator fences it and says so
    try:
        cli(lab, *ADMIN, "hypervisor", "down", source)
        out = cli(lab, *ADMIN, "server", "evacuate", uuid)
        assert [(s["id"], s["host"], s["status"]) for s in out["servers"]] == [(uuid, other, "ACTIVE")], out
        assert ready_line(STATE, uuid, other, timeout=BOOT_S).endswith(f"uuid={uuid} ip={ip}")
        assert [a[:3] for a in actions_of(uuid)[-2:]] == [("evacuate", "conductor_rebuild_server", "Success"),
                                                          ("evacuate", "compute_rebuild_instance", "Success")]
        assert rows("select host from leftovers where instance_uuid = '%s'" % uuid) == [(source,)]
    finally:
        lab.daemon("start", "sshd", k)
    cli(lab, *ADMIN, "hypervisor", "up", source)
    assert uuid in on_host(source, "virsh -q -c qemu:///system list --all --uuid")  # still there, until cleaned
    run = lab.provision([WEB])  # any run cleans what the old host still holds
    assert run.returncode == 0, run.stdout[-3000:]
    assert uuid not in on_host(source, "virsh -q -c qemu:///system list --all --uuid")
    assert rows("select host from leftovers where instance_uuid = '%s'" % uuid) == []
    assert web()[1:3] == ("active", None) and host_of(uuid) == other
