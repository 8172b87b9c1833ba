"""End-to-end: live migration (Nova's, disks copied) between real libvirtds of the lab, and the drain.

One lab of three hypervisors with the lab's migration network (each libvirtd reachable from the others at its
stratus_migration_uri); one server built by provision.yml, then `stratus server live-migrate`: the guest keeps
running (its console's `alive uptime=` heartbeat goes on on the destination's console with a larger uptime,
and no new ready line there), keeps its uuid and IP, and nothing of it stays on the source (domain, disks,
DHCP entry); the store says so (host, claim, migration completed, the action log). A rerun naming the host
it is on changes nothing; a host that does not pass the filters is NoValidHost and changes nothing; a
migration that fails (the destination's migration address wrong) is rolled back: the guest still running on
its source, the destination's half removed; a run SIGKILLed while the source migrates is ended by a rerun
(the guest on exactly one host, nothing left on the others); a stopped server is InstanceInvalidState;
`stratus hypervisor drain` spreads a host's running and stopped servers over the two others (live and cold,
with their IPs) and reports the one pinned to the host's zone as not moved (NoValidHost); a server with a
data volume migrates live with it (the volume pre-created on the destination, copied by libvirt, gone from
the source's pool).

Its own prefix, subnet and state dir (stxv / 10.245); one lab bring-up. Needs root.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest

from stratus_lab import ansible_run, inventory_overlay
from stratus_lab.console import READY, console_log, ready_line
from stratus_lab.host import dhcp_entries_command
from stratus_lab.paths import DEMO_INVENTORY, ROOT
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url
from wait_helpers import wait_until  # tests/wait_helpers.py

STATE = Path("/tmp/stratus-e2e-live-migration")
PREFIX = "stxv"
SUBNET = "10.245"
STRATUS = ROOT / ".venv" / "bin" / "stratus"
DEMO = {"user_id": "demo", "project_id": "demo", "roles": ["member"]}
ADMIN = ("--user", "root", "--project", "ops", "--role", "admin")
ADMIN_CONTEXT = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}
WEB = {"name": "web", "flavor": "m1.tiny", "image": "stratus-guest", "networks": [{"name": "demo"}]}
BOOT_S = 300.0
HOSTS = ("hv1", "hv2", "hv3")
INSTANCE_POOL = "/var/lib/libvirt/stratus/instances"
VOLUME_POOL = "/var/lib/libvirt/stratus/volumes"
GUEST_IMAGE = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2c01"  # the demo catalog's stratus-guest
# an image-backed server (its root a local overlay) with a 1 GiB blank data volume
VOL = dict(WEB, name="vol", block_device_mapping_v2=[
    {"boot_index": 0, "uuid": GUEST_IMAGE, "source_type": "image", "destination_type": "local"},
    {"boot_index": -1, "source_type": "blank", "destination_type": "volume", "volume_size": 1}])

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
]


@pytest.fixture(scope="module")
def lab() -> t.Iterator[LabSession]:
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=len(HOSTS), caller=DEMO) as session:
        yield session


def rows(query: str) -> list[tuple]:
    return [tuple(row) for row in store_rows(sqlite_url(STATE / "store"), query)]


def web() -> tuple:
    ((uuid, host, vm_state, task_state, fault),) = rows(
        "select uuid, host, vm_state, task_state, fault from instances where name = 'web' and deleted = ''")
    return uuid, host, vm_state, task_state, json.loads(fault) if fault else None


def on_host(lab: LabSession, host: str, command: str) -> str:
    return lab.host(int(host[2:])).in_namespaces(command).strip()


def other(host: str) -> str:
    """The first hypervisor that is not `host`."""
    return [h for h in HOSTS if h != host][0]


def moved_to(out: dict[str, t.Any], uuid: str, source: str) -> str:
    """Where the CLI's answer says the server is now (the scheduler's pick), checked to be another host."""
    (dest,) = [s["host"] for s in out["servers"] if s["id"] == uuid]
    assert dest in HOSTS and dest != source, out
    return dest


def heartbeats(uuid: str, host: str) -> list[int]:
    """The uptimes of the guest's heartbeat lines on `host`'s console log of it."""
    text = console_log(STATE, uuid, host).read_text(errors="replace") if console_log(STATE, uuid, host).exists() else ""
    return [int(line.rsplit("uptime=", 1)[1]) for line in text.splitlines()
            if "STRATUS-GUEST alive uptime=" in line and line.rsplit("uptime=", 1)[1].strip().isdigit()]


def holds(lab: LabSession, host: str, uuid: str) -> dict[str, bool]:
    """What `host` holds of the server: its domain, its disks in the instance pool, its DHCP entry."""
    ((plan,),) = rows("select plan from instances where uuid = '%s'" % uuid)
    nic = json.loads(plan)["nics"][0]
    return {"domain": uuid in on_host(lab, host, "virsh -q -c qemu:///system list --all --uuid"),
            "disks": uuid in on_host(lab, host, "ls %s 2>/dev/null || true" % INSTANCE_POOL),
            "dhcp": nic["mac"].lower() in on_host(lab, host, dhcp_entries_command(nic["libvirt_network"])).lower()}


def actions_of(uuid: str) -> list[tuple]:
    return rows("select a.action, e.event, e.result from instance_actions a left join instance_actions_events e on "
                "e.action_id = a.id where a.instance_uuid = '%s' order by a.id, e.id" % uuid)


def host_overlay(host: str, variables: dict[str, t.Any]) -> Path:
    return inventory_overlay.write_host(STATE / "live-host-overlay", host, variables)


def cli(lab: LabSession, *args: str, overlay: t.Optional[dict[str, t.Any]] = None,
        host_vars: t.Optional[tuple[str, dict[str, t.Any]]] = None) -> subprocess.CompletedProcess:
    """The CLI as an admin on the lab's inventories (then an overlay of variables for all, or for one host) and
    store; JSON out."""
    extra = ["-i", str(inventory_overlay.write(STATE / "live-overlay", overlay))] if overlay else []
    extra += ["-i", str(host_overlay(*host_vars))] if host_vars else []
    return subprocess.run([str(STRATUS), "-i", str(lab.inventory), "-i", str(DEMO_INVENTORY), *extra, *ADMIN, *args,
                           "-o", "json"], capture_output=True, text=True, env=dict(lab.env, STRATUS_LAB_DIR=str(STATE)),
                          cwd=str(STATE), timeout=900, check=False)


def ok(proc: subprocess.CompletedProcess) -> dict[str, t.Any]:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_a_running_server(lab: LabSession) -> None:
    run = lab.provision([WEB])
    assert run.returncode == 0, run.stdout[-3000:]
    uuid, host = web()[:2]
    assert ready_line(STATE, uuid, host, timeout=BOOT_S)
    wait_until(lambda: heartbeats(uuid, host), "the guest's heartbeat", timeout=BOOT_S, interval=1)


def test_live_migration_keeps_the_guest_running_with_its_uuid_and_ip(lab: LabSession) -> None:
    uuid, source = web()[:2]
    ((ip,),) = rows("select address from ip_allocations where instance_uuid = '%s'" % uuid)
    ready = ready_line(STATE, uuid, source, timeout=1)
    assert ready.endswith(f"uuid={uuid} ip={ip}")
    before = heartbeats(uuid, source)[-1]
    out = ok(cli(lab, "server", "live-migrate", uuid))
    dest = moved_to(out, uuid, source)
    assert out["changed"] and [(s["id"], s["host"], s["status"]) for s in out["servers"]] == [(uuid, dest, "ACTIVE")]
    assert web() == (uuid, dest, "active", None, None)
    assert on_host(lab, dest, "virsh -c qemu:///system domstate %s" % uuid) == "running"
    # the same guest goes on there: its heartbeat, uptime growing, and never a new boot
    wait_until(lambda: any(u > before for u in heartbeats(uuid, dest)), "the heartbeat on %s" % dest,
               timeout=120, interval=1)
    assert READY not in console_log(STATE, uuid, dest).read_text(errors="replace")
    assert holds(lab, source, uuid) == {"domain": False, "disks": False, "dhcp": False}
    assert holds(lab, dest, uuid) == {"domain": True, "disks": True, "dhcp": True}
    assert rows("select address from ip_allocations where instance_uuid = '%s'" % uuid) == [(ip,)]
    assert rows("select host from resource_claims where instance_uuid = '%s'" % uuid) == [(dest,)]
    assert rows("select migration_type, source_compute, dest_compute, status from migrations where instance_uuid = "
                "'%s'" % uuid) == [("live-migration", source, dest, "completed")]
    assert actions_of(uuid)[-3:] == [("live-migration", "conductor_live_migrate_instance", "Success"),
                                     ("live-migration", "compute_pre_live_migration", "Success"),
                                     ("live-migration", "compute_live_migration", "Success")]
    assert rows("select count(*) from leftovers") == [(0,)]
    # a rerun (the host it is on, by that migration) changes nothing
    again = ok(cli(lab, "server", "live-migrate", uuid, "--host", dest))
    assert not again["changed"] and web()[1] == dest and len(actions_of(uuid)) == len(rows(
        "select 1 from instance_actions a join instance_actions_events e on e.action_id = a.id where "
        "a.instance_uuid = '%s'" % uuid)) and rows("select count(*) from migrations") == [(1,)]


def test_a_host_that_does_not_pass_the_filters_is_no_valid_host(lab: LabSession) -> None:
    uuid, host = web()[:2]
    target = other(host)
    ok(cli(lab, "hypervisor", "disable", target, "--reason", "maintenance"))
    try:
        before = (web(), actions_of(uuid))
        proc = cli(lab, "server", "live-migrate", uuid, "--host", target)
        assert proc.returncode != 0 and "NoValidHost" in proc.stdout + proc.stderr
        assert (web(), actions_of(uuid)) == before and rows("select count(*) from migrations") == [(1,)]
    finally:
        ok(cli(lab, "hypervisor", "enable", target))


def test_a_failed_migration_is_rolled_back_and_the_guest_runs_on(lab: LabSession) -> None:
    uuid, source = web()[:2]
    dest = other(source)
    # the destination's libvirt is reached, but its QEMU is told to listen on an address it does not have
    proc = cli(lab, "server", "live-migrate", uuid, "--host", dest,
               host_vars=(dest, {"stratus_migration_address": SUBNET + ".251.99"}))
    assert proc.returncode != 0 and "MigrationError" in proc.stdout + proc.stderr, proc.stdout[-3000:]
    ((_u, host, vm_state, task_state, fault),) = [web()]
    assert (host, vm_state, task_state, fault["code"]) == (source, "active", None, "MigrationError")
    assert on_host(lab, source, "virsh -c qemu:///system domstate %s" % uuid) == "running"
    assert holds(lab, dest, uuid) == {"domain": False, "disks": False, "dhcp": False}  # its half cleaned
    assert holds(lab, source, uuid) == {"domain": True, "disks": True, "dhcp": True}
    assert rows("select host from resource_claims where instance_uuid = '%s'" % uuid) == [(source,)]
    assert rows("select status from migrations where instance_uuid = '%s' order by id desc limit 1" % uuid) == [
        ("failed",)]
    assert rows("select count(*) from leftovers") == [(0,)]
    # the migration's error, then the destination's half removed in the same run
    assert actions_of(uuid)[-2:] == [("live-migration", "compute_live_migration", "Error"),
                                     ("live-migration", "compute_cleanup_leftover", "Success")]


def test_a_run_killed_while_it_migrates_is_ended_by_a_rerun(lab: LabSession) -> None:
    """SIGKILL of the whole run once the source's step has started (migration status running), then the same
    request again: the rerun asks both libvirts where the guest runs and ends the migration accordingly."""
    uuid, source = web()[:2]
    dest = other(source)
    argv = ansible_run.playbook_argv(ROOT / "playbooks" / "server_action.yml", [lab.inventory, DEMO_INVENTORY],
                                     {"stratus_actions": [{"server": uuid, "action": "live_migrate", "host": dest}]})
    proc = ansible_run.start(argv, dict(lab.env, **ansible_run.caller_env(ADMIN_CONTEXT)), STATE / "killed-live.log")
    try:
        wait_until(lambda: proc.poll() is not None or rows(
            "select status from migrations where instance_uuid = '%s' order by id desc limit 1" % uuid) == [
            ("running",)], "the source's step", timeout=300, interval=0.1)
    finally:
        ansible_run.kill_group(proc)
    # killed while the source's step ran (libvirt's migration takes seconds; the store was read every 0.1 s)
    assert web()[3] == "migrating" and rows("select status from migrations where instance_uuid = '%s' order by id "
                                            "desc limit 1" % uuid) == [("running",)]
    cli(lab, "server", "live-migrate", uuid, "--host", dest)  # its outcome is what the store and libvirt say
    ((_u, host, vm_state, task_state, _fault),) = [web()]
    assert (vm_state, task_state) == ("active", None)
    assert rows("select status from migrations where instance_uuid = '%s' order by id desc limit 1" % uuid)[0][0] in (
        "completed", "failed")
    # on exactly one host, its claim there, nothing left anywhere
    assert holds(lab, host, uuid) == {"domain": True, "disks": True, "dhcp": True}
    for elsewhere in set(HOSTS) - {host}:
        assert holds(lab, elsewhere, uuid) == {"domain": False, "disks": False, "dhcp": False}
    assert on_host(lab, host, "virsh -c qemu:///system domstate %s" % uuid) == "running"
    assert rows("select host from resource_claims where instance_uuid = '%s'" % uuid) == [(host,)]
    assert rows("select count(*) from leftovers") == [(0,)]
    before = max(heartbeats(uuid, host) or [0])
    wait_until(lambda: any(u > before for u in heartbeats(uuid, host)), "the heartbeat on %s" % host, timeout=120,
               interval=1)


def test_a_stopped_server_is_instance_invalid_state(lab: LabSession) -> None:
    uuid = web()[0]
    ok(cli(lab, "server", "stop", uuid, overlay={"stratus_shutdown_timeout": 0}))
    before = (web(), actions_of(uuid))
    proc = cli(lab, "server", "live-migrate", uuid)
    assert proc.returncode != 0 and "InstanceInvalidState" in proc.stdout + proc.stderr
    assert (web(), actions_of(uuid)) == before


# the drained host alone in a zone of its own (its variable): a server asking for that zone cannot leave it
PINNED = {"stratus_availability_zone": "pinned"}


def test_drain_spreads_the_host_over_the_two_others_and_reports_what_cannot_move(lab: LabSession) -> None:
    """`stratus hypervisor drain` in a lab of three: the host disabled, its running server live-migrated and its
    stopped one cold-migrated and confirmed, each to one of the two others (the scheduler spreads them), with
    their IPs; nothing of either left on it. A server that asked for the host's zone cannot leave: it is
    reported with its reason (NoValidHost) and stays, and the drain exits 1 (DrainIncomplete)."""
    uuid, host = web()[:2]
    others = sorted(set(HOSTS) - {host})
    assert web()[2] == "stopped"  # the test before stopped it
    for h in others:  # so that the new servers land beside it
        ok(cli(lab, "hypervisor", "disable", h))
    try:
        argv = ansible_run.playbook_argv(ROOT / "playbooks" / "provision.yml", [
            lab.inventory, DEMO_INVENTORY, host_overlay(host, PINNED)], {"stratus_servers": [
                WEB, dict(WEB, name="db"), dict(WEB, name="pin", availability_zone="pinned")]})
        run = ansible_run.run_merged(argv, lab.env, 900)
        assert run.returncode == 0, run.stdout[-3000:]
    finally:
        for h in others:
            ok(cli(lab, "hypervisor", "enable", h))
    servers = dict(rows("select name, uuid from instances where deleted = ''"))
    db, pin = servers["db"], servers["pin"]
    assert rows("select distinct host from instances where deleted = ''") == [(host,)] and web()[2] == "stopped"
    ips = {s: rows("select address, mac from ip_allocations where instance_uuid = '%s'" % s) for s in (uuid, db)}
    wait_until(lambda: heartbeats(db, host), "db's heartbeat", timeout=BOOT_S, interval=1)
    ready_before = ready_line(STATE, db, host, timeout=1)
    proc = cli(lab, "hypervisor", "drain", host, "--reason", "e2e drain", host_vars=(host, PINNED))
    assert proc.returncode == 1 and "DrainIncomplete" in proc.stdout + proc.stderr, proc.stdout[-3000:]
    out, _end = json.JSONDecoder().raw_decode(proc.stdout)
    moved = {m["server"]: (m["how"], m["to"]) for m in out["moved"]}
    assert set(moved) == {"db", "web"} and (moved["db"][0], moved["web"][0]) == ("live", "cold"), out
    assert sorted(to for _how, to in moved.values()) == others, out  # spread: one on each of the two others
    assert [(n["server"], n["why"].split(":")[0]) for n in out["not_moved"]] == [("pin", "NoValidHost")], out
    assert out["service"]["status"] == "disabled"
    for name, server in (("web", uuid), ("db", db)):
        dest = moved[name][1]
        assert holds(lab, host, server) == {"domain": False, "disks": False, "dhcp": False}
        assert holds(lab, dest, server) == {"domain": True, "disks": True, "dhcp": True}
        assert rows("select host from resource_claims where instance_uuid = '%s'" % server) == [(dest,)]
        assert rows("select address, mac from ip_allocations where instance_uuid = '%s'" % server) == ips[server]
    assert web()[1:4] == (moved["web"][1], "stopped", None)  # cold-migrated, confirmed, still stopped
    assert on_host(lab, moved["db"][1], "virsh -c qemu:///system domstate %s" % db) == "running"
    # the pinned one stays, untouched
    assert rows("select host, vm_state, task_state from instances where uuid = '%s'" % pin) == [(host, "active", None)]
    assert holds(lab, host, pin) == {"domain": True, "disks": True, "dhcp": True}
    # db moved live: its heartbeat goes on on the new host, with no new boot
    before = max(heartbeats(db, host) or [0])
    wait_until(lambda: any(u > before for u in heartbeats(db, moved["db"][1])), "db's heartbeat on %s" % moved["db"][1],
               timeout=120, interval=1)
    assert ready_before and READY not in console_log(STATE, db, moved["db"][1]).read_text(errors="replace")
    assert rows("select disabled, disabled_reason from compute_services where host = '%s'" % host) == [
        (1, "e2e drain")]
    assert rows("select count(*) from leftovers") == [(0,)]
    ok(cli(lab, "hypervisor", "enable", host))


def test_a_server_with_a_data_volume_migrates_live_with_it(lab: LabSession) -> None:
    run = lab.provision([VOL])
    assert run.returncode == 0, run.stdout[-3000:]
    ((uuid, source),) = rows("select uuid, host from instances where name = 'vol' and deleted = ''")
    ((volume,),) = rows("select id from volumes where instance_uuid = '%s'" % uuid)
    wait_until(lambda: heartbeats(uuid, source), "vol's heartbeat", timeout=BOOT_S, interval=1)
    assert "volume-" + volume in on_host(lab, source, "ls %s" % VOLUME_POOL)
    before = heartbeats(uuid, source)[-1]
    out = ok(cli(lab, "server", "live-migrate", uuid))
    dest = moved_to(out, uuid, source)
    assert [(s["host"], s["status"]) for s in out["servers"]] == [(dest, "ACTIVE")], out
    wait_until(lambda: any(u > before for u in heartbeats(uuid, dest)), "vol's heartbeat on %s" % dest,
               timeout=120, interval=1)
    assert READY not in console_log(STATE, uuid, dest).read_text(errors="replace")
    # the volume is the destination's now: in its pool (attached to the running domain), gone from the source's
    assert "volume-" + volume in on_host(lab, dest, "ls %s" % VOLUME_POOL)
    assert "volume-" + volume not in on_host(lab, source, "ls %s 2>/dev/null || true" % VOLUME_POOL)
    assert "volume-" + volume in on_host(lab, dest, "virsh -q -c qemu:///system domblklist %s" % uuid)
    assert rows("select host from volumes where id = '%s'" % volume) == [(dest,)]
    assert holds(lab, source, uuid) == {"domain": False, "disks": False, "dhcp": False}
    assert rows("select count(*) from leftovers") == [(0,)]
