# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this machine holds of a lab, found by its name prefix: network namespaces, links, and the
processes in a namespace (what `down` must leave none of)."""
from __future__ import annotations

import subprocess


def netns_pids(name: str) -> set[int]:
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False).stdout
    return {int(p) for p in out.split()}


def lab_netns(prefix: str) -> list[str]:
    """The network namespaces named for a lab of this prefix."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"{prefix}-")]


def lab_links(prefix: str) -> list[str]:
    """The machine's links named for a lab of this prefix."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    return [n for n in names if n.startswith(f"{prefix}-")]
