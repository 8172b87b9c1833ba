# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power floor: stop, start and hard reboot of existing domains with libvirt-python, nothing else.

The calls Stratus's power step makes per domain (plugins/module_utils/compute/power.py, with a
shutdown timeout of 0), without Ansible, the state store or the policy:

  stop    look the domain up, destroy it
  start   look it up, create it, poll its state until it runs
  reboot  look it up, destroy it, create it, poll until it runs (a hard reboot)

One libvirt connection per worker (libvirt's libssh transport over the lab's SSH, as a remote
controller reaches a hypervisor), each hypervisor's domains split over `--parallel` worker
processes (1: one after another per host; Stratus's step runs up to stratus_power_parallel, 4, at
once). Processes, not threads: libvirt's libssh client driven from threads has hung (bench/floor.py).
`settle` brings the domains to a state (running or off) whatever they are in, with the same calls
plus a look at their state: what the benchmark runs after a floor phase it had to kill.

    power_floor.py stop|start|reboot|settle-running|settle-off --state-dir DIR --hypervisors 3
                   --servers FILE [--parallel K]

FILE is JSON: {"hvK": [uuid, ...], ...}, the domains of each hypervisor.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import time
import typing as t
from pathlib import Path

import libvirt

from stratus_lab.host import Host

POLL_INTERVAL = 0.2  # Stratus's (power.POLL_INTERVAL)
START_TIMEOUT = 60.0
RUNNING = (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)


class FloorError(Exception):
    """A domain did not do what it was asked."""


def create_and_wait(dom: t.Any) -> None:
    dom.create()
    deadline = time.monotonic() + START_TIMEOUT
    while dom.state()[0] not in RUNNING:
        if time.monotonic() >= deadline:
            raise FloorError("domain %s did not reach running within %ds" % (dom.name(), START_TIMEOUT))
        time.sleep(POLL_INTERVAL)


def stop(dom: t.Any) -> None:
    dom.destroy()


def reboot(dom: t.Any) -> None:
    dom.destroy()
    create_and_wait(dom)


def settle_running(dom: t.Any) -> None:
    if dom.state()[0] not in RUNNING:
        if dom.isActive():
            dom.destroy()
        create_and_wait(dom)


def settle_off(dom: t.Any) -> None:
    if dom.isActive():
        dom.destroy()


ACTIONS: dict[str, t.Callable[[t.Any], None]] = {
    "stop": stop, "start": create_and_wait, "reboot": reboot,
    "settle-running": settle_running, "settle-off": settle_off,
}


def on_host(action: str, uri: str, uuids: list[str]) -> tuple[int, t.Optional[str]]:
    """One worker's share of a hypervisor, in its own process: (domains done, the error or None)."""
    try:
        conn = libvirt.open(uri)
        try:
            for uuid in uuids:
                ACTIONS[action](conn.lookupByUUIDString(uuid))
            return len(uuids), None
        finally:
            conn.close()
    except (libvirt.libvirtError, FloorError) as exc:
        message = exc.get_error_message() if isinstance(exc, libvirt.libvirtError) else str(exc)
        return 0, "%s: %s" % (uri.split("@", 1)[-1].split("/", 1)[0], message)


def shares(by_host: dict[str, list[str]], parallel: int) -> list[tuple[str, list[str]]]:
    """Each host's domains dealt round-robin to `parallel` workers (none empty)."""
    out = []
    for host, uuids in by_host.items():
        for k in range(parallel):
            mine = uuids[k::parallel]
            if mine:
                out.append((host, mine))
    return out


def _silence(_ctx: t.Any, _err: t.Any) -> None:
    """libvirt prints every error to stderr; the failures that matter raise."""


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=sorted(ACTIONS))
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--hypervisors", type=int, default=3)
    parser.add_argument("--servers", type=Path, required=True)
    parser.add_argument("--parallel", type=int, default=1)
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel: at least 1")
    libvirt.registerErrorHandler(_silence, None)
    by_host: dict[str, list[str]] = json.loads(args.servers.read_text())
    uris = {host.name: host.libvirt_uri() for host in (Host(args.state_dir, k) for k in range(1, args.hypervisors + 1))}
    work = shares(by_host, args.parallel)
    start = time.monotonic()
    with concurrent.futures.ProcessPoolExecutor(max(1, len(work))) as pool:
        outcomes = list(pool.map(on_host, [args.action] * len(work), [uris[host] for host, _uuids in work],
                                 [uuids for _host, uuids in work]))
    errors = [err for _done, err in outcomes if err]
    if errors:
        print(json.dumps({"failed": True, "msg": "libvirt: %s" % "; ".join(errors)}))
        return 1
    print(json.dumps({"action": args.action, "domains": sum(done for done, _err in outcomes),
                      "seconds": round(time.monotonic() - start, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
