"""Stratus lab: real libvirt/QEMU hypervisors on one machine.

Each hypervisor hvK is a network namespace plus a persistent mount namespace
with private libvirt directories and a private /dev (an overlay: its /dev/log
exists there only), running its own system log (stratus_lab/syslogd.py, into
<state>/hvK/root/var/log/messages), virtlogd, libvirtd and sshd. A second veth (eth1)
puts every hypervisor on the lab's migration network, where its libvirtd also listens on
TCP (docs/architecture.md, "Migration network").

    python -m stratus_lab up [--hypervisors N] [--baremetal N] [--state-dir DIR] [--prefix P] [--subnet-base A.B]
    python -m stratus_lab down [--state-dir DIR]
    python -m stratus_lab status [--json] [--state-dir DIR]
    python -m stratus_lab daemon stop|start DAEMON --hv K [--state-dir DIR]

With --baremetal N the lab also gets a BMC namespace (stratus_lab/baremetal.py): N blank
nodes behind a Redfish emulator (sushy-tools) and virtual IPMI BMCs (virtualbmc).

Everything the lab creates is recorded in <state>/lab.json, so `down` removes
exactly what `up` made and nothing else.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Iterator

from stratus_lab.paths import ROOT, VENV_BIN, VENV_PYTHON

DEFAULT_STATE_DIR = ROOT / ".lab"
DEFAULT_PREFIX = "stratus"
DEFAULT_SUBNET_BASE = "10.231"
LAB_JSON_VERSION = 1

# Daemons get a clean environment so nothing from the caller (venv PATH,
# proxies, LD_* ...) leaks into the hypervisor.
DAEMON_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}
REQUIRED_TOOLS = ["ip", "nsenter", "unshare", "virsh", "ssh", "ssh-keygen",
                  "/usr/sbin/libvirtd", "/usr/sbin/virtlogd", "/usr/sbin/sshd",
                  "/usr/sbin/iptables"]
# Host paths the lab hides behind private mounts; a state dir inside one of
# them would be invisible to the hypervisor's own daemons.
SHADOWED_PATHS = ["/run", "/var/run", "/var/log", "/var/cache", "/var/lib", "/etc/libvirt", "/dev",
                  "/sys", "/proc"]
# In start order (the system log first: dnsmasq and Ansible's modules log there); stopped backwards.
DAEMONS = ("syslogd", "virtlogd", "libvirtd", "sshd")
# Daemons that are Python scripts of the lab: known by their script, not by their executable.
DAEMON_SCRIPTS = {"syslogd": Path(__file__).resolve().parent / "syslogd.py",
                  # the BMC namespace's emulators (stratus_lab/baremetal.py), run by the venv's Python
                  "sushy-emulator": VENV_BIN / "sushy-emulator", "vbmcd": VENV_BIN / "vbmcd",
                  "media-server": Path(__file__).resolve().parent / "media_server.py"}
SYSLOG_FILE = "/var/log/messages"
LIBVIRT_URI = "qemu:///system"
# The migration network ("Migration network" in docs/architecture.md): hvK's second veth (eth1 in its
# namespace) on one bridge of the lab, address {base}.251.K/24. The third octet is above every hypervisor's
# /24 (--hypervisors is at most 200) and the BMC namespace's (250); the catalogs' guest networks use a third
# octet of 0 or other /16s. The bridge has no address: nothing routes into or out of it.
MIGRATION_OCTET = 251
MIGRATION_IFACE = "eth1"
LIBVIRT_TCP_PORT = 16509
# host_uuid of hvK's libvirtd: uuid5 of this and "<state dir>/hvK" (libvirt refuses to migrate between
# two daemons with the same host UUID, and every lab libvirtd would otherwise read the machine's one)
HOST_UUID_NAMESPACE = uuid.UUID("3d8c0f5e-7a41-4b6e-9f2d-51c8a0e6b7d4")

# mount(2) flags
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_BIND = 4096
MS_MOVE = 8192
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


class LabError(Exception):
    """An expected failure: reported as one line, never as a traceback."""


# --------------------------------------------------------------------------
# small helpers


def run(argv: list[str], *, timeout: float = 60, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=env, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"timed out after {timeout:.0f}s: {' '.join(argv)}") from None
    except FileNotFoundError:
        raise LabError(f"command not found: {argv[0]}") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise LabError(f"{' '.join(argv)} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return proc


def mount(source: str, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    # ctypes rather than mount(8): no /etc/mtab games, exact flags, clear errors.
    rc = _libc.mount(source.encode(), target.encode(),
                     fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                     data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise LabError(f"mount {source} on {target} failed: {os.strerror(err)}")


def umount(target: str, lazy: bool = False) -> None:
    if _libc.umount2(target.encode(), MNT_DETACH if lazy else 0) != 0:
        err = ctypes.get_errno()
        raise LabError(f"umount {target} failed: {os.strerror(err)}")


def mountinfo(pid: str = "self") -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount visible to `pid`."""
    with open(f"/proc/{pid}/mountinfo") as f:
        return parse_mountinfo(f.read())


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    result = []
    for line in text.splitlines():
        fields = line.split()
        sep = fields.index("-")
        # mountinfo escapes space, tab, newline and backslash as octal
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        result.append((target, fields[sep + 1]))
    return result


def is_mountpoint(path: Path, fstype: str | None = None) -> bool:
    return any(t == str(path) and (fstype is None or f == fstype) for t, f in mountinfo())


def write_if_changed(path: Path, content: str, mode: int = 0o644) -> bool:
    if path.exists() and path.read_text() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content)
    tmp.chmod(mode)
    tmp.replace(path)
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def proc_ns(pid: int, kind: str) -> int | None:
    try:
        link = os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None
    m = re.match(rf"{kind}:\[(\d+)\]", link)
    return int(m.group(1)) if m else None


def all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


# How long a process may take to go once SIGKILLed before it counts as surviving: far more than it
# takes on a loaded machine (a wait ends as soon as every process is gone).
KILLED_GONE_S = 60.0


def kill_and_wait(pids: list[int], grace: float = 5.0) -> list[int]:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; returns survivors."""
    pids = [p for p in pids if pid_alive(p)]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if pid_alive(pid):
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + KILLED_GONE_S
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if pid_alive(p)]


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------
# lab model


@dataclass
class Lab:
    state: Path
    prefix: str
    subnet_base: str
    hypervisors: list[int]
    iptables: str = "nft"
    # up created the state dir, so down may remove it with all it contains
    # (e.g. the demo's store); otherwise down removes only the lab's entries
    owns_state_dir: bool = False
    # bare-metal nodes of the BMC namespace (0: none), and their records (stratus_lab/baremetal.py)
    baremetal: int = 0
    nodes: list[dict[str, object]] | None = None
    # where the BMCs download deploy media from: the directory and its URL (stratus_lab/baremetal.py)
    media_dir: str | None = None
    media_url: str | None = None
    # the node network's TFTP root: the nodes' PXE files (stratus_lab/baremetal.py, baremetal/pxe.py)
    tftp_root: str | None = None

    @property
    def lab_json(self) -> Path:
        return self.state / "lab.json"

    @property
    def ssh_dir(self) -> Path:
        return self.state / "ssh"

    @property
    def key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def control_dir(self) -> Path:
        return self.state / "cm"

    @property
    def inventory(self) -> Path:
        return self.state / "inventory.yml"

    def hv(self, k: int) -> "Hypervisor":
        return Hypervisor(self, k)

    @property
    def short_prefix(self) -> str:
        # "stx" keeps the default names short and recognisable (IFNAMSIZ is 16)
        return "stx" if self.prefix == DEFAULT_PREFIX else self.prefix

    @property
    def migration_bridge(self) -> str:
        return f"{self.short_prefix}-mig"

    @property
    def migration_network(self) -> str:
        return f"{self.subnet_base}.{MIGRATION_OCTET}.0/24"

    def save(self) -> None:
        data = {"version": LAB_JSON_VERSION, "prefix": self.prefix,
                "subnet_base": self.subnet_base, "hypervisors": sorted(self.hypervisors),
                "iptables": self.iptables, "owns_state_dir": self.owns_state_dir,
                "baremetal": self.baremetal, "nodes": self.nodes or [],
                "media_dir": self.media_dir, "media_url": self.media_url, "tftp_root": self.tftp_root}
        write_if_changed(self.lab_json, json.dumps(data, indent=2) + "\n")


def load_lab(state: Path) -> Lab | None:
    path = state / "lab.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Lab(state=state, prefix=data["prefix"], subnet_base=data["subnet_base"],
                   hypervisors=[int(k) for k in data["hypervisors"]],
                   iptables=data.get("iptables", "nft"),
                   owns_state_dir=bool(data.get("owns_state_dir", False)),
                   baremetal=int(data.get("baremetal", 0)), nodes=list(data.get("nodes", [])),
                   media_dir=data.get("media_dir"), media_url=data.get("media_url"),
                   tftp_root=data.get("tftp_root"))
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError(f"{path} is unreadable ({exc}); remove it by hand") from None


@dataclass
class Hypervisor:
    lab: Lab
    k: int
    # daemons in start order; those in `foreground` stay attached and are detached by start_daemon
    daemons: tuple[str, ...] = DAEMONS
    foreground: frozenset[str] = frozenset()
    # on the lab's migration network, its libvirtd listening there (the BMC namespace is not)
    migrates: bool = True

    def argv_of(self, daemon: str) -> list[str]:
        return daemon_argv(self, daemon)

    def env_of(self, daemon: str) -> dict[str, str]:  # pylint: disable=unused-argument
        return DAEMON_ENV

    @property
    def name(self) -> str:
        return f"hv{self.k}"

    @property
    def octet(self) -> int:
        """The third octet of its /24 on the lab's subnet: the host side .1, the namespace .2."""
        return self.k

    @property
    def netns(self) -> str:
        return f"{self.lab.prefix}-{self.name}"

    @property
    def host_link(self) -> str:
        return f"{self.lab.short_prefix}-{self.name}"

    @property
    def migration_link(self) -> str:
        """The host end of its migration veth, on the lab's bridge (at most 8 + 7 characters)."""
        return f"{self.lab.short_prefix}-mig{self.k}"

    @property
    def migration_addr(self) -> str:
        """Its address on the lab's migration network (eth1 in its namespace)."""
        return f"{self.lab.subnet_base}.{MIGRATION_OCTET}.{self.k}"

    @property
    def migration_uri(self) -> str:
        """How another hypervisor's libvirt reaches this one's: plain TCP, no auth (a lab convenience)."""
        return f"qemu+tcp://{self.migration_addr}/system"

    @property
    def host_uuid(self) -> str:
        return str(uuid.uuid5(HOST_UUID_NAMESPACE, str(self.dir)))

    @property
    def host_addr(self) -> str:
        return f"{self.lab.subnet_base}.{self.octet}.1"

    @property
    def addr(self) -> str:
        return f"{self.lab.subnet_base}.{self.octet}.2"

    @property
    def dir(self) -> Path:
        return self.lab.state / self.name

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def ns_dir(self) -> Path:
        return self.dir / "ns"

    @property
    def mntns(self) -> Path:
        return self.ns_dir / "mnt"

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"

    def pidfile(self, daemon: str) -> Path:
        return self.dir / "pids" / f"{daemon}.pid"

    @property
    def syslog(self) -> Path:
        """The hypervisor's system log, as the machine sees it."""
        return self.root / SYSLOG_FILE.lstrip("/")

    @property
    def sshd_dir(self) -> Path:
        return self.dir / "sshd"

    @property
    def host_key(self) -> Path:
        return self.sshd_dir / "ssh_host_ed25519_key"

    def nsenter(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net={self.netns_path}", f"--mount={self.mntns}", "--", *argv]

    def virsh(self, *args: str, timeout: float = 30,
              check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.nsenter(["virsh", "-q", "-c", LIBVIRT_URI, *args]), timeout=timeout,
                   check=check, env=DAEMON_ENV)


# --------------------------------------------------------------------------
# validation


def validate_prefix(prefix: str) -> str:
    # short, so "<prefix>-hvNNN" fits in an interface name (15 chars)
    if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", prefix):
        raise LabError(f"invalid --prefix {prefix!r}: use 1-8 lowercase letters/digits, starting with a letter")
    return prefix


def validate_subnet_base(base: str) -> str:
    m = re.fullmatch(r"(\d{1,3})\.(\d{1,3})", base)
    if not m or any(int(x) > 255 for x in m.groups()):
        raise LabError(f"invalid --subnet-base {base!r}: expected two octets such as 10.231")
    if not ipaddress.ip_address(f"{base}.1.1").is_private:
        raise LabError(f"--subnet-base {base} is not a private range; refusing to shadow public addresses")
    return base


def validate_state_dir(state: Path) -> Path:
    state = state.expanduser().absolute()
    s = str(state)
    if re.search(r"\s", s):
        raise LabError(f"state dir {s!r} contains whitespace (sshd config cannot quote it)")
    for shadowed in SHADOWED_PATHS:
        if s == shadowed or s.startswith(shadowed + "/"):
            raise LabError(f"state dir {s} is under {shadowed}, which the lab hides inside each hypervisor")
    # ssh's ControlPath is a unix socket (108 bytes) and ssh briefly adds a
    # 17-char suffix to "<state>/cm/<40 hex chars>"
    if len(s) > 46:
        raise LabError(f"state dir {s} is too long (max 46 chars) for ssh control sockets")
    return state


def check_host() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network and mount namespaces, libvirtd)")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)} (see setup/apt-packages.txt)")


class StateLock:
    """flock on <state>/.lock so two lab commands never interleave."""

    def __init__(self, state: Path) -> None:
        self.path = state / ".lock"
        self.fd = -1

    def __enter__(self) -> "StateLock":
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise LabError(f"another lab command is running on {self.path.parent}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


# --------------------------------------------------------------------------
# config files


def libvirtd_conf(hv: Hypervisor | None = None) -> str:
    """Unix socket only; a hypervisor on the migration network also listens on TCP there (and only
    there), without authentication: a lab convenience (production uses qemu+tls or qemu+ssh)."""
    unix = """\
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
"""
    if hv is None or not hv.migrates:
        return "# Written by the stratus lab: unix socket only, no TCP/TLS listener.\nlisten_tls = 0\nlisten_tcp = 0\n" + unix
    return f"""\
# Written by the stratus lab: unix socket, and TCP on {hv.name}'s migration address only
# (no authentication: a lab convenience; production uses qemu+tls or qemu+ssh between hypervisors).
listen_tls = 0
listen_tcp = 1
listen_addr = "{hv.migration_addr}"
tcp_port = "{LIBVIRT_TCP_PORT}"
auth_tcp = "none"
# its own, so that libvirt migrates between two hypervisors of one machine
host_uuid = "{hv.host_uuid}"
""" + unix


def virtlogd_conf() -> str:
    return """\
# Written by the stratus lab
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
"""


def qemu_conf() -> str:
    return """\
# Written by the stratus lab. No systemd, no cgroups, no per-VM namespaces here,
# and QEMU runs as root so no file ownership juggling is needed.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
security_default_confined = 0
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "logd"
"""


def libvirt_configs(hv: Hypervisor | None = None) -> dict[str, str]:
    # The host only ships the client configs; the daemon ones
    # (libvirt-daemon-system) are not installed, so we write them whole.
    files = {"libvirtd.conf": libvirtd_conf(hv), "virtlogd.conf": virtlogd_conf(),
             "qemu.conf": qemu_conf()}
    for template in ("libvirt.conf", "libvirt-admin.conf"):
        host = Path("/etc/libvirt") / template
        if host.exists():
            files[template] = host.read_text()
    return files


def sshd_config(lab: Lab, hv: Hypervisor) -> str:
    return f"""\
# Written by the stratus lab for {hv.name}
ListenAddress {hv.addr}:22
HostKey {hv.host_key}
PidFile {hv.pidfile('sshd')}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile {lab.key}.pub
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the state dir may live under a world-writable dir such as /tmp
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


# --------------------------------------------------------------------------
# up: network namespace


def netns_exists(name: str) -> bool:
    return Path(f"/run/netns/{name}").exists()


def link_exists(name: str, netns: str | None = None) -> bool:
    argv = ["ip"] + (["-n", netns] if netns else []) + ["link", "show", "dev", name]
    return run(argv, check=False).returncode == 0


def network_in_use(cidr: str, *own_links: str) -> str | None:
    """The host link holding an address that overlaps `cidr`, other than `own_links`."""
    net = ipaddress.ip_network(cidr, strict=False)
    for line in run(["ip", "-o", "-4", "addr", "show"]).stdout.splitlines():
        fields = line.split()
        if ipaddress.ip_interface(fields[3]).network.overlaps(net) and fields[1] not in own_links:
            return fields[1]
    return None


def subnet_in_use(hv: Hypervisor) -> str | None:
    return network_in_use(f"{hv.host_addr}/24", hv.host_link)


def ensure_netns(hv: Hypervisor) -> list[str]:
    done: list[str] = []
    if not netns_exists(hv.netns):
        if link_exists(hv.host_link):
            raise LabError(f"link {hv.host_link} already exists but netns {hv.netns} does not; "
                           "is another lab using this prefix?")
        other = subnet_in_use(hv)
        if other:
            raise LabError(f"{hv.host_addr}/24 overlaps an address on {other}; pick another --subnet-base")
        run(["ip", "netns", "add", hv.netns])
        done.append(f"netns {hv.netns}")
    if not link_exists(hv.host_link):
        # create the peer straight inside the namespace, named eth0 there
        run(["ip", "link", "add", hv.host_link, "type", "veth", "peer", "name", "eth0",
             "netns", hv.netns])
        done.append(f"veth {hv.host_link}")
    if hv.host_addr not in run(["ip", "-o", "-4", "addr", "show", "dev", hv.host_link]).stdout:
        run(["ip", "addr", "add", f"{hv.host_addr}/24", "dev", hv.host_link])
    run(["ip", "link", "set", hv.host_link, "up"])
    ns_addrs = run(["ip", "-n", hv.netns, "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
    if hv.addr not in ns_addrs:
        run(["ip", "-n", hv.netns, "addr", "add", f"{hv.addr}/24", "dev", "eth0"])
    run(["ip", "-n", hv.netns, "link", "set", "eth0", "up"])
    run(["ip", "-n", hv.netns, "link", "set", "lo", "up"])
    return done


def ensure_migration_bridge(lab: Lab) -> list[str]:
    """The migration network's bridge: no address, no route, nothing but the hypervisors' veths on it."""
    bridge = lab.migration_bridge
    if link_exists(bridge):
        return []
    other = network_in_use(lab.migration_network)
    if other:
        raise LabError(f"{lab.migration_network} overlaps an address on {other}; pick another --subnet-base")
    run(["ip", "link", "add", bridge, "type", "bridge"])
    # no IPv6 link-local address either: the host has no address on this network at all
    run(["ip", "link", "set", bridge, "addrgenmode", "none"])
    run(["ip", "link", "set", bridge, "up"])
    return [f"bridge {bridge}"]


def ensure_migration_port(hv: Hypervisor) -> list[str]:
    """hvK's second veth: eth1 in its namespace with its migration address, the host end on the bridge."""
    done: list[str] = []
    if not link_exists(hv.migration_link):
        if link_exists(MIGRATION_IFACE, hv.netns):
            # the host end went (deleted by hand): start the pair afresh
            run(["ip", "-n", hv.netns, "link", "del", MIGRATION_IFACE])
        run(["ip", "link", "add", hv.migration_link, "type", "veth", "peer", "name", MIGRATION_IFACE,
             "netns", hv.netns])
        done.append(f"veth {hv.migration_link}")
    run(["ip", "link", "set", hv.migration_link, "addrgenmode", "none"])
    run(["ip", "link", "set", hv.migration_link, "master", hv.lab.migration_bridge, "up"])
    ns_addrs = run(["ip", "-n", hv.netns, "-o", "-4", "addr", "show", "dev", MIGRATION_IFACE]).stdout
    if f" {hv.migration_addr}/" not in ns_addrs:
        run(["ip", "-n", hv.netns, "addr", "add", f"{hv.migration_addr}/24", "dev", MIGRATION_IFACE])
    run(["ip", "-n", hv.netns, "link", "set", MIGRATION_IFACE, "up"])
    return done


def remove_migration_bridge(lab: Lab) -> list[str]:
    if not link_exists(lab.migration_bridge):
        return []
    run(["ip", "link", "del", lab.migration_bridge])
    return [f"bridge {lab.migration_bridge}"]


# --------------------------------------------------------------------------
# up: mount namespace


def hv_dirs(hv: Hypervisor) -> list[Path]:
    r = hv.root
    return [hv.dir / "pids", hv.sshd_dir, hv.ns_dir,
            r / "run" / "libvirt", r / "run" / "lock",
            r / "etc" / "libvirt",
            r / "var" / "log" / "libvirt" / "qemu",
            r / "var" / "cache" / "libvirt",
            r / "var" / "lib" / "libvirt",
            hv.dir / "ovl" / "lib" / "upper" / "libvirt", hv.dir / "ovl" / "lib" / "work",
            hv.dir / "ovl" / "dev" / "upper", hv.dir / "ovl" / "dev" / "work", hv.dir / "ovl" / "dev" / "mnt"]


def prepare_dirs(hv: Hypervisor) -> None:
    for d in hv_dirs(hv):
        d.mkdir(parents=True, exist_ok=True)
    # sshd insists on a root-owned, non-writable privilege separation dir
    privsep = hv.root / "run" / "sshd"
    privsep.mkdir(exist_ok=True)
    privsep.chmod(0o755)
    (hv.root / "run" / "lock").chmod(0o1777)
    (hv.root / "run" / "shm").unlink(missing_ok=True)
    (hv.root / "run" / "shm").symlink_to("/dev/shm")
    account_files(hv)


# libvirtd resolves its compile-time QEMU user/group before it reads qemu.conf,
# so they must exist even though qemu.conf says root. The host lacks them
# (libvirt-daemon-system is not installed): add them to private copies.
EXTRA_ACCOUNTS = {
    "passwd": "libvirt-qemu:x:64055:64055:Libvirt Qemu (stratus lab):/var/lib/libvirt:/usr/sbin/nologin",
    "group": "libvirt-qemu:x:64055:",
}


def account_files(hv: Hypervisor) -> None:
    for name, extra in EXTRA_ACCOUNTS.items():
        lines = Path(f"/etc/{name}").read_text().splitlines()
        if not any(line.split(":", 1)[0] == extra.split(":", 1)[0] for line in lines):
            lines.append(extra)
        write_if_changed(hv.root / "etc" / name, "\n".join(lines) + "\n")


def mntns_alive(hv: Hypervisor) -> bool:
    return is_mountpoint(hv.mntns, "nsfs")


def mntns_dev_private(hv: Hypervisor) -> bool:
    """Whether the hypervisor's /dev is its own overlay (a lab made before it had one is not)."""
    proc = run(["nsenter", f"--mount={hv.mntns}", "--", "cat", "/proc/self/mountinfo"], check=False)
    return proc.returncode == 0 and ("/dev", "overlay") in parse_mountinfo(proc.stdout)


def ensure_private_ns_dir(hv: Hypervisor) -> None:
    # `unshare --mount=FILE` refuses a FILE on a shared mount: bind the
    # directory onto itself and make that bind private.
    if not is_mountpoint(hv.ns_dir):
        mount(str(hv.ns_dir), str(hv.ns_dir), None, MS_BIND)
    mount("none", str(hv.ns_dir), None, MS_PRIVATE)


def create_mntns(hv: Hypervisor) -> None:
    ensure_private_ns_dir(hv)
    hv.mntns.touch()
    # join the netns first so the fresh sysfs mounted inside shows its interfaces
    argv = ["nsenter", f"--net={hv.netns_path}", "--",
            "unshare", f"--mount={hv.mntns}", "--propagation", "private", "--",
            sys.executable, "-m", "stratus_lab", "_setup-mntns",
            "--hv-dir", str(hv.dir), "--iptables", hv.lab.iptables]
    run(argv, timeout=30)


def drop_mntns(hv: Hypervisor) -> None:
    if is_mountpoint(hv.mntns):
        umount(str(hv.mntns))
    if is_mountpoint(hv.ns_dir):
        umount(str(hv.ns_dir))


def ensure_mntns(hv: Hypervisor, netns_fresh: bool) -> list[str]:
    if mntns_alive(hv) and not netns_fresh and mntns_dev_private(hv):
        return []
    # A new mount namespace is a fresh boot of this hypervisor (first up, host
    # reboot, netns recreated): nothing of an earlier incarnation may survive,
    # including its runtime files (sockets, domain status, pid files).
    survivors = kill_and_wait(ns_member_pids(hv))
    if survivors:
        raise LabError(f"{hv.name}: old processes {survivors} survived SIGKILL")
    drop_mntns(hv)
    shutil.rmtree(hv.root / "run", ignore_errors=True)
    prepare_dirs(hv)
    create_mntns(hv)
    return ["mount namespace"]


def private_dev(ovl: Path) -> None:
    """An overlay on /dev, with /dev's submounts (pts, shm, mqueue, ...) attached again: the
    hypervisor's /dev/log (its system log's socket) exists in this namespace only.

    The overlay is made at a staging directory, the submounts are bound into it there (each
    bind takes what is visible at that path, the top of a stack), then it is moved onto /dev.
    """
    staging = ovl / "mnt"
    mount("overlay", str(staging), "overlay", 0,
          f"lowerdir=/dev,upperdir={ovl / 'upper'},workdir={ovl / 'work'}")
    subs = sorted({t for t, _fstype in mountinfo() if t.startswith("/dev/")}, key=lambda t: (t.count("/"), t))
    for sub in subs:
        mount(sub, str(staging) + sub[len("/dev"):], None, MS_BIND)
    mount(str(staging), "/dev", None, MS_MOVE)


def setup_mntns(hv_dir: Path, iptables: str) -> None:
    """Runs inside the new mount namespace (and the hypervisor's netns)."""
    # Copies of other namespaces' nsfs binds (other hypervisors, /run/netns)
    # would keep those namespaces alive after their own `down`: drop them.
    for target, fstype in reversed(mountinfo()):
        if fstype == "nsfs":
            umount(target, lazy=True)
    # a sysfs mounted from inside the netns shows this namespace's interfaces;
    # the host's cgroup mounts under /sys go with it, so libvirt uses no cgroups
    umount("/sys", lazy=True)
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    root = hv_dir / "root"
    # whole private /run and /var/log: sockets, pid files, the xtables lock,
    # sshd's privsep dir and wtmp/lastlog never touch the host's
    mount(str(root / "run"), "/run", None, MS_BIND)
    mount(str(root / "var" / "log"), "/var/log", None, MS_BIND)
    mount(str(root / "var" / "cache"), "/var/cache", None, MS_BIND)
    # the host has no /var/lib/libvirt to mount over; an overlay on /var/lib
    # provides the mount point without creating anything on the host
    ovl = hv_dir / "ovl" / "lib"
    mount("overlay", "/var/lib", "overlay", 0,
          f"lowerdir=/var/lib,upperdir={ovl / 'upper'},workdir={ovl / 'work'}")
    mount(str(root / "var" / "lib" / "libvirt"), "/var/lib/libvirt", None, MS_BIND)
    mount(str(root / "etc" / "libvirt"), "/etc/libvirt", None, MS_BIND)
    private_dev(hv_dir / "ovl" / "dev")
    for name in EXTRA_ACCOUNTS:
        mount(str(root / "etc" / name), f"/etc/{name}", None, MS_BIND)
    if iptables == "legacy":
        # libvirt calls plain `iptables`: point the nft multi-call binary at legacy
        mount("/usr/sbin/xtables-legacy-multi", "/usr/sbin/xtables-nft-multi", None, MS_BIND)


# --------------------------------------------------------------------------
# up: daemons


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def daemon_pid(hv: Hypervisor, daemon: str) -> int | None:
    """The daemon's pid if it is alive, is that program and lives in our netns."""
    pid = read_pid(hv.pidfile(daemon))
    if pid is None or not pid_alive(pid):
        return None
    try:
        if daemon in DAEMON_SCRIPTS:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                is_it = str(DAEMON_SCRIPTS[daemon]) in f.read().decode(errors="replace").split("\0")
        else:
            is_it = os.path.basename(os.readlink(f"/proc/{pid}/exe")) == daemon
    except OSError:
        return None
    if not is_it or proc_ns(pid, "net") != ns_inode(hv.netns_path):
        return None
    return pid


def daemon_argv(hv: Hypervisor, daemon: str) -> list[str]:
    pidfile = str(hv.pidfile(daemon))
    if daemon == "syslogd":
        # the lab's Python (the venv's): the script needs nothing else
        return [sys.executable, str(DAEMON_SCRIPTS[daemon]), "--socket", "/dev/log", "--out", SYSLOG_FILE,
                "--pid-file", pidfile, "--require-overlay"]
    if daemon == "virtlogd":
        return ["/usr/sbin/virtlogd", "--daemon", "--pid-file", pidfile,
                "--config", "/etc/libvirt/virtlogd.conf"]
    if daemon == "libvirtd":
        argv = ["/usr/sbin/libvirtd", "--daemon", "--pid-file", pidfile, "--config", "/etc/libvirt/libvirtd.conf"]
        # --listen: the TCP listener of its libvirtd.conf (the migration network)
        return argv + ["--listen"] if hv.migrates else argv
    return ["/usr/sbin/sshd", "-f", str(hv.sshd_dir / "sshd_config"),
            "-E", str(hv.sshd_dir / "sshd.log")]


def start_daemon(hv: Hypervisor, daemon: str) -> None:
    hv.pidfile(daemon).unlink(missing_ok=True)
    if daemon in hv.foreground:
        start_foreground(hv, daemon)
    else:
        run(hv.nsenter(hv.argv_of(daemon)), env=hv.env_of(daemon), timeout=60)
    deadline = time.monotonic() + 60  # for its pid file: generous, a loaded machine starts it slowly
    while daemon_pid(hv, daemon) is None:
        if time.monotonic() > deadline:
            raise LabError(f"{hv.name}: {daemon} did not start (see {log_hint(hv, daemon)})")
        time.sleep(0.05)


def start_foreground(hv: Hypervisor, daemon: str) -> None:
    """Start a daemon that does not detach itself: its own session, output into its log, its pid
    recorded (nsenter execs it, so the child's pid is the daemon's)."""
    log = log_hint(hv, daemon)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen(hv.nsenter(hv.argv_of(daemon)), env=hv.env_of(daemon),  # pylint: disable=consider-using-with
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    write_if_changed(hv.pidfile(daemon), f"{child.pid}\n")


def stop_daemon(hv: Hypervisor, daemon: str) -> bool:
    pid = daemon_pid(hv, daemon)
    if pid is None:
        return False
    if kill_and_wait([pid], grace=10):
        raise LabError(f"{hv.name}: {daemon} (pid {pid}) survived SIGKILL")
    hv.pidfile(daemon).unlink(missing_ok=True)
    return True


def log_hint(hv: Hypervisor, daemon: str) -> Path:
    if daemon == "sshd":
        return hv.sshd_dir / "sshd.log"
    if daemon == "syslogd":
        return hv.syslog
    if daemon in hv.foreground:
        return hv.dir / "logs" / f"{daemon}.log"
    return hv.root / "var" / "log" / "libvirt" / f"{daemon}.log"


def libvirt_reachable(hv: Hypervisor, timeout: float = 30) -> bool:
    try:
        return hv.virsh("uri", timeout=timeout, check=False).returncode == 0
    except LabError:
        return False


def wait_libvirt(hv: Hypervisor, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not libvirt_reachable(hv):
        if daemon_pid(hv, "libvirtd") is None:
            raise LabError(f"{hv.name}: libvirtd exited (see {log_hint(hv, 'libvirtd')})")
        if time.monotonic() > deadline:
            raise LabError(f"{hv.name}: libvirtd not answering after {timeout:.0f}s")
        time.sleep(0.3)


def ensure_configs(hv: Hypervisor) -> set[str]:
    """Write config files; returns daemons whose config changed."""
    changed: set[str] = set()
    for name, content in libvirt_configs(hv).items():
        if write_if_changed(hv.root / "etc" / "libvirt" / name, content):
            changed.add({"virtlogd.conf": "virtlogd"}.get(name, "libvirtd"))
    if not hv.host_key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{hv.lab.prefix}-{hv.name}",
             "-f", str(hv.host_key)])
        changed.add("sshd")
    if write_if_changed(hv.sshd_dir / "sshd_config", sshd_config(hv.lab, hv)):
        changed.add("sshd")
    return changed


def ensure_daemons(hv: Hypervisor, changed: set[str]) -> list[str]:
    done = []
    for daemon in hv.daemons:
        pid = daemon_pid(hv, daemon)
        if pid is not None and daemon in changed:
            stop_daemon(hv, daemon)
            pid = None
            done.append(f"restarted {daemon}")
        elif pid is None:
            done.append(f"started {daemon}")
        if pid is None:
            start_daemon(hv, daemon)
    return done


# --------------------------------------------------------------------------
# up: iptables probe, ssh keys, inventory


def choose_iptables(prefix: str) -> str:
    """nft-backed iptables if it handles libvirt's rules in a scratch netns, else legacy."""
    probe = f"{prefix}-probe-{os.getpid()}"
    rules = [["-t", "filter", "-N", "STRATUS_PROBE"],
             ["-t", "filter", "-A", "STRATUS_PROBE", "-p", "udp", "--dport", "67", "-j", "ACCEPT"],
             ["-t", "filter", "-A", "STRATUS_PROBE", "-j", "REJECT", "--reject-with",
              "icmp-port-unreachable"],
             ["-t", "nat", "-N", "STRATUS_PROBE"],
             ["-t", "mangle", "-N", "STRATUS_PROBE"]]
    run(["ip", "netns", "add", probe])
    try:
        for rule in rules:
            if run(["ip", "netns", "exec", probe, "iptables", "-w", *rule], check=False).returncode:
                return "legacy"
        return "nft"
    finally:
        run(["ip", "netns", "del", probe], check=False)


def ensure_lab_key(lab: Lab) -> bool:
    lab.ssh_dir.mkdir(parents=True, exist_ok=True)
    lab.control_dir.mkdir(exist_ok=True)
    lab.control_dir.chmod(0o700)
    if lab.key.exists():
        return False
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{lab.prefix}-lab",
         "-f", str(lab.key)])
    return True


def known_hosts_text(lab: Lab) -> str:
    lines = []
    for k in sorted(lab.hypervisors):
        hv = lab.hv(k)
        keytype, key = Path(f"{hv.host_key}.pub").read_text().split()[:2]
        lines.append(f"{hv.addr} {keytype} {key}")
    return "\n".join(lines) + "\n"


def q(value: object) -> str:
    # JSON scalars are valid YAML scalars: no PyYAML needed for this file
    return json.dumps(value)


def inventory_text(lab: Lab) -> str:
    ssh_args = (f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes "
                f"-o ControlMaster=auto -o ControlPersist=60s -o ControlPath={lab.control_dir}/%C")
    out = ["# Written by the stratus lab (stratus_lab.lab); regenerated by every `up`.",
           "all:", "  children:", "    hypervisors:", "      vars:",
           f"        ansible_connection: {q('ssh')}", "      hosts:"]
    for k in sorted(lab.hypervisors):
        hv = lab.hv(k)
        hostvars = {
            "ansible_host": hv.addr,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(lab.key),
            "ansible_ssh_common_args": ssh_args,
            "ansible_python_interpreter": str(VENV_PYTHON),
            "stratus_libvirt_uri": LIBVIRT_URI,
            # how another hypervisor's libvirt reaches this one (the lab's migration network)
            "stratus_migration_address": hv.migration_addr,
            "stratus_migration_uri": hv.migration_uri,
            # KVM nested in a VM (this workplace's machines) exposes /dev/kvm yet pauses
            # guests with emulation failures mid-boot; TCG is slower but always works.
            # STRATUS_LAB_DOMAIN_TYPE=auto lets the spawn step probe and use KVM.
            "stratus_domain_type": os.environ.get("STRATUS_LAB_DOMAIN_TYPE", "qemu"),
            "stratus_availability_zone": "az1" if k % 2 else "az2",
            "stratus_vcpus": 8,
            "stratus_memory_mb": 8192,
            "stratus_local_gb": 40,
            "stratus_cpu_allocation_ratio": 4.0,
            "stratus_ram_allocation_ratio": 1.5,
            "stratus_disk_allocation_ratio": 1.0,
            "stratus_lab_state_dir": str(hv.dir),
        }
        out.append(f"        {hv.name}:")
        out += [f"          {key}: {q(value)}" for key, value in hostvars.items()]
    if lab.nodes:
        out += ["    baremetal_nodes:", "      hosts:"]
        for index, record in enumerate(lab.nodes, start=1):
            out.append(f"        {record['name']}:")
            out += [f"          {key}: {q(value)}" for key, value in node_hostvars(record, index, len(lab.nodes)).items()]
        # the deploy runs on the controller (docs/baremetal.md, "Deploy"): where it writes the media the
        # BMCs download, the root of the BMC namespace's libvirt (the node network's DHCP hosts) and the node
        # network's TFTP root (IPMI nodes boot by PXE).
        # Variables of all, which the implicit localhost (the controller) reads too.
        out += ["  vars:"]
        out += [f"    {key}: {q(value)}" for key, value in conductor_vars(lab).items()]
    return "\n".join(out) + "\n"


def conductor_vars(lab: Lab) -> dict[str, object]:
    """The controller as the nodes' conductor: the deploy's site."""
    bmc = baremetal().bmc_of(lab)
    return {
        "stratus_baremetal_media_dir": lab.media_dir or str(bmc.media_dir),
        "stratus_baremetal_media_url": lab.media_url or bmc.media_url,
        "stratus_baremetal_host_root": str(bmc.root),
        "stratus_baremetal_tftp_root": lab.tftp_root or str(bmc.tftp_root),
    }


# The lab's nodes in the inventory (docs/baremetal.md): every node answers both ways; with two or more
# nodes the last one is driven by IPMI, the others by Redfish (3 nodes: two Redfish, one IPMI).
LAB_NODE_RESOURCE_CLASS = "baremetal"
LOOKUP_PATH = re.compile(r"/[A-Za-z0-9_./+-]+")


def node_driver(index: int, count: int) -> str:
    return "ipmi" if count >= 2 and index == count else "redfish"


def node_hostvars(record: dict[str, object], index: int, count: int) -> dict[str, object]:
    """One node's stratus_bm_* variables. The password is a lookup of the lab's password file on the
    controller when a task reads it: the inventory holds its path, never the password."""
    driver = node_driver(index, count)
    hostvars: dict[str, object] = {"stratus_bm_driver": driver}
    if driver == "redfish":
        hostvars.update(stratus_bm_address=record["redfish_address"], stratus_bm_system_id=record["redfish_path"])
    else:
        hostvars["stratus_bm_address"] = f"{record['ipmi_address']}:{record['ipmi_port']}"
    password_file = str(record["password_file"])
    if not LOOKUP_PATH.fullmatch(password_file):  # it goes into a Jinja string literal
        raise LabError(f"the BMC password file {password_file!r} has characters the inventory cannot quote")
    hostvars.update(
        stratus_bm_username=record["username"],
        stratus_bm_password="{{ lookup('ansible.builtin.file', '%s') }}" % password_file,
        stratus_bm_nics=[{"mac": nic["mac"], "network": nic["network"]} for nic in record["nics"]],  # type: ignore[attr-defined]
        stratus_bm_resource_class=LAB_NODE_RESOURCE_CLASS,
        # what the lab's blank domains are (stratus_lab.baremetal.node_xml): inspection finds the same
        stratus_bm_properties={"cpus": 1, "memory_mb": baremetal().NODE_MEMORY_MB, "local_gb": 1, "cpu_arch": "x86_64"},
    )
    return hostvars


# --------------------------------------------------------------------------
# up


def open_lab(state: Path, prefix: str | None, subnet_base: str | None, iptables: str,
             fresh_dir: bool) -> Lab:
    lab = load_lab(state)
    if lab is None:
        prefix = validate_prefix(prefix or DEFAULT_PREFIX)
        subnet_base = validate_subnet_base(subnet_base or DEFAULT_SUBNET_BASE)
        if iptables == "auto":
            iptables = choose_iptables(prefix)
        return Lab(state=state, prefix=prefix, subnet_base=subnet_base, hypervisors=[],
                   iptables=iptables, owns_state_dir=fresh_dir)
    if iptables not in ("auto", lab.iptables):
        raise LabError(f"the lab in {state} uses --iptables {lab.iptables}; run down first to change it")
    # options left out mean "whatever the lab was created with"
    if (prefix or lab.prefix, subnet_base or lab.subnet_base) != (lab.prefix, lab.subnet_base):
        raise LabError(f"the lab in {state} uses --prefix {lab.prefix} --subnet-base "
                       f"{lab.subnet_base}; run `python -m stratus_lab down --state-dir {state}` first")
    return lab


def check_collisions(lab: Lab, new: list[int]) -> None:
    for k in new:
        hv = lab.hv(k)
        if netns_exists(hv.netns) or link_exists(hv.host_link):
            raise LabError(f"netns {hv.netns} or link {hv.host_link} already exists but is not part "
                           f"of the lab in {lab.state}; use another --prefix")
        other = subnet_in_use(hv)
        if other:
            raise LabError(f"{hv.host_addr}/24 overlaps an address on {other}; "
                           "use another --subnet-base")
        if link_exists(hv.migration_link):
            raise LabError(f"link {hv.migration_link} already exists but is not part of the lab in "
                           f"{lab.state}; use another --prefix")
    if not lab.hypervisors and link_exists(lab.migration_bridge):
        raise LabError(f"bridge {lab.migration_bridge} already exists but is not part of the lab in "
                       f"{lab.state}; use another --prefix")


def caps_cache(hv: Hypervisor) -> Path:
    return hv.root / "var" / "cache" / "libvirt" / "qemu" / "capabilities"


def seed_caps_cache(hv: Hypervisor, source: Hypervisor | None) -> None:
    # Probing QEMU takes libvirtd several seconds per binary; every hypervisor
    # shares the host's binaries, so a sibling's cache is valid here too
    # (libvirtd re-probes by itself if it disagrees).
    if source is None or daemon_pid(hv, "libvirtd") is not None or any(caps_cache(hv).glob("*.xml")):
        return
    caps_cache(hv).mkdir(parents=True, exist_ok=True)
    for xml in caps_cache(source).glob("*.xml"):
        shutil.copy2(xml, caps_cache(hv) / xml.name)


def warm_libvirt(hv: Hypervisor) -> None:
    wait_libvirt(hv)
    # probe QEMU now, so the first real request is not the slow one
    hv.virsh("capabilities", timeout=180)


def up_hypervisor(hv: Hypervisor, caps_source: Hypervisor | None) -> list[str]:
    done = ensure_netns(hv)
    # before libvirtd starts: it listens on the migration address
    done += ensure_migration_port(hv)
    prepare_dirs(hv)
    done += ensure_mntns(hv, netns_fresh=any(d.startswith("netns") for d in done))
    changed = ensure_configs(hv)
    seed_caps_cache(hv, caps_source)
    done += ensure_daemons(hv, changed)
    warm_libvirt(hv)
    return done


def cmd_up(args: argparse.Namespace) -> int:
    check_host()
    started = time.monotonic()
    state = validate_state_dir(Path(args.state_dir))
    prefix = validate_prefix(args.prefix) if args.prefix else None
    subnet = validate_subnet_base(args.subnet_base) if args.subnet_base else None
    if args.hypervisors is not None and not 1 <= args.hypervisors <= 200:
        raise LabError("--hypervisors must be between 1 and 200")
    if args.baremetal is not None:
        baremetal().validate_count(args.baremetal)
    fresh_dir = not state.exists() or not any(state.iterdir())
    created_dir = not state.exists()
    state.mkdir(parents=True, exist_ok=True)
    with StateLock(state):
        lab = open_lab(state, prefix, subnet, args.iptables, fresh_dir)
        asked = args.hypervisors or (len(lab.hypervisors) or 2)
        wanted = sorted(set(lab.hypervisors) | set(range(1, asked + 1)))
        # like hypervisors, nodes are only added: `down` removes them
        nodes = max(lab.baremetal, args.baremetal or 0)
        try:
            check_collisions(lab, [k for k in wanted if k not in lab.hypervisors])
            if nodes and not lab.baremetal:
                baremetal().check_bmc_collisions(baremetal().bmc_of(lab))
        except LabError:
            if not lab.lab_json.exists():
                forget_state_dir(state, created_dir)
            raise
        # record before creating, so `down` can clean up a half-finished `up`
        lab.hypervisors = wanted
        lab.baremetal = nodes
        lab.save()
        changes = build_lab(lab)
    report_up(lab, changes, time.monotonic() - started, asked)
    return 0


def forget_state_dir(state: Path, created: bool) -> None:
    """Undo the lock file (and the dir) of an `up` that never got going."""
    (state / ".lock").unlink(missing_ok=True)
    if created:
        state.rmdir()


def build_lab(lab: Lab) -> dict[str, list[str]]:
    """Bring every hypervisor of `lab` up; returns what changed, by name."""
    changes: dict[str, list[str]] = {}
    if ensure_lab_key(lab):
        changes["lab"] = ["ssh key pair"]
    bridge = ensure_migration_bridge(lab)
    if bridge:
        changes.setdefault("lab", []).extend(bridge)
    caps_source = None
    for k in lab.hypervisors:
        hv = lab.hv(k)
        done = up_hypervisor(hv, caps_source)
        if done:
            changes[hv.name] = done
        caps_source = hv
    if lab.baremetal:
        done = baremetal().up_bmc(lab, caps_source)
        if done:
            changes["bmc"] = done
    if write_if_changed(lab.known_hosts, known_hosts_text(lab)):
        changes.setdefault("lab", []).append("known_hosts")
    if write_if_changed(lab.inventory, inventory_text(lab)):
        changes.setdefault("lab", []).append("inventory.yml")
    return changes


def report_up(lab: Lab, changes: dict[str, list[str]], seconds: float, asked: int) -> None:
    for k in lab.hypervisors:
        hv = lab.hv(k)
        what = ", ".join(changes.get(hv.name, [])) or "already up, unchanged"
        print(f"{hv.name}: {hv.netns} {hv.addr}: {what}")
    if lab.baremetal:
        bmc = baremetal().bmc_of(lab)
        what = ", ".join(changes.get("bmc", [])) or "already up, unchanged"
        print(f"bmc: {bmc.netns} {bmc.addr}: {lab.baremetal} nodes: {what}")
    if "lab" in changes:
        print(f"lab: wrote {', '.join(changes['lab'])}")
    if len(lab.hypervisors) > asked:
        print(f"note: the lab keeps its {len(lab.hypervisors)} hypervisors (`down` removes them)")
    summary = "changed" if changes else "already up, nothing changed"
    print(f"lab {summary}: {len(lab.hypervisors)} hypervisors, inventory {lab.inventory} "
          f"({seconds:.1f}s)")


# --------------------------------------------------------------------------
# down


def close_ssh_masters(lab: Lab) -> None:
    """Ask ssh ControlMaster processes using the lab's sockets to exit."""
    if lab.control_dir.is_dir():
        for sock in lab.control_dir.iterdir():
            run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "127.0.0.1"],
                check=False, timeout=10)
    # a master whose socket vanished still carries its path in its title
    marker = f"ssh: {lab.control_dir}/"
    strays = []
    for pid in all_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith(marker):
            strays.append(pid)
    kill_and_wait(strays)


def destroy_guests(hv: Hypervisor) -> list[str]:
    if daemon_pid(hv, "libvirtd") is None or not libvirt_reachable(hv):
        return []
    done = []
    for dom in hv.virsh("list", "--name").stdout.split():
        hv.virsh("destroy", dom, check=False)
        done.append(f"destroyed domain {dom}")
    for net in hv.virsh("net-list", "--name").stdout.split():
        hv.virsh("net-destroy", net, check=False)
        done.append(f"stopped network {net}")
    return done


def ns_member_pids(hv: Hypervisor) -> list[int]:
    """Every process in this hypervisor's net or mount namespace."""
    net, mnt = ns_inode(hv.netns_path), ns_inode(str(hv.mntns)) if mntns_alive(hv) else None
    if net is None and mnt is None:
        return []
    me = os.getpid()
    return [pid for pid in all_pids() if pid != me and (
        (net is not None and proc_ns(pid, "net") == net) or
        (mnt is not None and proc_ns(pid, "mnt") == mnt))]


def down_hypervisor(hv: Hypervisor) -> list[str]:
    done = destroy_guests(hv)
    for daemon in reversed(hv.daemons):
        if stop_daemon(hv, daemon):
            done.append(f"stopped {daemon}")
    leftovers = ns_member_pids(hv)
    if leftovers:
        survivors = kill_and_wait(leftovers)
        if survivors:
            raise LabError(f"{hv.name}: processes {survivors} survived SIGKILL")
        done.append(f"killed {len(leftovers)} leftover processes")
    if is_mountpoint(hv.mntns) or is_mountpoint(hv.ns_dir):
        drop_mntns(hv)
        done.append("mount namespace")
    if netns_exists(hv.netns):
        run(["ip", "netns", "del", hv.netns])
        done.append(f"netns {hv.netns}")
    if link_exists(hv.host_link):
        # still there if something else pins the netns; deleting one end kills both. The kernel
        # also removes it on its own once the netns is gone, so it may vanish under us: that is fine.
        proc = run(["ip", "link", "del", hv.host_link], check=False)
        if proc.returncode != 0 and link_exists(hv.host_link):
            raise LabError(f"ip link del {hv.host_link} failed: {proc.stderr.strip() or proc.returncode}")
        done.append(f"veth {hv.host_link}")
    if link_exists(hv.migration_link):
        # gone with the netns, unless something pins it (as above)
        proc = run(["ip", "link", "del", hv.migration_link], check=False)
        if proc.returncode != 0 and link_exists(hv.migration_link):
            raise LabError(f"ip link del {hv.migration_link} failed: {proc.stderr.strip() or proc.returncode}")
        done.append(f"veth {hv.migration_link}")
    if hv.dir.exists():
        remove_tree(hv.dir)
    return done


def remove_tree(path: Path) -> None:
    # never recurse into something still mounted
    if any(t == str(path) or t.startswith(f"{path}/") for t, _fstype in mountinfo()):
        raise LabError(f"{path} still has mounts; not deleting it")
    shutil.rmtree(path)


def try_down_hypervisor(hv: Hypervisor) -> tuple[Hypervisor, list[str], str | None]:
    try:
        return hv, down_hypervisor(hv), None
    except LabError as exc:
        return hv, [], str(exc)


def cmd_down(args: argparse.Namespace) -> int:
    check_host()
    started = time.monotonic()
    state = Path(args.state_dir).expanduser().absolute()
    if not (state / "lab.json").exists():
        print(f"lab is not up in {state}: nothing to do")
        return 0
    with StateLock(state):
        lab = load_lab(state)
        assert lab is not None
        close_ssh_masters(lab)
        errors = []
        hvs = [lab.hv(k) for k in sorted(lab.hypervisors)]
        bmc = baremetal().bmc_of(lab)
        if lab.baremetal or netns_exists(bmc.netns) or bmc.dir.exists():
            hvs.append(bmc)
        # in parallel: destroying guests and stopping daemons is mostly waiting
        with ThreadPoolExecutor(max_workers=min(len(hvs), 8) or 1) as pool:
            results = list(pool.map(try_down_hypervisor, hvs))
        for hv, done, error in results:
            if error:
                errors.append(error)
                continue
            if hv.k in lab.hypervisors:
                lab.hypervisors.remove(hv.k)
            else:
                lab.baremetal, lab.nodes, lab.media_dir, lab.media_url, lab.tftp_root = 0, [], None, None, None
            print(f"{hv.name}: removed {', '.join(done) or 'leftover state'}")
        lab.save()
        if errors:
            raise LabError("; ".join(errors))
        for what in remove_migration_bridge(lab):
            print(f"lab: removed {what}")
        remove_lab_files(lab)
    print(f"lab down ({time.monotonic() - started:.1f}s)")
    return 0


def remove_lab_files(lab: Lab) -> None:
    if lab.owns_state_dir:
        extra = sorted(p.name for p in lab.state.iterdir()
                       if p.name not in {"ssh", "cm", "inventory.yml", "lab.json", ".lock"})
        remove_tree(lab.state)
        print(f"removed {lab.state}" + (f" (with {', '.join(extra)})" if extra else ""))
        return
    for path in (lab.ssh_dir, lab.control_dir):
        if path.exists():
            remove_tree(path)
    for path in (lab.inventory, lab.lab_json, lab.state / ".lock"):
        path.unlink(missing_ok=True)
    try:
        lab.state.rmdir()
    except OSError:
        print(f"note: kept {lab.state}: it existed before the lab and holds other files")


# --------------------------------------------------------------------------
# status


def hv_status(hv: Hypervisor) -> dict[str, object]:
    pids = {}
    for daemon in DAEMONS:
        recorded = read_pid(hv.pidfile(daemon))
        pids[daemon] = {"pid": recorded, "alive": daemon_pid(hv, daemon) is not None}
    up = netns_exists(hv.netns) and mntns_alive(hv)
    reachable = up and pids["libvirtd"]["alive"] and libvirt_reachable(hv)
    return {"name": hv.name, "namespace": hv.netns, "netns_exists": netns_exists(hv.netns),
            "mount_namespace": mntns_alive(hv), "host_link": hv.host_link,
            "address": hv.addr, "migration_link": hv.migration_link, "migration_address": hv.migration_addr,
            "pids": pids, "libvirt_reachable": reachable,
            "ssh_port_open": up and port_open(hv.addr, 22), "state_dir": str(hv.dir),
            "syslog": str(hv.syslog)}


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=10):
            return True
    except OSError:
        return False


def cmd_status(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).expanduser().absolute()
    lab = load_lab(state)
    if lab is None:
        if args.json:
            print(json.dumps({"state_dir": str(state), "up": False, "hypervisors": []}, indent=2))
        else:
            print(f"lab is not up in {state}")
        return 1
    statuses = [hv_status(lab.hv(k)) for k in sorted(lab.hypervisors)]
    healthy = all(s["libvirt_reachable"] and s["ssh_port_open"]
                  and all(p["alive"] for p in s["pids"].values()) for s in statuses)
    bmc_status = baremetal().bmc_status(lab) if lab.baremetal else None
    if bmc_status is not None:
        healthy = healthy and bool(bmc_status["redfish_port_open"])
    if args.json:
        print(json.dumps({"state_dir": str(state), "up": healthy, "prefix": lab.prefix,
                          "subnet_base": lab.subnet_base, "iptables": lab.iptables,
                          "inventory": str(lab.inventory), "hypervisors": statuses,
                          "bmc": bmc_status}, indent=2))
    else:
        for s in statuses:
            daemons = "  ".join(f"{d}={p['pid'] if p['alive'] else 'DEAD'}"
                                for d, p in s["pids"].items())
            libvirt = "libvirt ok" if s["libvirt_reachable"] else "libvirt UNREACHABLE"
            ssh = "ssh ok" if s["ssh_port_open"] else "ssh CLOSED"
            print(f"{s['name']}  {s['namespace']}  {s['address']}  {daemons}  {libvirt}  {ssh}  log {s['syslog']}")
        if bmc_status is not None:
            print("\n".join(baremetal().bmc_status_lines(bmc_status)))
        print(f"lab {'healthy' if healthy else 'DEGRADED'} ({lab.inventory})")
    return 0 if healthy else 1


def cmd_daemon(args: argparse.Namespace) -> int:
    """Stop or start one daemon of one hypervisor: the fault drills (a host whose libvirtd or sshd is down)."""
    state = Path(args.state_dir).expanduser().absolute()
    lab = load_lab(state)
    if lab is None:
        raise LabError(f"lab is not up in {state}")
    if args.hv not in lab.hypervisors:
        raise LabError(f"no hypervisor hv{args.hv} in this lab")
    hv = lab.hv(args.hv)
    with StateLock(state):
        if args.action == "stop":
            done = stop_daemon(hv, args.daemon)
        elif daemon_pid(hv, args.daemon) is None:
            start_daemon(hv, args.daemon)
            if args.daemon == "libvirtd":
                wait_libvirt(hv)
            done = True
        else:
            done = False
    print(f"{hv.name}: {args.daemon} {args.action + ('ped' if args.action == 'stop' else 'ed') if done else 'unchanged'}")
    return 0


def baremetal() -> ModuleType:
    """stratus_lab.baremetal, imported when used: it builds on this module."""
    from stratus_lab import baremetal as module  # pylint: disable=import-outside-toplevel,cyclic-import
    return module


def cmd_setup_mntns(args: argparse.Namespace) -> int:
    setup_mntns(Path(args.hv_dir), args.iptables)
    return 0


# --------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stratus_lab", description="Stratus hypervisor lab")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{up,down,status,daemon}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                       help=f"lab state directory (default {DEFAULT_STATE_DIR})")

    up = sub.add_parser("up", help="create or complete the lab")
    common(up)
    up.add_argument("--hypervisors", type=int,
                    help="number of hypervisors (default 2, or as many as the lab has)")
    up.add_argument("--prefix", help=f"namespace name prefix (default {DEFAULT_PREFIX}, "
                    "or what the existing lab uses)")
    up.add_argument("--subnet-base", help=f"first two octets of hvK's /24 (default "
                    f"{DEFAULT_SUBNET_BASE} -> {DEFAULT_SUBNET_BASE}.K.0/24, or what the existing lab uses)")
    up.add_argument("--baremetal", type=int,
                    help="bare-metal nodes behind emulated BMCs (Redfish and IPMI) in a BMC namespace "
                    "(default 0, or as many as the lab has)")
    up.add_argument("--iptables", choices=["auto", "nft", "legacy"], default="auto",
                    help="iptables flavour inside the hypervisors (default: nft if it works)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="remove everything the lab created")
    common(down)
    # accepted for symmetry with up; down always uses what lab.json recorded
    down.add_argument("--prefix", help="ignored: taken from <state>/lab.json")
    down.add_argument("--subnet-base", help="ignored: taken from <state>/lab.json")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="show the lab's hypervisors")
    common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    daemon = sub.add_parser("daemon", help="stop or start a hypervisor's daemon (fault drills)")
    common(daemon)
    daemon.add_argument("action", choices=["stop", "start"])
    daemon.add_argument("daemon", choices=list(DAEMONS))
    daemon.add_argument("--hv", type=int, required=True, help="the hypervisor number K of hvK")
    daemon.set_defaults(func=cmd_daemon)

    setup = sub.add_parser("_setup-mntns")  # internal: runs inside the new namespace
    setup.add_argument("--hv-dir", required=True)
    setup.add_argument("--iptables", choices=["nft", "legacy"], default="nft")
    setup.set_defaults(func=cmd_setup_mntns)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"stratus_lab {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # e.g. an unwritable state dir: still one line, not a traceback
        print(f"stratus_lab {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"stratus_lab {args.command}: interrupted; run `python -m stratus_lab down` to clean up",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
