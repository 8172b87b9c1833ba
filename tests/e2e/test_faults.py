"""Real faults in a three-hypervisor lab: reschedule onto alternates, forced hosts, a full base pool,
recreate, and a delete while a host is down (leftovers cleaned when it is back)."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import sqlite3
import subprocess
import typing as t
from pathlib import Path

import pytest

from stratus_lab.ansible_run import kill_group
from stratus_lab.paths import ROOT
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url
from test_provision import console_line_in, dhcp_entries_command, guest_report, on_host as provision_on_host, recap
from wait_helpers import wait_until

pytestmark = pytest.mark.lab

STATE = Path("/tmp/stratus-e2e-faults")
SUBNET = "10.236"
# The caller of every run here (an admin of the demo project: some requests force hosts), named as an
# AWX credential or the CLI names it: in the environment.
ADMIN = {"user_id": "operator", "project_id": "demo", "roles": ["admin"]}


@pytest.fixture(scope="module")
def lab() -> t.Iterator[LabSession]:
    with LabSession(STATE, "stxf", SUBNET, hypervisors=3, caller=ADMIN) as session:
        yield session


def playbook(lab: LabSession, servers: list[dict], **catalog: t.Any) -> subprocess.CompletedProcess:
    """provision.yml for `servers`; `catalog` variables go in an inventory overlay (never extra vars)."""
    return subprocess.run(lab.provision_argv(servers, catalog or None), cwd=ROOT, env=lab.env, capture_output=True,
                          text=True, timeout=900, check=False)


def rows(query: str) -> list[tuple]:
    return [tuple(row) for row in store_rows(sqlite_url(STATE / "store"), query)]


def server(name: str) -> dict:
    (uuid, host, vm_state, attempts, fault), = rows(
        "select uuid, host, vm_state, attempts, fault from instances where name = '%s' and deleted = ''" % name)
    return {"uuid": uuid, "host": host, "vm_state": vm_state, "attempts": attempts,
            "fault": json.loads(fault) if fault else None}


def events(uuid: str) -> list[tuple[str, str, str]]:
    return rows("select e.event, e.host, e.result from instance_actions_events e join instance_actions a "
                "on a.id = e.action_id where a.instance_uuid = '%s' order by e.id" % uuid)


def on_host(k: int, command: str) -> str:
    return provision_on_host(k, command, STATE)


def host_has(k: int, uuid: str, mac: str) -> list[str]:
    """What hvK still holds of an instance: its domain, its disks, its DHCP entry."""
    found = []
    if uuid in on_host(k, "virsh -q -c qemu:///system list --all --uuid"):
        found.append("domain")
    if uuid in on_host(k, "virsh -q -c qemu:///system vol-list stratus-instances 2>/dev/null || true"):
        found.append("disks")
    if mac and mac in on_host(k, dhcp_entries_command("stratus-demo")):
        found.append("dhcp")
    return found


FILL = {"name": "fill", "flavor": "m1.small", "image": "stratus-guest", "networks": [{"name": "demo"}],
        "availability_zone": "az1:hv3"}
MOVER = {"name": "mover", "flavor": "m1.tiny", "image": "stratus-guest", "networks": [{"name": "demo"}]}


GUEST_IMAGE = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2c01"
# key pairs are the caller's (ADMIN's user)
KEYPAIRS = {"operator": [{"name": "ops", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBDt0000 ops@stratus"}]}
KINDS = [
    # boot from volume (deleted with the server) plus a blank volume that is kept
    {"name": "bfv", "flavor": "m1.tiny", "networks": [{"name": "demo"}], "key_name": "ops",
     "user_data": "I2Nsb3VkLWNvbmZpZwo=",
     "block_device_mapping_v2": [
         {"boot_index": 0, "uuid": GUEST_IMAGE, "source_type": "image", "destination_type": "volume",
          "volume_size": 2, "delete_on_termination": True},
         {"boot_index": -1, "source_type": "blank", "destination_type": "volume", "volume_size": 1}]},
    # image-backed root with the flavor's ephemeral and swap disks
    {"name": "local", "flavor": "m1.small", "image": "stratus-guest", "networks": [{"name": "demo"}],
     "key_name": "ops"},
]


def volumes_on(k: int) -> str:
    return on_host(k, "virsh -q -c qemu:///system vol-list stratus-volumes 2>/dev/null || true")


def test_every_block_device_kind_boots_and_deletes_as_mapped(lab):
    out = playbook(lab, KINDS, stratus_keypairs=KEYPAIRS)
    assert out.returncode == 0, out.stdout[-3000:]
    key_sum = hashlib.sha256(KEYPAIRS["operator"][0]["public_key"].encode()).hexdigest()
    user_data = base64.b64decode(KINDS[0]["user_data"])
    gib = 1024 ** 3
    # root, then the blank volume (bfv) or ephemeral and swap (local): the names Nova defaults, the sizes mapped
    disks = {"bfv": {"vda": 2 * gib, "vdb": gib}, "local": {"vda": 2 * gib, "vdb": gib, "vdc": 64 * 1024 ** 2}}
    for name, data in (("bfv", user_data), ("local", b"")):
        s = server(name)
        (ip,), = rows("select address from ip_allocations where instance_uuid = '%s'" % s["uuid"])
        report = guest_report(STATE, s["uuid"], s["host"])
        assert report[-1] == "STRATUS-GUEST ready name=%s uuid=%s ip=%s" % (name, s["uuid"], ip)
        # the key pair and the user data, as the guest read them from its config drive
        assert "STRATUS-GUEST public_key name=ops sha256=%s" % key_sum in report, report
        seen = dict(d.split("=") for d in next(r for r in report if r.startswith("STRATUS-GUEST disks")).split()[2:])
        assert {d: int(b) for d, b in seen.items() if d.startswith("vd")} == disks[name], report
        assert "sr0" in seen, report  # the config drive
        assert "STRATUS-GUEST user_data bytes=%d sha256=%s" % (
            len(data), hashlib.sha256(data).hexdigest() if data else "-") in report, report
    bfv, local = server("bfv"), server("local")
    vols = rows("select id, delete_on_termination, status from volumes where instance_uuid = '%s' "
                "order by device_name" % bfv["uuid"])
    assert [(v[1], v[2]) for v in vols] == [(1, "reserved"), (0, "reserved")]
    k = int(bfv["host"][-1])
    assert all("volume-" + v[0] in volumes_on(k) for v in vols)
    assert "%s-disk " % bfv["uuid"] not in on_host(k, "virsh -q -c qemu:///system vol-list stratus-instances")
    kl = int(local["host"][-1])
    local_disks = on_host(kl, "virsh -q -c qemu:///system vol-list stratus-instances")
    assert all("%s-disk%s" % (local["uuid"], suffix) in local_disks for suffix in ("", ".eph0", ".swap"))
    again = playbook(lab, KINDS, stratus_keypairs=KEYPAIRS)
    assert all(v["changed"] == 0 for v in recap(again.stdout).values()), again.stdout[-2000:]
    gone = playbook(lab, [{"name": "bfv", "state": "absent"}, {"name": "local", "state": "absent"}])
    assert gone.returncode == 0, gone.stdout[-3000:]
    # the root volume went with the server; the blank one is kept, available, still on its host
    assert "volume-" + vols[0][0] not in volumes_on(k) and "volume-" + vols[1][0] in volumes_on(k)
    assert rows("select status from volumes where id = '%s'" % vols[1][0]) == [("available",)]
    assert local["uuid"] not in on_host(kl, "virsh -q -c qemu:///system vol-list stratus-instances")


def test_stopped_libvirtd_reschedules_onto_the_last_alternate(lab):
    assert playbook(lab, [FILL]).returncode == 0  # hv3 now has the least free RAM: it is tried last
    lab.daemon("stop", "libvirtd", 1)
    lab.daemon("stop", "libvirtd", 2)
    try:
        out = playbook(lab, [FILL, MOVER])
    finally:
        lab.daemon("start", "libvirtd", 1)
        lab.daemon("start", "libvirtd", 2)
    assert out.returncode == 0, out.stdout[-3000:]
    mover = server("mover")
    assert mover["vm_state"] == "active" and mover["host"] == "hv3" and mover["attempts"] == 3
    trail = events(mover["uuid"])
    failed_on = [h for e, h, r in trail if e == "compute_allocate_network" and r == "Error"]
    assert sorted(failed_on) == ["hv1", "hv2"]
    assert [h for e, h, r in trail if e == "conductor_build_instances" and r == "Success"] == [failed_on[1], "hv3"]
    (ip,), = rows("select address from ip_allocations where instance_uuid = '%s'" % mover["uuid"])
    assert console_line_in(STATE, mover["uuid"], "hv3") == \
        "STRATUS-GUEST ready name=mover uuid=%s ip=%s" % (mover["uuid"], ip)
    # libvirt was down, so the failed hosts could not be cleaned: leftovers hold the claim there
    left = rows("select host, vcpus, memory_mb from leftovers where instance_uuid = '%s' order by host"
                % mover["uuid"])
    assert left == [("hv1", 1, 192), ("hv2", 1, 192)]
    # back up: the next run cleans them first, and the servers themselves do not change
    again = playbook(lab, [FILL, MOVER])
    assert again.returncode == 0, again.stdout[-3000:]
    assert rows("select count(*) from leftovers") == [(0,)]
    assert sorted(h for e, h, r in events(mover["uuid"]) if e == "compute_cleanup_leftover") == ["hv1", "hv2"]
    assert recap(again.stdout)["localhost"]["changed"] == 0
    third = playbook(lab, [FILL, MOVER])
    assert all(v["changed"] == 0 for v in recap(third.stdout).values()), third.stdout[-2000:]


def test_forced_host_is_not_rescheduled(lab):
    lab.daemon("stop", "libvirtd", 2)
    try:
        out = playbook(lab, [{"name": "pinned", "flavor": "m1.tiny", "image": "stratus-guest",
                              "networks": [{"name": "demo"}], "availability_zone": "az2:hv2"}])
    finally:
        lab.daemon("start", "libvirtd", 2)
    assert out.returncode != 0  # the report play fails on a server in ERROR
    pinned = server("pinned")
    assert pinned["vm_state"] == "error" and pinned["attempts"] == 1
    assert pinned["fault"]["code"] == "HypervisorUnavailable" and pinned["fault"]["host"] == "hv2"
    assert not [e for e, _h, _r in events(pinned["uuid"]) if e == "conductor_build_instances"]
    assert rows("select count(*) from resource_claims where instance_uuid = '%s'" % pinned["uuid"]) == [(0,)]
    assert rows("select count(*) from ip_allocations where instance_uuid = '%s'" % pinned["uuid"]) == [(0,)]
    gone = playbook(lab, [{"name": "pinned", "state": "absent"}])
    assert gone.returncode == 0, gone.stdout[-3000:]
    assert rows("select count(*) from leftovers") == [(0,)]  # cleaned by the same run


def test_full_base_pool_reschedules_and_cleans_the_host(lab):
    # hv1's base pool becomes a 1 MiB filesystem: the guest image cannot be cached there
    on_host(1, "mkdir -p /var/lib/libvirt/stratus/base && mount -t tmpfs -o size=1m stratus-full "
               "/var/lib/libvirt/stratus/base")
    try:
        # RAM alone decides here (hv1 is emptier than hv3), not hv1's failed builds of the tests before
        out = playbook(lab, [{"name": "roomy", "flavor": "m1.tiny", "image": "stratus-guest",
                              "networks": [{"name": "demo"}], "availability_zone": "az1"}],
                       stratus_scheduler={"weighers": ["RAMWeigher"]})
    finally:
        on_host(1, "umount /var/lib/libvirt/stratus/base")
    assert out.returncode == 0, out.stdout[-3000:]
    roomy = server("roomy")
    assert roomy["vm_state"] == "active" and roomy["host"] == "hv3" and roomy["attempts"] == 2
    trail = events(roomy["uuid"])
    assert ("compute_prep_block_device", "hv1", "Error") in trail
    assert ("compute_cleanup_build", "hv1", "Success") in trail
    (mac,), = rows("select mac from ip_allocations where instance_uuid = '%s'" % roomy["uuid"])
    assert host_has(1, roomy["uuid"], mac) == []  # cleaned at once: nothing left on hv1
    assert rows("select count(*) from leftovers") == [(0,)]


def test_recreate_replaces_the_server_and_cleans_its_old_host(lab):
    old = server("roomy")
    (old_mac,), = rows("select mac from ip_allocations where instance_uuid = '%s'" % old["uuid"])
    conflict = playbook(lab, [{"name": "roomy", "flavor": "m1.small", "image": "stratus-guest",
                               "networks": [{"name": "demo"}], "availability_zone": "az1"}])
    assert conflict.returncode != 0 and "Conflict" in conflict.stdout
    out = playbook(lab, [{"name": "roomy", "flavor": "m1.small", "image": "stratus-guest",
                          "networks": [{"name": "demo"}], "availability_zone": "az1", "recreate": True}])
    assert out.returncode == 0, out.stdout[-3000:]
    new = server("roomy")
    assert new["uuid"] != old["uuid"] and new["vm_state"] == "active"
    assert host_has(int(old["host"][-1]), old["uuid"], old_mac) == []
    assert rows("select vm_state from instances where uuid = '%s'" % old["uuid"]) == [("deleted",)]
    assert rows("select count(*) from leftovers") == [(0,)]
    assert rows("select count(*) from resource_claims where instance_uuid = '%s'" % old["uuid"]) == [(0,)]


def test_delete_while_the_host_is_down_cleans_it_when_it_is_back(lab):
    victim = server("mover")
    k = int(victim["host"][-1])
    (mac,), = rows("select mac from ip_allocations where instance_uuid = '%s'" % victim["uuid"])
    lab.daemon("stop", "sshd", k)
    try:
        playbook(lab, [{"name": "mover", "state": "absent"}])
        # the server is gone for the user; what the host holds is recorded and still counted there
        assert rows("select vm_state from instances where uuid = '%s'" % victim["uuid"]) == [("deleted",)]
        assert rows("select count(*) from resource_claims where instance_uuid = '%s'" % victim["uuid"]) == [(0,)]
        assert rows("select host, vcpus from leftovers where instance_uuid = '%s'" % victim["uuid"]) == \
            [(victim["host"], 1)]
    finally:
        lab.daemon("start", "sshd", k)
    assert "domain" in host_has(k, victim["uuid"], mac)
    back = playbook(lab, [])
    assert back.returncode == 0, back.stdout[-3000:]
    assert host_has(k, victim["uuid"], mac) == []
    assert rows("select count(*) from leftovers") == [(0,)]


def all_domains() -> dict[str, list[str]]:
    return {"hv%d" % k: on_host(k, "virsh -q -c qemu:///system list --all --uuid").split() for k in (1, 2, 3)}


# Where a run is killed: how far its servers (named <name>-N) have got, as the store says; a time
# would land elsewhere on a busy machine, or after the run had ended. Each holds from then on.
KILL_POINTS = {
    # the controller has scheduled and claimed them; the hypervisor steps have not begun or just have
    "scheduled": "select 1 from instances where name like '%s-%%'",
    # the network step is done, the block device step under way
    "disks": "select 1 from instances where name like '%s-%%' and (task_state in ('block_device_mapping', "
             "'spawning') or vm_state = 'active')",
    "spawning": "select 1 from instances where name like '%s-%%' and (task_state = 'spawning' or vm_state = 'active')",
    # the controller has marked them; the delete walk on the hypervisors has not begun or just has
    "deleting": "select 1 from instances where name like '%s-%%' and (task_state = 'deleting' or deleted != '')",
    # a hypervisor has destroyed its domains; disks and DHCP entries go next
    "domains-gone": "select 1 from instances i where i.name like '%s-%%' and (i.deleted != '' or exists ("
                    "select 1 from instance_actions_events e join instance_actions a on a.id = e.action_id "
                    "where a.instance_uuid = i.uuid and e.event in ('compute_shutdown_instance', "
                    "'compute_cleanup_volumes', 'compute_deallocate_network')))",
}


def store_shows(query: str) -> bool:
    """Whether `query` finds a row in the store, read only (never made here); False while it cannot be read."""
    try:
        with contextlib.closing(sqlite3.connect("file:%s?mode=ro" % (STATE / "store" / "stratus.db"), uri=True,
                                                timeout=30)) as db:
            return db.execute(query).fetchone() is not None
    except sqlite3.OperationalError:
        return False


def killed_run(lab: LabSession, servers: list[dict], name: str, point: str) -> None:
    """provision.yml for `servers`, killed with SIGKILL (the whole process group) once the servers named
    `name`-N have got to `point` (KILL_POINTS); a run that ends before that fails the test."""
    proc = subprocess.Popen(lab.provision_argv(servers), cwd=ROOT, env=lab.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or store_shows(KILL_POINTS[point] % name),
                   "%s to get to %s" % (name, point), timeout=600, interval=0.1)
        assert proc.poll() is None, "the run ended (exit %s) before %s got to %s" % (proc.returncode, name, point)
    finally:
        kill_group(proc)


@pytest.mark.parametrize("point", ["scheduled", "disks", "spawning"])
def test_a_run_killed_at_any_point_converges_when_run_again(lab, point):
    servers = [{"name": "k-%s" % point, "flavor": "m1.tiny", "image": "stratus-guest",
                "networks": [{"name": "demo"}], "min_count": 2}]
    killed_run(lab, servers, servers[0]["name"], point)
    again = playbook(lab, servers)
    assert again.returncode == 0, "killed at %s; rerun:\n%s" % (point, again.stdout[-3000:])
    live = rows("select uuid, host, vm_state, task_state from instances where deleted = ''")
    assert all(r[2] == "active" and r[3] is None for r in live), live
    domains = all_domains()
    # every live server has exactly one domain, on its host; no host has a domain the store does not know
    assert sorted(u for us in domains.values() for u in us) == sorted(r[0] for r in live)
    assert all(r[0] in domains[r[1]] for r in live)
    claimed = rows("select instance_uuid from resource_claims")
    assert sorted(c[0] for c in claimed) == sorted(r[0] for r in live)
    assert rows("select count(distinct instance_uuid) from ip_allocations") == [(len(live),)]
    assert rows("select count(*) from leftovers") == [(0,)]
    name = servers[0]["name"]
    gone = playbook(lab, [{"name": "%s-%d" % (name, n), "state": "absent"} for n in (1, 2)])
    assert gone.returncode == 0, gone.stdout[-3000:]  # room (and quota) for the tests that follow


@pytest.mark.parametrize("point", ["deleting", "domains-gone"])
def test_a_delete_killed_midway_converges_when_run_again(lab, point):
    name = "d-%s" % point
    made = playbook(lab, [{"name": name, "flavor": "m1.tiny", "image": "stratus-bench",
                           "networks": [{"name": "demo"}], "min_count": 3}])
    assert made.returncode == 0, made.stdout[-3000:]
    mine = rows("select i.uuid, i.host, a.mac from instances i join ip_allocations a on a.instance_uuid = i.uuid "
                "where i.name like '%s-%%' and i.deleted = ''" % name)
    assert len(mine) == 3
    gone = [{"name": "%s-%d" % (name, n), "state": "absent"} for n in (1, 2, 3)]
    killed_run(lab, gone, name, point)
    again = playbook(lab, gone)
    assert again.returncode == 0, "killed at %s; rerun:\n%s" % (point, again.stdout[-3000:])
    uuids = "', '".join(m[0] for m in mine)
    # deleted in the store, nothing of them held anywhere, nothing half-deleted
    assert rows("select count(*) from instances where uuid in ('%s') and deleted = ''" % uuids) == [(0,)]
    assert rows("select count(*) from instances where deleted = '' and task_state is not null") == [(0,)]
    for table in ("resource_claims", "ip_allocations", "leftovers"):
        assert rows("select count(*) from %s where instance_uuid in ('%s')" % (table, uuids)) == [(0,)], table
    for uuid, host, mac in mine:
        assert host_has(int(host[-1]), uuid, mac) == [], (uuid, host)
    assert all(u not in sum(all_domains().values(), []) for u in (m[0] for m in mine))
