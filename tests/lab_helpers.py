"""What the lab's end-to-end tests ask the machine: its namespaces, links and processes by prefix."""
from __future__ import annotations

import subprocess


def alive(pid: int) -> bool:
    """Whether `pid` runs; zombies waiting for PID 1 to reap them are gone for our purposes."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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
