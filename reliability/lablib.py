"""Shared pieces of the lab reliability scenarios: a three-hypervisor lab that always comes down,
provision runs (whole or killed), the per-phase lab lock, and the store-vs-libvirt audit.

A scenario script uses it as

    with Lab("crash", db_url=args.db_url) as lab:   # up now, down on exit, SIGTERM and SIGINT too
        lab.playbook(servers, catalog)
        leaks = audit(lab)                          # {kind: [what leaked]}, every list empty when clean

The audit reads the store with SQL and every hypervisor with libvirt-python over the unix socket
of that hypervisor's libvirtd (the lab keeps each one's /run/libvirt under its state dir), so it
still sees a host whose sshd is down.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import typing as t
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "reliability"))
from lib import write_result_file  # noqa: E402  (the one writer of the result file)

sys.path.insert(0, str(ROOT / "lab"))
import inventory_overlay  # noqa: E402  (lab/inventory_overlay.py)

VENV = ROOT / ".venv" / "bin"
LAB_PY = [str(VENV / "python"), str(ROOT / "lab" / "lab.py")]
LOCK_FILE = "/tmp/stratus-lab.lock"
# The reliability labs' own namespace prefix and addresses (the test suite uses stxt/stxp/stxf).
PREFIX = os.environ.get("STRATUS_RELIABILITY_PREFIX", "stxr")
SUBNET_BASE = os.environ.get("STRATUS_RELIABILITY_SUBNET", "10.239")
STATE_BASE = Path(os.environ.get("STRATUS_RELIABILITY_STATE", "/tmp/stratus-relab"))
HYPERVISORS = (1, 2, 3)
LIBVIRT_URI = "qemu:///system"
NETWORK = "stratus-demo"
INSTANCE_POOL = "stratus-instances"
VOLUME_POOL = "stratus-volumes"
PLACEHOLDER_MAC = "02:00:00:00:00:00"

BENCH_IMAGE_ID = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2c02"
# Small guests only: the lab's two cores and its memory are shared with every other lab user.
FLAVORS = [
    {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 192, "disk": 1, "ephemeral": 0, "swap": 0},
    {"id": "3", "name": "m1.bench", "vcpus": 1, "ram": 16, "disk": 1, "ephemeral": 0, "swap": 0},
    {"id": "4", "name": "r1.local", "vcpus": 1, "ram": 16, "disk": 1, "ephemeral": 1, "swap": 16},
]


class LabError(Exception):
    """The lab could not be brought up or driven: the scenario cannot run (exit 2)."""


@contextlib.contextmanager
def lab_lock() -> t.Iterator[None]:
    """The shared lab lock, for one CPU-heavy phase (a trial), never for a whole scenario."""
    with open(LOCK_FILE, "a") as fp:
        fcntl.flock(fp, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fp, fcntl.LOCK_UN)


def _interrupt(signum: int, _frame: t.Any) -> None:
    raise KeyboardInterrupt("signal %d" % signum)


@dataclass
class RunResult:
    returncode: int
    stdout: str
    seconds: float


@dataclass
class KilledRun:
    """A playbook run killed with SIGKILL: when, and in which task it was."""
    kill_after: float
    killed: bool           # False: the run had already finished when the kill came
    task: str
    play: str
    seconds: float
    returncode: t.Optional[int] = None


@dataclass
class Lab:
    name: str
    db_url: t.Optional[str] = None
    hypervisors: tuple[int, ...] = HYPERVISORS
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.state = STATE_BASE / self.name

    # --- life cycle ------------------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), STRATUS_STATE_DIR=str(self.state / "store"),
                   ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1")
        if self.db_url:
            env["STRATUS_DB_URL"] = self.db_url
        return env

    def _lab(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run(LAB_PY + list(args), cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise LabError("lab.py %s: %s" % (" ".join(args[:2]), (proc.stderr or proc.stdout).strip()[-2000:]))
        return proc

    def up(self) -> None:
        self.down()
        with lab_lock():
            self._lab("up", "--hypervisors", str(len(self.hypervisors)), "--state-dir", str(self.state),
                      "--prefix", PREFIX, "--subnet-base", SUBNET_BASE)
        if self.db_url:
            reset_store(self.db_url)

    def down(self) -> None:
        if (self.state / "lab.json").exists():
            self._lab("down", "--state-dir", str(self.state), check=False)
        subprocess.run(["rm", "-rf", str(self.state)], check=False)

    def __enter__(self) -> "Lab":
        self._old_handlers = {s: signal.signal(s, _interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
        try:
            self.up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # Down even when interrupted: ignore a second signal while the lab is taken apart.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        try:
            self.down()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for s, h in getattr(self, "_old_handlers", {}).items():
                signal.signal(s, h)

    # --- hypervisors -----------------------------------------------------------------------------------

    def addr(self, k: int) -> str:
        return "%s.%d.2" % (SUBNET_BASE, k)

    def daemon(self, action: str, daemon: str, k: int) -> None:
        self._lab("daemon", action, daemon, "--hv", str(k), "--state-dir", str(self.state))
        if daemon == "sshd" and action == "stop":
            # Ansible keeps a master connection per host; close it so the host is really unreachable.
            subprocess.run(["ssh", "-O", "exit", "-o", "ControlPath=%s/%%C" % (self.state / "cm"),
                            "root@%s" % self.addr(k)], capture_output=True, timeout=30, check=False)

    def netns(self, k: int) -> str:
        return "/run/netns/%s-hv%d" % (PREFIX, k)

    def in_host(self, k: int, command: str, check: bool = True, timeout: float = 60) -> str:
        """A shell command inside hvK's network and mount namespaces (works with its sshd down)."""
        proc = subprocess.run(["nsenter", "--net=%s" % self.netns(k), "--mount=%s" % (self.state / ("hv%d" % k) / "ns" / "mnt"),
                               "--", "sh", "-c", command], capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise LabError("hv%d: %s: %s" % (k, command, proc.stderr.strip()))
        return proc.stdout

    def libvirt_socket(self, k: int) -> Path:
        return self.state / ("hv%d" % k) / "root" / "run" / "libvirt" / "libvirt-sock"

    def connect(self, k: int) -> t.Any:
        import libvirt  # the venv's libvirt-python
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors come as exceptions, not on stderr
        return libvirt.open("qemu+unix:///system?socket=%s" % self.libvirt_socket(k))

    def dnsmasq_pid(self, k: int, network: str = NETWORK) -> t.Optional[int]:
        """The PID of the dnsmasq libvirt runs for `network` on hvK, if it is alive in hvK's namespace."""
        pidfile = self.state / ("hv%d" % k) / "root" / "run" / "libvirt" / "network" / ("%s.pid" % network)
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path("/proc/%d/cmdline" % pid).read_bytes()
            same_ns = os.stat("/proc/%d/ns/net" % pid).st_ino == os.stat(self.netns(k)).st_ino
        except (OSError, ValueError):
            return None
        return pid if b"dnsmasq" in cmdline and same_ns else None

    # --- playbook runs ---------------------------------------------------------------------------------

    def _argv(self, servers: list[dict[str, t.Any]], catalog: t.Optional[dict[str, t.Any]]) -> list[str]:
        """provision.yml for these requests; `catalog` overrides the demo's (an inventory source, not extra vars)."""
        argv = [str(VENV / "ansible-playbook"), "-i", str(self.state / "inventory.yml"), "-i",
                str(ROOT / "inventory" / "demo.yml")]
        if catalog:
            argv += ["-i", str(inventory_overlay.write(self.state / "catalog-overlay", catalog))]
        return argv + [str(ROOT / "playbooks" / "provision.yml"), "-e", json.dumps({"stratus_servers": servers})]

    def playbook(self, servers: list[dict[str, t.Any]], extra: t.Optional[dict[str, t.Any]] = None,
                 timeout: float = 900) -> RunResult:
        start = time.monotonic()
        proc = subprocess.Popen(self._argv(servers, extra), cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out = proc.communicate(timeout=timeout)[0]
        except BaseException:
            kill_group(proc)
            raise
        return RunResult(proc.returncode, out, time.monotonic() - start)

    def start_playbook(self, servers: list[dict[str, t.Any]], extra: t.Optional[dict[str, t.Any]],
                       log: Path) -> subprocess.Popen:
        """A run in its own process group, its output going to `log` as it comes."""
        with log.open("w") as fp:
            return subprocess.Popen(self._argv(servers, extra), cwd=ROOT, env=self.env, stdout=fp,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def killed_playbook(self, servers: list[dict[str, t.Any]], extra: t.Optional[dict[str, t.Any]],
                        kill_after: float, log: Path) -> KilledRun:
        """Start a run and SIGKILL its whole process group `kill_after` seconds later."""
        start = time.monotonic()
        proc = self.start_playbook(servers, extra, log)
        try:
            try:
                proc.wait(timeout=kill_after)
                killed = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
            proc.wait(timeout=60)
        except BaseException:
            kill_group(proc)
            raise
        play, task = running_task(log.read_text(errors="replace"))
        return KilledRun(kill_after, killed, task, play, time.monotonic() - start,
                         None if killed else proc.returncode)

    # --- the store -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.db_url or "sqlite:///%s" % (self.state / "store" / "stratus.db")

    def rows(self, query: str, **params: t.Any) -> list[t.Any]:
        import sqlalchemy as sa
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(query), params))
        finally:
            engine.dispose()


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


def reset_store(url: str) -> None:
    """A fresh PostgreSQL store for a scenario: drop every table there (the first run migrates again)."""
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
    finally:
        engine.dispose()


TASK_LINE = re.compile(r"^TASK \[(.*?)\]")
PLAY_LINE = re.compile(r"^PLAY \[(.*?)\]")


def running_task(output: str) -> tuple[str, str]:
    """(play, task) of the last PLAY/TASK header in ansible output: what ran when the run stopped."""
    play, task = "", "(before the first task)"
    for line in output.splitlines():
        m = PLAY_LINE.match(line)
        if m:
            play, task = m.group(1), "(play start)"
        m = TASK_LINE.match(line)
        if m:
            task = m.group(1)
    return play, task


def guest_report(state: Path, uuid: str, host: str, timeout: float = 150) -> list[str]:
    """Every `STRATUS-GUEST ...` line of the guest's serial console log in the lab state dir `state`, once
    its ready line (the last one it prints) is there; [] if it never came."""
    log_file = state / host / "root" / "var" / "log" / "libvirt" / "stratus" / ("%s.console.log" % uuid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_file.exists():
            lines = [line[line.index("STRATUS-GUEST"):].strip()
                     for line in log_file.read_text(errors="replace").splitlines() if "STRATUS-GUEST" in line]
            if any(line.startswith("STRATUS-GUEST ready") for line in lines):
                return lines
        time.sleep(2)
    return []


def console_ready_line(state: Path, uuid: str, host: str, timeout: float = 150) -> str:
    """The guest's ready line ("" if none came)."""
    return next((line for line in guest_report(state, uuid, host, timeout)
                 if line.startswith("STRATUS-GUEST ready")), "")


# --- the audit: what the store says against what libvirt has ------------------------------------------

LEAK_KINDS = ("domain", "instance_disk", "volume", "dhcp_entry", "ip_allocation", "claim", "quota_usage",
              "stuck", "leftover", "missing")


@dataclass
class HostView:
    domains: dict[str, str]                  # uuid -> state name
    instance_vols: set[str]
    volume_vols: set[str]
    dhcp: dict[str, str]                     # mac -> ip (placeholder left out)
    error: t.Optional[str] = None


DOMAIN_STATES = {0: "nostate", 1: "running", 2: "blocked", 3: "paused", 4: "shutdown", 5: "shutoff",
                 6: "crashed", 7: "pmsuspended"}


def host_view(lab: Lab, k: int) -> HostView:
    import libvirt
    try:
        conn = lab.connect(k)
    except libvirt.libvirtError as exc:
        return HostView({}, set(), set(), {}, error=str(exc))
    try:
        domains = {d.UUIDString(): DOMAIN_STATES.get(d.state()[0], "?") for d in conn.listAllDomains()}
        pools = {}
        for name in (INSTANCE_POOL, VOLUME_POOL):
            try:
                pool = conn.storagePoolLookupByName(name)
                pool.refresh(0)
                pools[name] = set(pool.listVolumes())
            except libvirt.libvirtError:
                pools[name] = set()
        dhcp: dict[str, str] = {}
        try:
            root = ET.fromstring(conn.networkLookupByName(NETWORK).XMLDesc(0))
            for host in root.findall("./ip/dhcp/host"):
                mac = (host.get("mac") or "").lower()
                if mac and mac != PLACEHOLDER_MAC:
                    dhcp[mac] = host.get("ip", "")
        except libvirt.libvirtError:
            pass
        dhcp.update(hosts_dir_entries(lab.state / ("hv%d" % k) / "root" / "var" / "lib" / "libvirt" / "dnsmasq"
                                      / ("%s.hostsdir" % NETWORK)))
        return HostView(domains, pools[INSTANCE_POOL], pools[VOLUME_POOL], dhcp)
    finally:
        conn.close()


def hosts_dir_entries(path: Path) -> dict[str, str]:
    """MAC -> IP of the DHCP entries Stratus keeps as files in a network's dnsmasq hosts directory
    (read by the network step's own reader)."""
    from ansible_collections.stratus.compute.plugins.module_utils.compute.network import DirHostEntries
    return {mac: entry["ip"] for mac, entry in DirHostEntries(str(path)).entries().items()}


def audit(lab: Lab, allow_error: bool = False) -> dict[str, list[str]]:
    """Every leak and inconsistency between the store and the hypervisors; each list empty when clean.

    - domain / instance_disk / volume / dhcp_entry: on a host, not owned by a live instance there
      (or a kept volume there); base images are not looked at
    - ip_allocation / claim: in the store, for no live instance (leftovers aside: listed on their own)
    - quota_usage: the project's counted usage differs from its live instances
    - stuck: a live instance in building, or with a task_state (deleting, networking, ...)
    - leftover: a recorded leftover not yet cleaned
    - missing: a live instance without its domain, disks, DHCP entry, claim or IPs where the store says
      (an ERROR instance is expected to hold nothing when `allow_error`)
    """
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import quota  # noqa: E402
    import sqlalchemy as sa

    leaks: dict[str, list[str]] = {kind: [] for kind in LEAK_KINDS}
    engine = sa.create_engine(lab.url)
    try:
        with engine.connect() as conn:
            live = list(conn.execute(sa.text(
                "select uuid, name, host, vm_state, task_state, plan, project_id from instances where deleted = ''")))
            claims = list(conn.execute(sa.text("select instance_uuid, host from resource_claims")))
            ips = list(conn.execute(sa.text("select instance_uuid, address, mac from ip_allocations")))
            volumes = list(conn.execute(sa.text("select id, host, instance_uuid, status from volumes where deleted = ''")))
            left = list(conn.execute(sa.text("select host, instance_uuid, reason, addresses from leftovers")))
            projects = sorted({r.project_id for r in live} | {r[0] for r in conn.execute(sa.text(
                "select distinct project_id from instances"))})
            usage = {p: quota.usage(conn, p) for p in projects}
    finally:
        engine.dispose()

    by_uuid = {r.uuid: r for r in live}
    placed = {r.uuid: r for r in live if r.vm_state in ("building", "active")}
    for r in live:
        if r.vm_state == "building" or r.task_state is not None:
            leaks["stuck"].append("%s %s: vm_state %s task_state %s" % (r.name, r.uuid, r.vm_state, r.task_state))
        if r.vm_state == "error" and not allow_error:
            leaks["stuck"].append("%s %s: vm_state error" % (r.name, r.uuid))
    for lo in left:
        leaks["leftover"].append("%s on %s: %s" % (lo.instance_uuid, lo.host, lo.reason))
    for c in claims:
        if c.instance_uuid not in placed:
            leaks["claim"].append("%s on %s" % (c.instance_uuid, c.host))
    for ip in ips:
        if ip.instance_uuid not in placed:
            leaks["ip_allocation"].append("%s %s of %s" % (ip.address, ip.mac, ip.instance_uuid))
    for p, used in usage.items():
        count = [r for r in live if r.project_id == p]
        if used["instances"] != len(count):
            leaks["quota_usage"].append("%s: counted %s, live %d" % (p, used, len(count)))
    claimed = {c.instance_uuid: c.host for c in claims}
    ip_macs: dict[str, dict[str, str]] = {}
    for ip in ips:
        ip_macs.setdefault(ip.instance_uuid, {})[ip.mac.lower()] = ip.address
    for r in placed.values():
        if claimed.get(r.uuid) != r.host:
            leaks["missing"].append("%s %s: claim on %s, instance on %s" % (r.name, r.uuid, claimed.get(r.uuid), r.host))
        if not ip_macs.get(r.uuid):
            leaks["missing"].append("%s %s: no IP allocation" % (r.name, r.uuid))

    for k in lab.hypervisors:
        host = "hv%d" % k
        view = host_view(lab, k)
        if view.error:
            leaks["missing"].append("%s: libvirt unreadable: %s" % (host, view.error))
            continue
        here = {u: r for u, r in placed.items() if r.host == host}
        excused = {lo.instance_uuid for lo in left if lo.host == host}
        for uuid, state in view.domains.items():
            if uuid not in here and uuid not in excused:
                owner = by_uuid.get(uuid)
                who = "%s %s" % (owner.name, owner.vm_state) if owner else "no live instance"
                leaks["domain"].append("%s: domain %s (%s)" % (host, uuid, who))
        for uuid, r in here.items():
            if r.vm_state != "active":
                continue
            if uuid not in view.domains:
                leaks["missing"].append("%s: no domain for active %s %s" % (host, r.name, uuid))
            elif view.domains[uuid] != "running":
                leaks["missing"].append("%s: domain of %s is %s" % (host, r.name, view.domains[uuid]))
            for dev in as_json(r.plan, {}).get("block_devices", []):
                pool = view.volume_vols if dev.get("kind") in ("volume", "new_volume") else view.instance_vols
                if dev.get("name") and dev["name"] not in pool:
                    leaks["missing"].append("%s: no disk %s of %s" % (host, dev["name"], r.name))
            for mac, address in ip_macs.get(uuid, {}).items():
                if view.dhcp.get(mac) != address:
                    leaks["missing"].append("%s: no DHCP entry %s -> %s of %s" % (host, mac, address, r.name))
        for vol in view.instance_vols:
            owner = vol[:36]
            if owner not in here and owner not in excused:
                leaks["instance_disk"].append("%s: %s/%s" % (host, INSTANCE_POOL, vol))
        kept = {"volume-%s" % v.id for v in volumes if v.host == host}
        for vol in view.volume_vols - kept:
            leaks["volume"].append("%s: %s/%s" % (host, VOLUME_POOL, vol))
        for v in volumes:
            if v.host == host and "volume-%s" % v.id not in view.volume_vols and \
                    (v.instance_uuid is None or v.instance_uuid in placed and placed[v.instance_uuid].vm_state == "active"):
                leaks["missing"].append("%s: volume %s (%s) is not in %s" % (host, v.id, v.status, VOLUME_POOL))
        owned_macs = {mac: uuid for uuid in list(here) + list(excused) for mac in ip_macs.get(uuid, {})}
        leftover_macs = {a["mac"].lower() for lo in left if lo.host == host for a in as_json(lo.addresses, [])}
        for mac, address in view.dhcp.items():
            if mac not in owned_macs and mac not in leftover_macs:
                leaks["dhcp_entry"].append("%s: %s -> %s" % (host, mac, address))
    return leaks


def as_json(value: t.Any, default: t.Any) -> t.Any:
    """A JSON column read with plain SQL: text on SQLite, already decoded on PostgreSQL."""
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value


def leak_counts(leaks: dict[str, list[str]]) -> dict[str, int]:
    return {kind: len(found) for kind, found in leaks.items()}


def clean(leaks: dict[str, list[str]]) -> bool:
    return not any(leaks.values())


# --- the scenario contract -----------------------------------------------------------------------------

def scenario_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True, type=Path, help="directory for <scenario>.json")
    parser.add_argument("--quick", action="store_true", help="a short run (for make test)")
    parser.add_argument("--db-url", default=None, help="state store URL (default: SQLite in the lab's state dir)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, logged)")
    return parser.parse_args()


def write_result(out: Path, scenario: str, figures: dict[str, t.Any], invariants: dict[str, bool],
                 notes: str) -> int:
    """Write <out>/<scenario>.json (the contract in reliability/lib.py); the exit code."""
    return write_result_file(out, scenario, figures, invariants, notes)


def cannot_run(out: Path, scenario: str, why: str) -> int:
    print("%s: could not run: %s" % (scenario, why), file=sys.stderr)
    return write_result_file(out, scenario, {}, {}, "", could_not_run=why)


def log(msg: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# The collection, importable for the audit's quota count (the checkout is the collection).
_COLLECTIONS = str(ROOT / ".ansible" / "collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
