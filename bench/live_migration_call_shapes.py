# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the shape of Stratus's libvirt call costs time (not part of `make bench`; docs/benchmarks.md, "Live
migration"): the floor's bare domain (256 MiB, a qcow2 overlay, --copy-storage-all) moved back and forth on the
live-migration bench's lab (prefix stxz), alternating

  virsh          stratus_lab.migration.virsh_live_migrate (the floor: virsh drives a managed migration)
  p2p            virDomainMigrateToURI3 with PEER2PEER (Stratus's call), nothing else in the process
  p2p_polled     the same with Stratus's progress polling (jobStats every 0.5 s, the call in a thread)
  direct         virDomainMigrate3 over connections to both libvirts (Stratus's mode: direct)

each with the same flags (LIVE, PERSIST_DEST, UNDEFINE_SOURCE, NON_SHARED_DISK) and parameters (the migration
URI and listen address); prints each migration's seconds and libvirt's completed-job statistics, then medians.

    .venv/bin/python bench/live_migration_call_shapes.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import typing as t
from pathlib import Path

import libvirt

import live_migration_bench as lmb  # beside this script
from stratus_lab import migration
from stratus_lab.lock import lab_lock
from stratus_lab.session import LabSession

DOMAIN = "live-floor"
POLL_INTERVAL = 0.5  # Stratus's (module_utils/compute/live_migration.py)


def libvirt_call(src: t.Any, dst: t.Any, p2p: bool, polled: bool) -> float:
    sconn = libvirt.open(src.libvirt_uri())
    dconn = None if p2p else libvirt.open(dst.libvirt_uri())
    try:
        dom = sconn.lookupByName(DOMAIN)
        params = {libvirt.VIR_MIGRATE_PARAM_URI: "tcp://%s" % dst.migration_addr,
                  libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: dst.migration_addr}
        flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE |
                 libvirt.VIR_MIGRATE_NON_SHARED_DISK | (libvirt.VIR_MIGRATE_PEER2PEER if p2p else 0))
        errors: list[BaseException] = []

        def call() -> None:
            try:
                if p2p:
                    dom.migrateToURI3(dst.migration_uri, params, flags)
                else:
                    dom.migrate3(dconn, params, flags)
            except libvirt.libvirtError as exc:
                errors.append(exc)

        start = time.monotonic()
        worker = threading.Thread(target=call)
        worker.start()
        polled_at = start
        while worker.is_alive():
            worker.join(0.05 if polled else None)
            if polled and worker.is_alive() and time.monotonic() - polled_at >= POLL_INTERVAL:
                polled_at = time.monotonic()
                try:
                    dom.jobStats()
                except libvirt.libvirtError:
                    pass
        seconds = time.monotonic() - start
        if errors:
            raise errors[0]
        return seconds
    finally:
        sconn.close()
        if dconn is not None:
            dconn.close()


VARIANTS: dict[str, t.Callable[[t.Any, t.Any], float]] = {
    "virsh": lambda s, d: migration.virsh_live_migrate(s, d, DOMAIN),
    "p2p": lambda s, d: libvirt_call(s, d, p2p=True, polled=False),
    "p2p_polled": lambda s, d: libvirt_call(s, d, p2p=True, polled=True),
    "direct": lambda s, d: libvirt_call(s, d, p2p=False, polled=False),
}


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/stratus-bench-live-shapes-lab"))
    args = parser.parse_args(argv)
    lab = LabSession(args.state_dir, "stxz", "10.246", hypervisors=2)
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        lab.up()
        log = migration.start_guest(lab.host(1), DOMAIN, lmb.IMAGE)
        migration.ensure_pool(lab.host(2))
        lmb.wait_for("the guest's heartbeat", lambda: bool(lmb.heartbeats(log)), lmb.BOOT_S)
        at = 1
        with lab_lock():
            for rep in range(args.repeats):
                for name, run in VARIANTS.items():
                    took = run(lab.host(at), lab.host(3 - at))
                    job = lmb.completed_job(lab, 3 - at, DOMAIN)
                    at = 3 - at
                    seconds[name].append(took)
                    print(json.dumps({"variant": name, "rep": rep, "seconds": round(took, 3), "libvirt_job": job}),
                          flush=True)
    finally:
        lab.down()
    print(json.dumps({name: round(statistics.median(s), 3) for name, s in seconds.items() if s}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
