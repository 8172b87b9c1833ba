# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One hypervisor of a lab that is up: a command inside its namespaces (works with its sshd down) or
over its SSH (as Ansible reaches it), its libvirt (over its unix socket, or libvirt's own SSH
transport as a remote controller would), its dnsmasq and its DHCP entries."""
from __future__ import annotations

import os
import subprocess
import typing as t
from pathlib import Path

from ansible_collections.stratus.compute.plugins.module_utils.compute.network import DNSMASQ_PID_DIR, hosts_dir_path
from stratus_lab import lab as labmod

LIBVIRT_URI = labmod.LIBVIRT_URI


def dhcp_entries_command(network: str) -> str:
    """A shell command for a hypervisor that prints `network`'s DHCP host entries: those in libvirt's
    XML and those in the dnsmasq hosts directory where Stratus keeps them (a line per entry)."""
    return ("virsh -q -c {uri} net-dumpxml {net} 2>/dev/null | grep '<host ' || true; "
            "cat {hosts_dir}/* 2>/dev/null || true").format(uri=LIBVIRT_URI, net=network,
                                                            hosts_dir=hosts_dir_path(network))


class Host(labmod.Hypervisor):
    """hvK of the lab in state dir `state` (its prefix and addresses are the ones lab.json recorded);
    its names, addresses and directories are the lab's own (stratus_lab.lab.Hypervisor)."""

    def __init__(self, state: Path, k: int) -> None:
        lab = labmod.load_lab(state)
        if lab is None:
            raise labmod.LabError("no lab is up in %s" % state)
        super().__init__(lab, k)

    # --- commands ----------------------------------------------------------------------------------

    def in_namespaces(self, command: str, check: bool = True, timeout: float = 60) -> str:
        """A shell command inside hvK's network and mount namespaces; its output."""
        proc = subprocess.run(self.nsenter(["sh", "-c", command]), capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise labmod.LabError("%s: %s: %s" % (self.name, command, proc.stderr.strip()))
        return proc.stdout

    def ssh_argv(self, known_hosts: t.Optional[Path] = None, connect_timeout: t.Optional[int] = None) -> list[str]:
        """ssh to root@hvK with the lab's key and its pinned host keys (no user config); append a command."""
        lab = self.lab
        argv = ["ssh", "-i", str(lab.key), "-F", "/dev/null",
                "-o", "UserKnownHostsFile=%s" % (known_hosts or lab.known_hosts),
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
        if connect_timeout is not None:
            argv += ["-o", "ConnectTimeout=%d" % connect_timeout]
        return argv + ["root@%s" % self.addr]

    def ssh(self, command: str, check: bool = True, timeout: float = 60, known_hosts: t.Optional[Path] = None,
            connect_timeout: t.Optional[int] = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.ssh_argv(known_hosts, connect_timeout) + [command], capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise labmod.LabError("ssh %s %r failed (exit %d): %s" % (self.name, command, proc.returncode,
                                                                      proc.stderr.strip()))
        return proc

    def close_ssh_master(self) -> None:
        """Close the SSH master connection Ansible keeps to this host, so that it is really unreachable."""
        subprocess.run(["ssh", "-O", "exit", "-o", "ControlPath=%s/%%C" % self.lab.control_dir,
                        "root@%s" % self.addr], capture_output=True, timeout=30, check=False)

    # --- libvirt -----------------------------------------------------------------------------------

    @property
    def libvirt_socket(self) -> Path:
        return self.root / "run" / "libvirt" / "libvirt-sock"

    def connect(self) -> t.Any:
        """libvirt-python over this hypervisor's unix socket (reaches it with its sshd down)."""
        import libvirt
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors come as exceptions, not on stderr
        return libvirt.open("qemu+unix:///system?socket=%s" % self.libvirt_socket)

    def libvirt_uri(self) -> str:
        """libvirt's own remote transport over the lab's SSH, with its key and pinned host keys."""
        lab = self.lab
        return ("qemu+libssh://root@%s/system?keyfile=%s&known_hosts=%s&sshauth=privkey"
                % (self.addr, lab.key, lab.known_hosts))

    def hosts_dir(self, network: str) -> Path:
        """`network`'s dnsmasq hosts directory (Stratus's DHCP entries), as the machine sees it."""
        return self.root / hosts_dir_path(network).lstrip("/")

    def dnsmasq_pid(self, network: str) -> t.Optional[int]:
        """The PID of the dnsmasq libvirt runs for `network` here, if it is alive in this host's namespace."""
        pidfile = self.root / DNSMASQ_PID_DIR.lstrip("/") / ("%s.pid" % network)
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path("/proc/%d/cmdline" % pid).read_bytes()
            same_ns = os.stat("/proc/%d/ns/net" % pid).st_ino == os.stat(self.netns_path).st_ino
        except (OSError, ValueError):
            return None
        return pid if b"dnsmasq" in cmdline and same_ns else None
