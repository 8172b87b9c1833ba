# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmark shares: its lab (lab/lab.py), the shared lab lock, ansible-playbook runs,
the play recap, and what the machine was doing meanwhile."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
LAB_LOCK = Path("/tmp/stratus-lab.lock")


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


def run(cmd: list[str], env: dict[str, str], timeout: float = 1800, check: bool = True,
        cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The command in a process group of its own: past `timeout` the whole group is killed (the
    floor's worker processes too), then TimeoutExpired is raised."""
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as child:
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise
    proc = subprocess.CompletedProcess(cmd, child.returncode, out, err)
    if check and proc.returncode != 0:
        raise BenchError("%s failed (exit %s):\n%s\n%s"
                         % (" ".join(cmd[:4]), proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:]))
    return proc


@contextlib.contextmanager
def lab_lock() -> t.Iterator[float]:
    """Hold /tmp/stratus-lab.lock (the flock(1) lock every lab user takes); yields the seconds waited."""
    start = time.monotonic()
    with open(LAB_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class BenchLab:
    """A lab of its own for the benchmark, brought up and down with lab/lab.py."""

    state: Path
    prefix: str
    subnet_base: str
    hypervisors: int = 3

    @property
    def inventory(self) -> Path:
        return self.state / "inventory.yml"

    @property
    def store_dir(self) -> Path:
        return self.state / "store"

    @property
    def key(self) -> Path:
        return self.state / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state / "ssh" / "known_hosts"

    def host_names(self) -> list[str]:
        return ["hv%d" % k for k in range(1, self.hypervisors + 1)]

    def address(self, host: str) -> str:
        return "%s.%d.2" % (self.subnet_base, int(host[2:]))

    def libvirt_uri(self, host: str) -> str:
        """libvirt's own remote transport over the lab's SSH, with its key and pinned host keys."""
        return ("qemu+libssh://root@%s/system?keyfile=%s&known_hosts=%s&sshauth=privkey"
                % (self.address(host), self.key, self.known_hosts))

    def netns_inodes(self) -> set[int]:
        found = set()
        for k in range(1, self.hypervisors + 1):
            with contextlib.suppress(OSError):
                found.add(os.stat("/run/netns/%s-hv%d" % (self.prefix, k)).st_ino)
        return found

    def env(self) -> dict[str, str]:
        return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), STRATUS_STATE_DIR=str(self.store_dir))

    def lab_cmd(self, *args: str) -> list[str]:
        return [str(VENV / "python"), str(ROOT / "lab" / "lab.py"), *args, "--state-dir", str(self.state)]

    def up(self) -> None:
        run(self.lab_cmd("down"), self.env(), check=False)
        run(self.lab_cmd("up", "--hypervisors", str(self.hypervisors), "--prefix", self.prefix,
                         "--subnet-base", self.subnet_base), self.env(), timeout=600)

    def down(self) -> None:
        run(self.lab_cmd("down"), self.env(), check=False, timeout=600)


def playbook(lab: BenchLab, path: Path, extra: dict[str, t.Any], env: t.Optional[dict[str, str]] = None,
             inventories: t.Sequence[Path] = (), check: bool = True) -> subprocess.CompletedProcess:
    """ansible-playbook with the lab's inventory (plus `inventories`), extra vars from a file."""
    extra_file = lab.state / "bench-extra-vars.json"
    extra_file.write_text(json.dumps(extra))
    cmd = [str(VENV / "ansible-playbook"), "-i", str(lab.inventory)]
    for inv in inventories:
        cmd += ["-i", str(inv)]
    cmd += [str(path), "-e", "@%s" % extra_file]
    return run(cmd, env or lab.env(), check=check)


def machine_snapshot(lab: BenchLab) -> dict[str, t.Any]:
    """Load, CPUs, and the QEMU processes on the machine that are not this lab's."""
    ours = lab.netns_inodes()
    ours_count = others = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                argv0 = handle.read().split(b"\0", 1)[0]
            if not argv0.endswith(b"qemu-system-x86_64"):
                continue
            if os.stat("/proc/%s/ns/net" % entry).st_ino in ours:
                ours_count += 1
            else:
                others += 1
        except OSError:
            continue
    return {"loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
            "qemu_this_lab": ours_count, "qemu_others": others}


def cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat's first line: user ... steal), in ticks."""
    with open("/proc/stat") as handle:
        return [int(v) for v in handle.readline().split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> t.Optional[float]:
    """The share of CPU time the virtual machine's host took away between two readings (steal)."""
    spent = [b - a for a, b in zip(before, after)]
    total = sum(spent)
    return round(spent[7] / total, 3) if total > 0 and len(spent) > 7 else None
