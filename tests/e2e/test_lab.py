"""End-to-end test of the lab (stratus_lab.lab): real namespaces, libvirtd, sshd and QEMU.

Uses its own prefix, subnet and a short fixed state dir, so it can run while
the demo lab (prefix "stratus", <repo>/.lab) is up. Needs root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from stratus_lab.host import Host
from stratus_lab.lab import pid_alive
from stratus_lab.machine import lab_links, lab_netns, netns_pids
from stratus_lab.paths import ROOT as REPO, VENV_BIN
from stratus_lab.session import lab_command
from wait_helpers import wait_until  # tests/wait_helpers.py

ANSIBLE = VENV_BIN / "ansible"
ANSIBLE_INVENTORY = VENV_BIN / "ansible-inventory"
# short and fixed: ssh control sockets live under it (unix paths max ~100 chars)
STATE = Path("/tmp/stratus-lab-test")
PREFIX = "stxt"
SUBNET = "10.232"
HYPERVISORS = (1, 2)
MIGRATION_BRIDGE = f"{PREFIX}-mig"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
]

NETWORK_XML = """<network>
  <name>labtest-net</name>
  <bridge name='stxtbr0'/>
  <ip address='192.168.232.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.232.10' end='192.168.232.50'/></dhcp>
  </ip>
</network>
"""


def domain_xml(name: str, virt_type: str, network: str | None) -> str:
    nic = (f"<interface type='network'><source network='{network}'/>"
           "<model type='virtio'/><rom enabled='no'/></interface>") if network else ""
    # no disk: SeaBIOS finds nothing to boot and just sits there
    return f"""<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>{nic}<memballoon model='none'/></devices>
</domain>
"""


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(lab_command(*args, state=STATE), capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert proc.returncode == 0, f"stratus_lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def addr(k: int) -> str:
    return f"{SUBNET}.{k}.2"


def ssh(k: int, command: str, known_hosts: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = Host(STATE, k).ssh(command, check=False, known_hosts=known_hosts, connect_timeout=10)
    if check:
        assert proc.returncode == 0, f"ssh hv{k} {command!r} failed:\n{proc.stderr}"
    return proc


def virsh(k: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return ssh(k, " ".join(["virsh", "-q", "-c", "qemu:///system", *args]), check=check)


def netns_inode(name: str) -> int:
    return os.stat(f"/run/netns/{name}").st_ino


def in_netns(pid: int, name: str) -> bool:
    return os.readlink(f"/proc/{pid}/ns/net") == f"net:[{netns_inode(name)}]"


def comm(pid: int) -> str:
    """A process's command name; '' when it exited meanwhile (helpers come and go)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def status() -> dict:
    return json.loads(lab("status", "--json").stdout)


@pytest.fixture(scope="module")
def lab_up():
    lab("down")  # leftovers of an interrupted earlier run
    started = time.monotonic()
    out = lab("up", "--hypervisors", str(len(HYPERVISORS)), "--prefix", PREFIX,
              "--subnet-base", SUBNET).stdout
    print(f"\nlab up took {time.monotonic() - started:.1f}s\n{out}")
    yield out
    lab("down", check=False)


def test_up_twice_changes_nothing(lab_up):
    before = status()
    out = lab("up", "--hypervisors", str(len(HYPERVISORS)), "--prefix", PREFIX,
              "--subnet-base", SUBNET).stdout
    assert "nothing changed" in out
    assert status() == before


def test_status_reports_every_hypervisor(lab_up):
    st = status()
    assert st["up"] is True
    assert [h["name"] for h in st["hypervisors"]] == ["hv1", "hv2"]
    for k, hv in zip(HYPERVISORS, st["hypervisors"]):
        assert hv["namespace"] == f"{PREFIX}-hv{k}"
        assert hv["address"] == addr(k)
        assert hv["libvirt_reachable"] is True
        assert hv["syslog"] == str(STATE / f"hv{k}" / "root" / "var" / "log" / "messages")
        for daemon in ("syslogd", "virtlogd", "libvirtd", "sshd"):
            pid = hv["pids"][daemon]["pid"]
            assert hv["pids"][daemon]["alive"] and in_netns(pid, hv["namespace"])


def wait_for_line(path: Path, text: str) -> str:
    """The last line of `path` that holds `text`, once there is one."""
    def last() -> str:
        lines = [ln for ln in (path.read_text(errors="replace") if path.exists() else "").splitlines() if text in ln]
        return lines[-1] if lines else ""
    return wait_until(last, "%r in %s" % (text, path))


def test_each_hypervisor_has_its_own_system_log(lab_up):
    """syslog(3) inside hvK lands whole in hvK's log; /dev/log exists in the hypervisors only."""
    long_tail = "x" * 6000 + "END"
    for k in HYPERVISORS:
        ssh(k, f"logger -t labtest only-on-hv{k}; python3 -c 'import syslog; syslog.syslog(\"long-hv{k} {long_tail}\")'"
            "; test -S /dev/log")
    for k in HYPERVISORS:
        log = STATE / f"hv{k}" / "root" / "var" / "log" / "messages"
        assert "labtest: only-on-hv%d" % k in wait_for_line(log, f"only-on-hv{k}")
        assert wait_for_line(log, f"long-hv{k}").endswith(long_tail)  # whole, not cut at 1 KiB
        assert f"only-on-hv{3 - k}" not in log.read_text()
        # the socket is in the hypervisor's /dev overlay, not in the machine's /dev
        assert (STATE / f"hv{k}" / "ovl" / "dev" / "upper" / "log").is_socket()


def test_ssh_uses_pinned_host_keys(lab_up, tmp_path):
    for k in HYPERVISORS:
        ssh(k, "true")
        # the session lives in the hypervisor: its own netns and libvirt dirs
        out = ssh(k, "ip -o -4 addr show dev eth0; test -S /run/libvirt/libvirt-sock && echo sock").stdout
        assert addr(k) in out and "sock" in out
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    assert ssh(1, "true", known_hosts=empty, check=False).returncode != 0


def test_inventory_and_ansible_ping(lab_up):
    inventory = STATE / "inventory.yml"
    listing = subprocess.run([str(ANSIBLE_INVENTORY), "-i", str(inventory), "--list"],
                             capture_output=True, text=True, check=True, cwd=REPO)
    data = json.loads(listing.stdout)
    assert sorted(data["hypervisors"]["hosts"]) == ["hv1", "hv2"]
    hostvars = data["_meta"]["hostvars"]
    assert hostvars["hv1"]["ansible_host"] == addr(1)
    assert hostvars["hv1"]["stratus_availability_zone"] == "az1"
    assert hostvars["hv2"]["stratus_availability_zone"] == "az2"
    assert hostvars["hv2"]["stratus_lab_state_dir"] == str(STATE / "hv2")
    assert hostvars["hv2"]["stratus_migration_address"] == f"{SUBNET}.251.2"
    assert hostvars["hv2"]["stratus_migration_uri"] == f"qemu+tcp://{SUBNET}.251.2/system"
    assert len(hostvars["hv1"]["ansible_ssh_common_args"].split("ControlPath=")[1]) < 100
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    proc = subprocess.run([str(ANSIBLE), "-i", str(inventory), "hypervisors", "-m", "ping"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == 2


def test_libvirt_is_separate_per_hypervisor(lab_up, tmp_path):
    xml = tmp_path / "net.xml"  # /tmp is shared with the hypervisors
    xml.write_text(NETWORK_XML)
    virsh(1, "net-define", str(xml))
    virsh(1, "net-start", "labtest-net")
    assert virsh(1, "net-info", "labtest-net").stdout.count("yes") >= 1
    assert "labtest-net" not in virsh(2, "net-list", "--all", "--name").stdout
    # the bridge and its dnsmasq exist in hv1's namespace only
    assert "stxtbr0" in ssh(1, "ip -o link show").stdout
    assert "stxtbr0" not in ssh(2, "ip -o link show").stdout
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "stxtbr0" not in host_links
    dnsmasq = [p for p in netns_pids(f"{PREFIX}-hv1")
               if comm(p) == "dnsmasq"]
    assert dnsmasq
    assert (STATE / "hv1" / "root" / "var" / "lib" / "libvirt" / "dnsmasq"
            / "labtest-net.conf").exists()


def test_hypervisors_reach_each_others_libvirt_on_the_migration_network(lab_up):
    """eth1 on the lab's bridge; libvirtd on TCP there, and only there (docs/architecture.md, "Migration network")."""
    for k in HYPERVISORS:
        assert f"inet {SUBNET}.251.{k}/24" in ssh(k, "ip -o -4 addr show dev eth1").stdout
    other = f"qemu+tcp://{SUBNET}.251.2/system"
    assert "Running hypervisor" in ssh(1, f"virsh -c {other} version").stdout
    assert ssh(1, f"virsh -c qemu+tcp://{addr(2)}/system version", check=False).returncode != 0
    ports = subprocess.run(["ip", "-o", "link", "show", "master", MIGRATION_BRIDGE], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert sorted(line.split(":")[1].strip().split("@")[0] for line in ports) == [f"{PREFIX}-mig{k}" for k in HYPERVISORS]


def kvm_usable(k: int) -> bool:
    return virsh(k, "domcapabilities", "--virttype", "kvm", check=False).returncode == 0


def test_domains_run(lab_up, tmp_path):
    # KVM when it works (hv1, on the isolated network), plain TCG in hv2
    guests = [(1, "labtest-vm1", "kvm" if kvm_usable(1) else "qemu", "labtest-net"),
              (2, "labtest-vm2", "qemu", None)]
    for k, name, virt_type, network in guests:
        xml = tmp_path / f"{name}.xml"
        xml.write_text(domain_xml(name, virt_type, network))
        virsh(k, "create", str(xml))
        assert virsh(k, "domstate", name).stdout.strip() == "running"
        pidfile = STATE / f"hv{k}" / "root" / "run" / "libvirt" / "qemu" / f"{name}.pid"
        pid = int(pidfile.read_text())
        assert pid_alive(pid) and in_netns(pid, f"{PREFIX}-hv{k}")
        assert name not in virsh(3 - k, "list", "--all", "--name").stdout


def test_down_removes_everything(lab_up):
    lab_pids: set[int] = set()
    for k in HYPERVISORS:
        lab_pids |= netns_pids(f"{PREFIX}-hv{k}")
    qemu = [p for p in lab_pids if comm(p).startswith("qemu")]
    assert len(qemu) == 2  # the guests of test_domains_run are still running

    started = time.monotonic()
    out = lab("down").stdout
    print(f"\nlab down took {time.monotonic() - started:.1f}s\n{out}")
    assert "destroyed domain labtest-vm1" in out and "destroyed domain labtest-vm2" in out

    assert lab_netns(PREFIX) == []
    assert lab_links(PREFIX) == []  # the hypervisors' veths, the migration bridge and its ports
    assert subprocess.run(["ip", "link", "show", "dev", MIGRATION_BRIDGE], capture_output=True,
                          check=False).returncode != 0
    host_addrs = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    assert f" {SUBNET}." not in host_addrs
    assert [p for p in lab_pids if pid_alive(p)] == []
    me = {os.getpid(), os.getppid()}
    strays = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in me:
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(STATE) in cmdline:
                strays.append((entry, cmdline))
    assert strays == []
    assert str(STATE) not in Path("/proc/self/mountinfo").read_text()
    assert not STATE.exists()
    # and down is idempotent
    assert "nothing to do" in lab("down").stdout
