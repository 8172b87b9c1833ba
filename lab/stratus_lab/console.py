# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's serial console: the `STRATUS-GUEST ...` lines the lab's guest image prints (its boot
report, its ready line last, then a heartbeat every 5 s), read from the console log libvirt keeps in
the hypervisor's state dir."""
from __future__ import annotations

import re
import time
from pathlib import Path

READY = "STRATUS-GUEST ready"
ALIVE = re.compile(r"STRATUS-GUEST alive uptime=(\d+)")


def heartbeats(log_file: Path) -> list[int]:
    """The uptimes (seconds) of the guest's heartbeat lines in this console log, in order."""
    try:
        text = log_file.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [int(m.group(1)) for m in ALIVE.finditer(text)]


def console_log(state: Path, uuid: str, host: str) -> Path:
    """The console log of instance `uuid` on `host` of the lab in state dir `state`, as the machine sees it."""
    return state / host / "root" / "var" / "log" / "libvirt" / "stratus" / ("%s.console.log" % uuid)


def guest_report(state: Path, uuid: str, host: str, timeout: float = 150) -> list[str]:
    """Every `STRATUS-GUEST ...` line of the guest's console but its heartbeats, once its ready line is there;
    [] if it never came."""
    log_file = console_log(state, uuid, host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_file.exists():
            lines = [line[line.index("STRATUS-GUEST"):].strip()
                     for line in log_file.read_text(errors="replace").splitlines()
                     if "STRATUS-GUEST" in line and not ALIVE.search(line)]
            if any(line.startswith(READY) for line in lines):
                return lines
        time.sleep(2)  # polling a file QEMU appends to; the deadline is the wait
    return []


def ready_line(state: Path, uuid: str, host: str, timeout: float = 150) -> str:
    """The guest's ready line ("" if none came)."""
    return next((line for line in guest_report(state, uuid, host, timeout) if line.startswith(READY)), "")
