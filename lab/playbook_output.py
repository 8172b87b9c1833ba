# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading ansible-playbook's default output, and what a hypervisor holds: what the lab's users
(tests/e2e, bench) check."""
from __future__ import annotations

import re


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host."""
    out = {}
    for host, fields in re.findall(r"^(\S+)\s+: (ok=.*)$", stdout, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
    return out


def task_lines(stdout: str, task: str) -> list[str]:
    """The per-host lines printed under the first TASK header whose name starts with `task`."""
    parts = re.split(r"^TASK \[(.*?)\] \**$", stdout, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        if name.startswith(task):
            return [ln for ln in body.splitlines() if ln.strip()]
    return []


def dhcp_entries_command(network: str) -> str:
    """A shell command for a hypervisor that prints `network`'s DHCP host entries: those in libvirt's
    XML and those in the dnsmasq hosts directory where Stratus keeps them (a line per entry)."""
    return ("virsh -q -c qemu:///system net-dumpxml {net} 2>/dev/null | grep '<host ' || true; "
            "cat /var/lib/libvirt/dnsmasq/{net}.hostsdir/* 2>/dev/null || true").format(net=network)
