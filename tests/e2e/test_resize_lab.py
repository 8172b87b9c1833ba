"""End-to-end: resize, revert, confirm and cold migration between two real libvirtd + QEMU hypervisors.

One lab of two hypervisors (its own prefix, subnet and state dir: stxy / 10.243), with the lab's migration
network (each libvirtd reachable from the other: stratus_migration_uri). One server of m1.tiny built by
provision.yml, then playbooks/server_action.yml and `stratus server ...`:

- resize to m1.wide (2 vCPUs, 256 MiB, a 2 GiB root disk): the guest's console on the other host reports the new
  memory, vCPUs and root disk size, with the same uuid and IP (VERIFY_RESIZE; the source's domain shut off);
- revert: the old memory, vCPUs and root disk back on the old host; the destination holds neither a domain nor a
  disk of the server, and its claim is back on the old host;
- resize again, then confirm: the old host's claim, domain and disks are gone;
- cold migration (admin): the server on the other host with its IP; the same request again changes nothing;
  confirmed by the confirm window (playbooks/confirm_resizes.yml); a confirm asked then changes nothing;
- declarative (provision.yml): a request naming another flavor and image with allow_resize and allow_rebuild
  rebuilds the server onto the other image, resizes and confirms it (the console shows the image's label and
  the new sizes); a rerun changes nothing; a flavor with a smaller disk is refused (ResizeError);
- a second server booted from a volume with a data volume, cold-migrated then confirmed: the guest boots from
  its root volume on the other host and its console's `disks` line shows both volumes there; until the confirm
  the source keeps its copies, then its volume pool is empty of them; migrated back with the destination failing
  to define its domain (another domain there holds its name): no volume copy stays there, the server is ERROR on
  its host, and a hard reboot starts it there with both volumes.

The lab's guest ignores ACPI: a short clean-shutdown window keeps the power-offs quick. Needs root.
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
import yaml

from stratus_lab import inventory_overlay
from stratus_lab.audit import audit
from stratus_lab.ansible_run import playbook_argv, recap, run_merged
from stratus_lab.console import guest_report
from stratus_lab.paths import DEMO_INVENTORY, ROOT
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url

STATE = Path("/tmp/stratus-e2e-resize")
PREFIX = "stxy"
SUBNET = "10.243"
STRATUS = ROOT / ".venv" / "bin" / "stratus"
ACTIONS = ROOT / "playbooks" / "server_action.yml"
DEMO = {"user_id": "demo", "project_id": "demo", "roles": ["member"]}
ADMIN = ("--user", "root", "--project", "ops", "--role", "admin")
WEB = {"name": "web", "flavor": "m1.tiny", "image": "stratus-guest", "networks": [{"name": "demo"}]}
# a flavor of this test's catalog: more vCPUs, memory and root disk than m1.tiny, and no ephemeral or swap disk
WIDE = {"id": "40", "name": "m1.wide", "vcpus": 2, "ram": 256, "disk": 2, "ephemeral": 0, "swap": 0}
# and one with a larger root disk still, for the declarative resize
TALL = {"id": "41", "name": "m1.tall", "vcpus": 1, "ram": 256, "disk": 3, "ephemeral": 0, "swap": 0}
GiB = 1024 ** 3
BOOT_S = 300.0
GUEST_IMAGE = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2c01"  # the demo catalog's stratus-guest
# booted from a 2 GiB volume made from the guest image, with a 1 GiB blank data volume that outlives it
BFV = {"name": "bfv", "flavor": "m1.tiny", "networks": [{"name": "demo"}], "block_device_mapping_v2": [
    {"boot_index": 0, "uuid": GUEST_IMAGE, "source_type": "image", "destination_type": "volume", "volume_size": 2,
     "delete_on_termination": True},
    {"boot_index": -1, "source_type": "blank", "destination_type": "volume", "volume_size": 1}]}
HARDWARE = re.compile(r"STRATUS-GUEST hardware mem_kb=(\d+) cpus=(\d+)")
DISKS = re.compile(r"STRATUS-GUEST disks .*\bvda=(\d+)")
IMAGE = re.compile(r"STRATUS-GUEST image label=(\S+)")

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
]


def catalog(**variables: t.Any) -> dict[str, t.Any]:
    """This test's catalog (the demo's flavors, m1.wide and m1.tall), a short shutdown window, and `variables`."""
    demo = yaml.safe_load((ROOT / "inventory" / "group_vars" / "all" / "catalog.yml").read_text())
    return dict({"stratus_flavors": demo["stratus_flavors"] + [WIDE, TALL],
                 "stratus_shutdown_timeout": 3, "stratus_shutdown_retry_interval": 1}, **variables)


def overlay(**variables: t.Any) -> Path:
    return inventory_overlay.write(STATE / "resize-overlay", catalog(**variables))


@pytest.fixture(scope="module")
def lab() -> t.Iterator[LabSession]:
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=2, caller=DEMO) as session:
        yield session


def rows(query: str) -> list[tuple]:
    return [tuple(row) for row in store_rows(sqlite_url(STATE / "store"), query)]


def server() -> tuple[str, str, t.Optional[str], str]:
    ((uuid, vm_state, task_state, host),) = rows(
        "select uuid, vm_state, task_state, host from instances where name = 'web' and deleted = ''")
    return uuid, vm_state, task_state, host


def other(host: str) -> str:
    return "hv1" if host == "hv2" else "hv2"


def run_actions(lab: LabSession, actions: list[dict[str, t.Any]]) -> t.Any:
    return run_merged(playbook_argv(ACTIONS, [lab.inventory, DEMO_INVENTORY, overlay()],
                                    {"stratus_actions": actions}), lab.env, 900)


def cli_run(lab: LabSession, *args: str) -> subprocess.CompletedProcess:
    """The CLI on the lab's inventories and this test's overlay; JSON out."""
    return subprocess.run([str(STRATUS), "-i", str(lab.inventory), "-i", str(DEMO_INVENTORY), "-i", str(overlay()),
                           *args, "-o", "json"], capture_output=True, text=True,
                          env=dict(lab.env, STRATUS_LAB_DIR=str(STATE)), cwd=str(STATE), timeout=900, check=False)


def cli(lab: LabSession, *args: str) -> dict[str, t.Any]:
    proc = cli_run(lab, *args)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


def on_host(host: str, command: str) -> str:
    return LabSession(STATE, PREFIX, SUBNET, hypervisors=2).host(int(host[2:])).in_namespaces(command).strip()


def domains(host: str) -> list[str]:
    return on_host(host, "virsh -q -c qemu:///system list --all --uuid").split()


def domstate(host: str, uuid: str) -> str:
    return on_host(host, "virsh -c qemu:///system domstate %s" % uuid)


def disks(host: str, uuid: str) -> list[str]:
    """The server's files in `host`'s instance pool (its disks, config drive, same-host clones)."""
    pool = STATE / host / "root" / "var" / "lib" / "libvirt" / "stratus" / "instances"
    return sorted(p.name for p in pool.glob(uuid + "*")) if pool.is_dir() else []


def seen(uuid: str, host: str) -> tuple[int, int, int, str]:
    """What the guest's console on `host` says after its latest boot: (memory kB, vCPUs, root disk bytes, the ready
    line's uuid and ip)."""
    report = guest_report(STATE, uuid, host, timeout=BOOT_S)
    assert report, "no ready line from %s on %s" % (uuid, host)
    # the console log is QEMU's of the latest start: one boot's lines
    hardware = [m for m in map(HARDWARE.search, report) if m][-1]
    root = [m for m in map(DISKS.search, report) if m][-1]
    ready = [line for line in report if line.startswith("STRATUS-GUEST ready")][-1]
    return int(hardware.group(1)), int(hardware.group(2)), int(root.group(1)), ready.split(" ", 3)[-1]


def claims_of(uuid: str) -> list[tuple]:
    return rows("select host, vcpus, memory_mb, disk_gb from resource_claims where instance_uuid = '%s'" % uuid)


def test_a_server_to_resize(lab: LabSession) -> None:
    run = lab.provision([WEB])
    assert run.returncode == 0, run.stdout[-3000:]
    uuid, _vm, _task, host = server()
    ((ip,),) = rows("select address from ip_allocations where instance_uuid = '%s'" % uuid)
    mem_kb, cpus, root, ready = seen(uuid, host)
    assert cpus == 1 and mem_kb < 192 * 1024 and root == GiB and ready.endswith("uuid=%s ip=%s" % (uuid, ip))


def test_resize_moves_it_with_the_new_flavor_and_revert_brings_it_back(lab: LabSession) -> None:
    uuid, _vm, _task, source = server()
    dest = other(source)
    before = seen(uuid, source)
    claim = claims_of(uuid)
    run = run_actions(lab, [{"server": "web", "action": "resize", "flavor": "m1.wide"}])
    assert run.returncode == 0, run.stdout[-3000:]
    assert server()[1:] == ("resized", None, dest)
    mem_kb, cpus, root, ready = seen(uuid, dest)
    assert (cpus, root, ready) == (2, 2 * GiB, before[3]) and mem_kb > before[0] + 48 * 1024
    assert domstate(source, uuid) == "shut off"             # kept for a revert
    assert claims_of(uuid) == [(dest, 2, 256, 2)]
    shown = cli(lab, "server", "show", "web")["server"]
    assert shown["status"] == "VERIFY_RESIZE"
    assert {k: shown["migration"][k] for k in ("type", "status", "source", "dest")} == {
        "type": "resize", "status": "finished", "source": source, "dest": dest}
    out = cli(lab, "server", "revert-resize", "web")
    assert [(s["id"], s["host"], s["status"]) for s in out["servers"]] == [(uuid, source, "ACTIVE")], out
    assert seen(uuid, source)[:3] == before[:3] and seen(uuid, source)[3] == before[3]
    assert uuid not in domains(dest) and disks(dest, uuid) == []
    assert claims_of(uuid) == claim
    assert "migration" not in cli(lab, "server", "show", "web")["server"]


def test_resize_then_confirm_frees_the_old_host(lab: LabSession) -> None:
    uuid, _vm, _task, source = server()
    dest = other(source)
    cli(lab, "server", "resize", "web", "--flavor", "m1.wide")
    assert server()[1:] == ("resized", None, dest) and seen(uuid, dest)[1] == 2
    out = cli(lab, "server", "confirm-resize", "web")
    assert [(s["host"], s["status"]) for s in out["servers"]] == [(dest, "ACTIVE")], out
    assert uuid not in domains(source) and disks(source, uuid) == []
    assert claims_of(uuid) == [(dest, 2, 256, 2)]
    assert rows("select status from migrations where instance_uuid = '%s' order by id desc limit 1" % uuid) == [
        ("confirmed",)]
    assert rows("select count(*) from leftovers where instance_uuid = '%s'" % uuid) == [(0,)]
    assert seen(uuid, dest)[1:3] == (2, 2 * GiB)            # still running with the new flavor


def test_cold_migration_and_its_rerun(lab: LabSession) -> None:
    uuid, _vm, _task, source = server()
    dest = other(source)
    ready = seen(uuid, source)[3]
    out = cli(lab, *ADMIN, "server", "migrate", uuid)
    assert [(s["host"], s["status"]) for s in out["servers"]] == [(dest, "VERIFY_RESIZE")], out
    assert seen(uuid, dest)[1:] == (2, 2 * GiB, ready)         # same flavor, uuid and IP on the other host
    again = cli(lab, *ADMIN, "server", "migrate", uuid)        # the same request again: nothing to do
    assert again["changed"] is False
    # the confirm window (1 s, long past): playbooks/confirm_resizes.yml confirms it and cleans the source
    run = run_merged(playbook_argv(ROOT / "playbooks" / "confirm_resizes.yml",
                                   [lab.inventory, DEMO_INVENTORY, overlay(stratus_resize_confirm_window=1)], {}),
                     lab.env, 900)
    assert run.returncode == 0, run.stdout[-3000:]
    assert server()[1:] == ("active", None, dest) and uuid not in domains(source) and disks(source, uuid) == []
    assert rows("select a.user_id, e.event, e.result from instance_actions a join instance_actions_events e on "
                "e.action_id = a.id where a.instance_uuid = '%s' order by e.id desc limit 1" % uuid) == [
        ("stratus", "compute_confirm_resize", "Success")]
    rerun = run_actions(lab, [{"server": "web", "action": "confirm_resize"}])
    assert rerun.returncode == 0 and all(v["changed"] == 0 for v in recap(rerun.stdout).values()), rerun.stdout[-3000:]


def test_a_request_with_another_flavor_and_image_resizes_and_rebuilds_when_it_opts_in(lab: LabSession) -> None:
    uuid, _vm, _task, host = server()
    dest = other(host)
    mem_before, _cpus, _root, ready = seen(uuid, host)
    flavor_now = rows("select flavor from instances where uuid = '%s'" % uuid)
    # a flavor with a smaller root disk than the server's (m1.wide's 2 GiB): refused (Nova's ResizeError), nothing
    # changed
    shrink = lab.provision([dict(WEB, allow_resize=True)], catalog())
    assert shrink.returncode != 0 and "ResizeError: Unable to resize disk down." in shrink.stdout, shrink.stdout[-3000:]
    assert server() == (uuid, "active", None, host) and rows(
        "select flavor from instances where uuid = '%s'" % uuid) == flavor_now
    # another flavor and image, opted in: rebuilt onto the image, then resized to the flavor and confirmed
    wanted = dict(WEB, flavor="m1.tall", image="stratus-guest-b", allow_resize=True, allow_rebuild=True)
    run = lab.provision([wanted], catalog())
    assert run.returncode == 0, run.stdout[-3000:]
    assert server() == (uuid, "active", None, dest)
    report = guest_report(STATE, uuid, dest, timeout=BOOT_S)
    assert [m.group(1) for m in map(IMAGE.search, report) if m] == ["b"], report
    mem_kb, cpus, root, again = seen(uuid, dest)
    assert (cpus, root, again) == (1, 3 * GiB, ready) and abs(mem_kb - mem_before) < 8 * 1024  # m1.wide's RAM
    assert claims_of(uuid) == [(dest, 1, 256, 3)]
    assert uuid not in domains(host) and disks(host, uuid) == []
    assert rows("select action from instance_actions where instance_uuid = '%s' order by id desc limit 3" % uuid) == [
        ("confirmResize",), ("resize",), ("rebuild",)]
    # the same request again: nothing to do anywhere
    rerun = lab.provision([wanted], catalog())
    assert rerun.returncode == 0 and all(v["changed"] == 0 for v in recap(rerun.stdout).values()), rerun.stdout[-3000:]


def volume_files(host: str) -> list[str]:
    """The files in `host`'s volume pool."""
    pool = STATE / host / "root" / "var" / "lib" / "libvirt" / "stratus" / "volumes"
    return sorted(p.name for p in pool.iterdir()) if pool.is_dir() else []


def guest_disks(uuid: str, host: str) -> dict[str, int]:
    """The sizes of the guest's disks as its console's latest `disks` line reports them on `host`."""
    report = guest_report(STATE, uuid, host, timeout=BOOT_S)
    line = [r for r in report if r.startswith("STRATUS-GUEST disks")][-1]
    return {d: int(b) for d, b in (w.split("=") for w in line.split()[2:]) if d.startswith("vd")}


def test_a_server_booted_from_a_volume_migrates_with_its_volumes(lab: LabSession) -> None:
    run = lab.provision([BFV])
    assert run.returncode == 0, run.stdout[-3000:]
    ((uuid, source),) = rows("select uuid, host from instances where name = 'bfv' and deleted = ''")
    dest = other(source)
    ids = rows("select id from volumes where instance_uuid = '%s' order by device_name" % uuid)
    files = ["volume-%s" % v for (v,) in ids]
    assert len(files) == 2 and set(files) <= set(volume_files(source)), volume_files(source)
    assert guest_disks(uuid, source) == {"vda": 2 * GiB, "vdb": GiB}
    out = cli(lab, *ADMIN, "server", "migrate", uuid)
    assert [(s["host"], s["status"]) for s in out["servers"]] == [(dest, "VERIFY_RESIZE")], out
    # the guest boots from its root volume's copy on the other host, its data volume attached there
    assert guest_disks(uuid, dest) == {"vda": 2 * GiB, "vdb": GiB}
    # until the confirm the source keeps its copies (a revert's), and the volumes are still the source's
    assert set(files) <= set(volume_files(source)) and set(files) <= set(volume_files(dest))
    assert rows("select distinct host from volumes where instance_uuid = '%s'" % uuid) == [(source,)]
    out = cli(lab, "server", "confirm-resize", "bfv")
    assert [(s["host"], s["status"]) for s in out["servers"]] == [(dest, "ACTIVE")], out
    assert not set(files) & set(volume_files(source)) and set(files) <= set(volume_files(dest))
    assert rows("select distinct host from volumes where instance_uuid = '%s'" % uuid) == [(dest,)]
    assert uuid not in domains(source)
    assert rows("select count(*) from leftovers where instance_uuid = '%s'" % uuid) == [(0,)]


# another domain (another uuid) holding a server's domain name: libvirt refuses to define the server's beside it
SQUATTER = ("<domain type='qemu'><name>%s</name><uuid>0e5c1f7a-8b2d-4c6e-9a1f-3d7b5e9c2a40</uuid>"
            "<memory unit='MiB'>16</memory><os><type arch='x86_64'>hvm</type></os></domain>")


def test_a_move_failing_on_its_destination_leaves_no_volume_copy_there(lab: LabSession) -> None:
    """The bfv server migrated back, its destination failing to define the domain after the volumes arrived
    (injected: another domain there holds its domain's name): the destination's copies go, the server is back on
    its host in ERROR; a hard reboot starts it there on both volumes; the audit finds no stray volume."""
    ((uuid, source, plan),) = rows("select uuid, host, plan from instances where name = 'bfv' and deleted = ''")
    dest = other(source)
    name = json.loads(plan).get("domain_name") or "instance-%s" % uuid  # the plan's default
    files = ["volume-%s" % v for (v,) in rows("select id from volumes where instance_uuid = '%s'" % uuid)]
    on_host(dest, "echo \"%s\" | virsh -q -c qemu:///system define /dev/stdin" % (SQUATTER % name))
    try:
        proc = cli_run(lab, *ADMIN, "server", "migrate", uuid)
    finally:
        on_host(dest, "virsh -q -c qemu:///system undefine %s" % name)
    # the domain step's error is the server's fault, recorded on the destination
    assert proc.returncode != 0 and "already exists with uuid" in proc.stdout, proc.stdout[-3000:]
    ((host, vm_state, fault),) = rows("select host, vm_state, fault from instances where uuid = '%s'" % uuid)
    assert (host, vm_state, json.loads(fault)["host"]) == (source, "error", dest)
    assert not set(files) & set(volume_files(dest)) and set(files) <= set(volume_files(source))
    assert uuid not in domains(dest) and disks(dest, uuid) == []
    assert rows("select distinct host from volumes where instance_uuid = '%s'" % uuid) == [(source,)]
    assert rows("select host from resource_claims where instance_uuid = '%s'" % uuid) == [(source,)]
    assert rows("select count(*) from leftovers where instance_uuid = '%s'" % uuid) == [(0,)]
    out = cli(lab, "server", "reboot", "--hard", "bfv")
    assert [(s["host"], s["status"]) for s in out["servers"]] == [(source, "ACTIVE")], out
    # running there on its own volumes (the guest's boot is test_a_server_booted_from_a_volume_...'s to show)
    assert domstate(source, uuid) == "running"
    attached = on_host(source, "virsh -q -c qemu:///system domblklist %s" % uuid)
    assert all(f in attached for f in files), attached
    assert audit(lab)["volume"] == []
