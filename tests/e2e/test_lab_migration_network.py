"""End-to-end: the lab's migration network, and libvirt's own live migration with disk copy across it.

One lab of two hypervisors (its own prefix, subnet and state dir: stxh / 10.242). hv1's libvirt
reaches hv2's over the migration network (qemu+tcp on hv2's migration address); a bare guest of the
lab's image (a qcow2 overlay in hv1's migration pool, 256 MiB) boots on hv1, and
`virsh migrate --live --copy-storage-all` (stratus_lab.migration.virsh_live_migrate, the
live-migration benchmark's floor) moves it to hv2: running there, gone from hv1, its disk on hv2, and
its heartbeat going on on hv2's console with a larger uptime and no new ready line. Needs root.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest

from stratus_lab import migration
from stratus_lab.console import READY, heartbeats
from stratus_lab.host import Host
from stratus_lab.lab import LIBVIRT_TCP_PORT, MIGRATION_IFACE
from stratus_lab.paths import ROOT
from stratus_lab.session import LabSession
from wait_helpers import wait_until  # tests/wait_helpers.py

STATE = Path("/tmp/stratus-e2e-migration")
PREFIX = "stxh"
SUBNET = "10.242"
GUEST_IMAGE = ROOT / "build" / "images" / "stratus-guest.qcow2"
DOMAIN = "mig-1"
BOOT_S = 300.0

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
]


@pytest.fixture(scope="module")
def lab() -> t.Iterator[LabSession]:
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=2) as session:
        yield session


def in_ns(host: Host, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(host.nsenter(list(argv)), capture_output=True, text=True, timeout=120, check=check)


def connect(host: Host, addr: str, port: int) -> str:
    """What a TCP connection from `host`'s namespace to addr:port gives: "ok" or the exception's class."""
    probe = ("import socket\ntry:\n    socket.create_connection((%r, %d), 5).close()\n    print('ok')\n"
             "except ConnectionRefusedError:\n    print('ConnectionRefusedError')\nexcept OSError:\n    print('OSError')"
             % (addr, port))
    return in_ns(host, "python3", "-c", probe).stdout.strip()


def test_each_hypervisor_has_a_migration_address_on_the_lab_bridge(lab):
    hv1, hv2 = lab.host(1), lab.host(2)
    net = ipaddress.ip_network("%s.251.0/24" % SUBNET)
    for hv in (hv1, hv2):
        assert ipaddress.ip_address(hv.migration_addr) in net
        assert hv.migration_uri == "qemu+tcp://%s/system" % hv.migration_addr
        addrs = json.loads(in_ns(hv, "ip", "-j", "-4", "addr", "show", "dev", MIGRATION_IFACE).stdout)
        assert [a["local"] for a in addrs[0]["addr_info"]] == [hv.migration_addr]
        link = json.loads(subprocess.run(["ip", "-j", "link", "show", "dev", hv.migration_link], capture_output=True,
                                         text=True, check=True).stdout)
        assert link[0]["master"] == hv1.lab.migration_bridge
    # the bridge has no address of the host's, and nothing routes there from the host
    bridge = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", hv1.lab.migration_bridge],
                                       capture_output=True, text=True, check=True).stdout)
    assert bridge[0]["addr_info"] == []
    route = subprocess.run(["ip", "-4", "route", "show", str(net)], capture_output=True, text=True, check=True)
    assert route.stdout.strip() == ""
    # the namespaces reach each other there (hv2's sshd is not there: refused, not unreachable), and only there
    assert connect(hv1, hv2.migration_addr, 22) == "ConnectionRefusedError"
    assert connect(hv1, hv2.addr, 22) == "OSError"  # no route to another hypervisor's management address
    assert "default" not in in_ns(hv1, "ip", "-4", "route").stdout


def test_inventory_names_each_hypervisors_migration_uri(lab):
    text = lab.inventory.read_text()
    for k in (1, 2):
        hv = lab.host(k)
        assert '          stratus_migration_address: "%s"' % hv.migration_addr in text
        assert '          stratus_migration_uri: "%s"' % hv.migration_uri in text


def test_libvirtd_listens_on_the_migration_address_only_with_its_own_identity(lab):
    hv1, hv2 = lab.host(1), lab.host(2)
    for hv in (hv1, hv2):
        listening = in_ns(hv, "ss", "-Hltn", "sport = :%d" % LIBVIRT_TCP_PORT).stdout.split()
        assert "%s:%d" % (hv.migration_addr, LIBVIRT_TCP_PORT) in listening, listening
        assert "0.0.0.0:%d" % LIBVIRT_TCP_PORT not in listening
    # hv1 reaches hv2's libvirt over the migration network; each has its own host UUID
    version = in_ns(hv1, "virsh", "-c", hv2.migration_uri, "version", check=False)
    assert version.returncode == 0 and "Running hypervisor" in version.stdout, version.stderr
    caps = {hv.name: in_ns(hv, "virsh", "-c", "qemu:///system", "capabilities").stdout for hv in (hv1, hv2)}
    assert "<uuid>%s</uuid>" % hv1.host_uuid in caps["hv1"] and "<uuid>%s</uuid>" % hv2.host_uuid in caps["hv2"]
    assert hv1.host_uuid != hv2.host_uuid
    # not on the management address: a hypervisor's libvirt is for the lab's hypervisors only
    assert in_ns(hv1, "virsh", "-c", "qemu+tcp://%s/system" % hv2.addr, "version", check=False).returncode != 0


@pytest.mark.skipif(not GUEST_IMAGE.exists(), reason="no guest image: make image")
def test_virsh_live_migration_with_disk_copy_keeps_the_guest_running(lab):
    hv1, hv2 = lab.host(1), lab.host(2)
    migration.ensure_pool(hv2)  # the destination pre-creates the disk in the pool of the same path
    console1 = migration.start_guest(hv1, DOMAIN, GUEST_IMAGE)
    report = wait_until(lambda: READY in console1.read_text(errors="replace") and heartbeats(console1),
                        "the guest's ready line and first heartbeat on hv1", timeout=BOOT_S, interval=0.5)
    hardware = re.findall(r"STRATUS-GUEST hardware mem_kb=(\d+) cpus=(\d+)", console1.read_text(errors="replace"))
    assert len(hardware) == 1 and hardware[0][1] == "1", hardware
    mem_kb = int(hardware[0][0])
    assert 200 * 1024 < mem_kb <= 256 * 1024  # MemTotal: the guest's RAM less the kernel's own
    before = max(report)

    seconds = migration.virsh_live_migrate(hv1, hv2, DOMAIN)
    print("\nvirsh live migration with disk copy: %.1f s" % seconds)

    assert hv2.virsh("domstate", DOMAIN).stdout.strip() == "running"
    assert "Persistent:     yes" in hv2.virsh("dominfo", DOMAIN).stdout
    assert DOMAIN not in hv1.virsh("list", "--all", "--name").stdout.split()
    assert migration.host_disk(hv2, DOMAIN).is_file()
    assert migration.disk_path(DOMAIN) in hv2.virsh("domblklist", DOMAIN).stdout
    # pre-created by hv2's libvirt in its pool, the chain flattened: no backing file there
    info = json.loads(in_ns(hv2, "qemu-img", "info", "-U", "--output=json", migration.disk_path(DOMAIN)).stdout)
    assert info["format"] == "qcow2" and "backing-filename" not in info
    assert migration.host_disk(hv1, DOMAIN).is_file()  # the source's stays: the caller's to delete
    console2 = migration.console_path(hv2, DOMAIN)
    after = wait_until(lambda: [u for u in heartbeats(console2) if u > before], "the heartbeat on hv2's console",
                       timeout=120, interval=0.5)
    assert after[0] > before
    assert READY not in console2.read_text(errors="replace")  # no new boot: the same guest, still running
