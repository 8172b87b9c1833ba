# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench-live-migration: one live migration of a guest with 256 MiB of RAM and its disks, Stratus against
libvirt's own `virsh migrate --live --copy-storage-all`.

A lab of its own (two hypervisors with the lab's migration network, prefix stxz, subnets 10.246.K.0). Two
guests of the lab's guest image (256 MiB, 1 vCPU, a qcow2 overlay root disk of the image), booted first, not
timed: the floor's, a bare domain in hv1's migration pool (stratus_lab.migration.start_guest); Stratus's, a
server of flavor m1.live (1 vCPU, 256 MiB, a 1 GiB root disk) built by provision.yml (on the host the
scheduler picks). Then, holding the lab lock, alternately, for each round:

  floor    stratus_lab.migration.virsh_live_migrate: `virsh migrate --live --persistent --undefinesource
           --copy-storage-all` to the other hypervisor over the migration network
  stratus  playbooks/server_action.yml with action live_migrate (what `stratus server live-migrate` runs): the
           destination prepared, libvirt's migration (the same copy of every writable disk), the source
           cleaned, the store updated

each guest going to the other host and back round after round. Each migration is checked: the guest runs on
the destination and not on the source, and its heartbeat (`STRATUS-GUEST alive uptime=`) goes on there.
Not judged: after each round, module_alone moves Stratus's guest there and back with the modules' code alone
(bench/live_migration_module_alone.py, the arguments captured from two untimed Stratus runs before the rounds);
after every migration, libvirt's completed-job statistics on the destination. Medians, the ratio Stratus /
floor (target <= 1.3), every round's Ansible profile and those statistics go to bench.json's "live_migration"
key.
"""
from __future__ import annotations

import argparse
import datetime
import re
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import libvirt
import yaml

from bench import BenchError, cpu_times, machine_snapshot, playbook, steal_share
from stratus_lab import inventory_overlay, migration
from stratus_lab.ansible_run import caller_env
from stratus_lab.console import console_log, heartbeats
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.paths import DEMO_INVENTORY, PROVISION, ROOT, VENV_BIN
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url

BENCH = ROOT / "bench"
ACTIONS = ROOT / "playbooks" / "server_action.yml"
IMAGE = ROOT / "build" / "images" / "stratus-guest.qcow2"
FLAVOR = {"id": "20", "name": "m1.live", "vcpus": 1, "ram": migration.GUEST_MEMORY_MIB, "disk": 1, "ephemeral": 0,
          "swap": 0}
FLOOR_DOMAIN = "live-floor"
ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}  # live migration is an admin's
BOOT_S = 300.0
TARGET = 1.3


def catalog_overlay(disk_copy: str) -> dict[str, t.Any]:
    """The demo catalog's flavors and m1.live (an inventory overlay replaces the list whole), and how the
    hypervisors copy disks (stratus_live_migration_disk_copy)."""
    demo = yaml.safe_load((ROOT / "inventory" / "group_vars" / "all" / "catalog.yml").read_text())
    return {"stratus_flavors": list(demo["stratus_flavors"]) + [FLAVOR], "stratus_live_migration_disk_copy": disk_copy}


def wait_for(what: str, done: t.Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise BenchError("no %s after %.0f s" % (what, timeout))
        time.sleep(0.5)


def module_args(remote: Path, module: str) -> tuple[Path, str]:
    """The arguments a kept AnsiballZ payload of `module` under `remote` got, as the module reads them (the bytes
    its `explode` writes), without `uploads`: a destination without the image asked for it and got it in a second
    run of the same payload file, the upload moved into the base pool since (where the replay finds it); and the
    payload's serialization profile."""
    found = sorted(remote.glob("ansible-tmp-*/AnsiballZ_%s.py" % module), key=lambda p: p.stat().st_mtime)
    if not found:
        raise BenchError("module_alone: no kept payload of %s under %s" % (module, remote))
    subprocess.run([str(VENV_BIN / "python"), str(found[-1]), "explode"], check=True, capture_output=True,
                   timeout=120)
    sent = json.loads((found[-1].parent / "debug_dir" / "args").read_text())
    sent["ANSIBLE_MODULE_ARGS"].pop("uploads", None)
    path = remote / ("%s-args.json" % module)
    path.write_text(json.dumps(sent))
    profile = re.search(r"""profile\s*=\s*['"]([A-Za-z0-9_.]+)['"]""", found[-1].read_text())
    return path, profile.group(1) if profile else "legacy"


def running_on(lab: LabSession, k: int, ref: str) -> bool:
    """Whether hvK runs the domain named or with the uuid `ref`."""
    conn = libvirt.open(lab.host(k).libvirt_uri())
    try:
        for lookup in (conn.lookupByName, conn.lookupByUUIDString):
            try:
                dom = lookup(ref)
            except libvirt.libvirtError:
                continue
            return dom.state()[0] in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)
        return False
    finally:
        conn.close()


# libvirt's completed-job statistics kept per measurement (not judged): where libvirt's own time goes
JOB_KEYS = ("time_elapsed", "time_elapsed_net", "setup_time", "downtime", "downtime_net", "memory_total",
            "memory_processed", "memory_iteration", "memory_dirty_rate", "memory_bps", "disk_total", "disk_processed",
            "disk_bps", "data_total", "data_processed", "auto_converge_throttle")


def completed_job(lab: LabSession, k: int, ref: str) -> dict[str, t.Any]:
    """The finished migration's statistics as hvK's libvirt (the destination) keeps them
    (virDomainGetJobStats(VIR_DOMAIN_JOB_STATS_COMPLETED), `virsh domjobinfo --completed`): the source sends
    them in the migration's last cookie. Times in ms, sizes in bytes; {} when libvirt has none."""
    conn = libvirt.open(lab.host(k).libvirt_uri())
    try:
        dom = conn.lookupByUUIDString(ref) if len(ref) == 36 else conn.lookupByName(ref)
        stats = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    except libvirt.libvirtError as exc:
        return {"error": str(exc)}
    finally:
        conn.close()
    return {k: stats[k] for k in JOB_KEYS if k in stats}


class LiveBench:
    def __init__(self, lab: LabSession, work: Path, disk_copy: str) -> None:
        self.lab = lab
        self.disk_copy = disk_copy
        self.work = work
        self.records: list[dict[str, t.Any]] = []
        self.profile: dict[str, t.Any] = {}
        self.lock_waits: list[float] = []
        self.overlay = inventory_overlay.write(lab.state / "bench-live-overlay", catalog_overlay(disk_copy))
        self.uuid = ""
        # (source, destination) -> step -> (the module's arguments file, its serialization profile)
        self.captured: dict[tuple[int, int], dict[str, tuple[Path, str]]] = {}
        self.floor_at = 1    # the hypervisor each guest runs on
        self.stratus_at = 1

    def store(self, query: str) -> list[tuple]:
        return [tuple(r) for r in store_rows(sqlite_url(self.lab.state / "store"), query)]

    def build(self) -> None:
        """The two guests, booted, not timed."""
        hv1 = self.lab.host(1)
        log = migration.start_guest(hv1, FLOOR_DOMAIN, IMAGE)
        migration.ensure_pool(self.lab.host(2))  # libvirt makes the copied disk in the pool of its directory
        request = [{"name": "live", "flavor": FLAVOR["name"], "image": "stratus-guest", "networks": [{"name": "demo"}]}]
        playbook(self.lab, PROVISION, {"stratus_servers": request}, inventories=[DEMO_INVENTORY, self.overlay])
        ((self.uuid, host),) = self.store("select uuid, host from instances where deleted = '' and name = 'live'")
        self.stratus_at = int(host[2:])
        wait_for("heartbeat of the floor's guest", lambda: bool(heartbeats(log)), BOOT_S)
        wait_for("heartbeat of the Stratus guest",
                 lambda: bool(heartbeats(console_log(self.lab.state, self.uuid, host))), BOOT_S)

    def timed(self, method: str, rep: int, action: t.Callable[[], t.Any]) -> None:
        snapshot = machine_snapshot(self.lab)
        ticks = cpu_times()
        start = time.monotonic()
        action()
        seconds = time.monotonic() - start
        steal = steal_share(ticks, cpu_times())
        self.records.append({"method": method, "rep": rep, "seconds": round(seconds, 3), "machine_before": snapshot,
                             "cpu_steal_during": steal})
        print("bench-live-migration: %-8s rep %d: %6.2fs (load %.1f, steal %s)"
              % (method, rep + 1, seconds, snapshot["loadavg_1m"],
                 "?" if steal is None else "%d%%" % round(100 * steal)),
              flush=True)

    def check_moved(self, what: str, name: str, src: int, dst: int, log: Path, before: int) -> None:
        """Running on dst, not on src, its heartbeat going on there with a larger uptime."""
        if not running_on(self.lab, dst, name) or running_on(self.lab, src, name):
            raise BenchError("%s: not running on hv%d alone after the migration" % (what, dst))
        wait_for("%s's heartbeat on hv%d" % (what, dst), lambda: any(u > before for u in heartbeats(log)), 120)

    def floor(self, rep: int) -> None:
        src, dst = self.floor_at, 3 - self.floor_at
        before = max(heartbeats(migration.console_path(self.lab.host(src), FLOOR_DOMAIN)) or [0])
        self.timed("floor", rep, lambda: migration.virsh_live_migrate(self.lab.host(src), self.lab.host(dst),
                                                                      FLOOR_DOMAIN))
        self.records[-1]["libvirt_job"] = completed_job(self.lab, dst, FLOOR_DOMAIN)
        self.check_moved("floor", FLOOR_DOMAIN, src, dst, migration.console_path(self.lab.host(dst), FLOOR_DOMAIN),
                         before)
        self.floor_at = dst

    def live_migrate(self, dst: int, env: dict[str, str]) -> None:
        """Stratus's live migration of its guest to hvDST: playbooks/server_action.yml, as the CLI runs it."""
        extra = {"stratus_actions": [{"server": self.uuid, "action": "live_migrate", "host": "hv%d" % dst}]}
        playbook(self.lab, ACTIONS, extra, dict(env, **caller_env(ADMIN)), inventories=[DEMO_INVENTORY, self.overlay])

    def check_stratus_moved(self, what: str, src: int, dst: int, before: int) -> None:
        state = self.store("select host, vm_state, task_state from instances where uuid = '%s'" % self.uuid)
        if state != [("hv%d" % dst, "active", None)]:
            raise BenchError("%s: the store has (host, vm_state, task_state) %s after the migration" % (what, state))
        self.check_moved(what, self.uuid, src, dst, console_log(self.lab.state, self.uuid, "hv%d" % dst), before)
        self.stratus_at = dst

    def stratus(self, rep: int) -> None:
        src, dst = self.stratus_at, 3 - self.stratus_at
        before = max(heartbeats(console_log(self.lab.state, self.uuid, "hv%d" % src)) or [0])
        env = dict(self.lab.env, ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="bench_timings", BENCH_TIMINGS_FILE=str(self.work / "live.json"))
        self.timed("stratus", rep, lambda: self.live_migrate(dst, env))
        self.records[-1]["libvirt_job"] = completed_job(self.lab, dst, self.uuid)
        self.check_stratus_moved("stratus", src, dst, before)
        # libvirt's part, as the event says it ("from hv1 to hv2 in 2.1 s"): the rest is Stratus's own
        ((details,),) = self.store("select e.details from instance_actions_events e join instance_actions a on "
                                   "a.id = e.action_id where a.instance_uuid = '%s' and e.event = "
                                   "'compute_live_migration' order by e.id desc limit 1" % self.uuid)
        self.records[-1]["libvirt_migration_seconds"] = float(details.rsplit(" in ", 1)[1].split()[0])
        path = self.work / "live.json"
        if path.exists():  # every round's profile (the first round's is also the section's)
            data = json.loads(path.read_text())
            self.records[-1]["ansible_profile"] = {"until_first_task": data["until_first_task"],
                                                   "by_task": data["by_name"]}
            path.unlink()
            if rep == 0:
                self.profile = self.records[-1]["ansible_profile"]

    def capture(self) -> None:
        """Untimed: one Stratus migration each way with its AnsiballZ payloads kept (ANSIBLE_KEEP_REMOTE_FILES,
        which also turns pipelining off), and the arguments its two modules got, per direction (src, dst)."""
        for n in range(2):
            src, dst = self.stratus_at, 3 - self.stratus_at
            before = max(heartbeats(console_log(self.lab.state, self.uuid, "hv%d" % src)) or [0])
            remote = self.lab.state / ("bench-module-alone-%d" % n)  # the state dir: seen inside the namespaces
            self.live_migrate(dst, dict(self.lab.env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(remote)))
            self.check_stratus_moved("capture", src, dst, before)
            self.captured[(src, dst)] = {step: module_args(remote, module) for step, module in (
                ("prepare", "compute_live_migration_prep"), ("migrate", "compute_live_migration"))}

    def module_alone(self, rep: int) -> None:
        """Not judged: the guest there and back with the modules' code alone (bench/live_migration_module_alone.py,
        the destination prepared, then the source migrating, each in its hypervisor's namespaces); each way is a
        measurement. The store is untouched and the guest ends where the store says it is."""
        for _way in range(2):
            src, dst = self.stratus_at, 3 - self.stratus_at
            before = max(heartbeats(console_log(self.lab.state, self.uuid, "hv%d" % src)) or [0])
            parts: dict[str, t.Any] = {}

            def both() -> None:
                for k, step in ((dst, "prepare"), (src, "migrate")):
                    args_file, profile = self.captured[(src, dst)][step]
                    proc = subprocess.run(self.lab.host(k).nsenter([
                        str(VENV_BIN / "python"), str(BENCH / "live_migration_module_alone.py"), step, str(args_file),
                        profile]), capture_output=True, text=True, timeout=600, check=False)
                    lines = proc.stdout.strip().splitlines()
                    res = json.loads(lines[-1]) if lines else {"failed": {"-": proc.stderr.strip()[-2000:]}}
                    if res["failed"]:
                        raise BenchError("module_alone %s on hv%d failed: %s" % (step, k, res["failed"]))
                    parts[step] = res["seconds"]
                    parts[step + "_changed"] = res.get("changed")
                    if res.get("libvirt_seconds"):
                        parts["libvirt_migration_seconds"] = res["libvirt_seconds"][0]

            self.timed("module_alone", rep, both)
            self.records[-1].update(direction="hv%d->hv%d" % (src, dst), parts_seconds=parts,
                                    libvirt_job=completed_job(self.lab, dst, self.uuid))
            self.check_moved("module_alone", self.uuid, src, dst, console_log(self.lab.state, self.uuid, "hv%d" % dst),
                             before)
            self.stratus_at = dst

    def round(self, rep: int) -> None:
        with lab_lock() as waited:
            self.lock_waits.append(round(waited, 1))
            # alternated: which goes first changes every round
            for method in (("floor", "stratus") if rep % 2 == 0 else ("stratus", "floor")):
                getattr(self, method)(rep)
            if self.captured:
                self.module_alone(rep)


def section(bench: LiveBench, repeats: int, started: datetime.datetime, error: t.Optional[str]) -> dict[str, t.Any]:
    med = {m: statistics.median([r["seconds"] for r in bench.records if r["method"] == m])
           for m in ("floor", "stratus", "module_alone") if any(r["method"] == m for r in bench.records)}
    inner = [r["libvirt_migration_seconds"] for r in bench.records if "libvirt_migration_seconds" in r]
    if inner:  # not judged: the module's migrateToURI3 call alone, inside Stratus's time
        med["stratus_libvirt_migration"] = statistics.median(inner)
    ratio = round(med["stratus"] / med["floor"], 2) if med.get("floor") and "stratus" in med else None
    jobs = {m: {k: statistics.median(r["libvirt_job"][k] for r in rs) for k in JOB_KEYS
                if all(k in r["libvirt_job"] for r in rs)}
            for m in ("floor", "stratus", "module_alone")
            for rs in [[r for r in bench.records if r["method"] == m and "time_elapsed" in r.get("libvirt_job", {})]]
            if rs}
    loads = [r["machine_before"]["loadavg_1m"] for r in bench.records]
    return {
        "benchmark": "one live migration of a 256 MiB guest with its disks: stratus (playbooks/server_action.yml "
                     "live_migrate) vs virsh migrate --live --copy-storage-all",
        "complete": error is None,
        "error": error,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": {"repeats": repeats, "hypervisors": 2, "stratus_live_migration_disk_copy": bench.disk_copy,
                       "image": "stratus-guest (the lab's guest)",
                       "flavor": "%s (1 vCPU, %d MiB, 1 GiB root disk; Stratus's also has its config drive, made "
                                 "on the destination, not copied)" % (FLAVOR["name"], FLAVOR["ram"]),
                       "floor": "stratus_lab.migration.virsh_live_migrate (virsh migrate --live --persistent "
                                "--undefinesource --copy-storage-all over the lab's migration network)",
                       "stratus": "the whole playbook: ansible-playbook start, the request, the destination's "
                                  "preparation, libvirt's migration (PEER2PEER; NON_SHARED_INC, or NON_SHARED_DISK "
                                  "with disk copy full), the source's clean-up, the report",
                       "module_alone": "not judged: the destination's preparation and the source's migration "
                                       "(module_utils/compute/live_migration.py's run_prepare, run_migrate) run in "
                                       "the hypervisors' namespaces with the arguments two untimed Stratus runs "
                                       "gave the modules (bench/live_migration_module_alone.py); no Ansible, no "
                                       "action plugins, no store; the guest there and back each round",
                       "libvirt_job": "not judged: each migration's completed-job statistics on the destination "
                                      "(virDomainGetJobStats COMPLETED: ms and bytes)",
                       "order": "alternated: floor first in even rounds, stratus first in odd ones",
                       "statistic": "median wall seconds of the rounds"},
        "seconds": med,
        "ratio_stratus_over_floor": ratio,
        "libvirt_job_medians": jobs,
        "target": {"ratio_at_most": TARGET, "met": ratio is not None and ratio <= TARGET},
        "ansible_profile_first_round": bench.profile,
        "machine": {"cpus": os.cpu_count(),
                    "loadavg_1m_during": {"min": min(loads, default=None), "max": max(loads, default=None)},
                    "lab_lock_waits_seconds": bench.lock_waits},
        "measurements": bench.records,
    }


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/stratus-bench-live-lab"))
    parser.add_argument("--disk-copy", choices=("full", "incremental"), default="incremental",
                        help="Stratus's stratus_live_migration_disk_copy (the floor always copies all)")
    parser.add_argument("--no-module-alone", dest="module_alone", action="store_false",
                        help="without the not-judged module_alone measurements (and their two untimed captures)")
    parser.add_argument("--prefix", default="stxz")
    parser.add_argument("--subnet-base", default="10.246")
    parser.add_argument("--output", type=Path, default=ROOT / "bench.json",
                        help="a JSON file whose 'live_migration' key gets the report (other keys are kept)")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats: at least 3, the report is a median")
    if not IMAGE.exists():
        parser.error("%s is missing: run `make image` first" % IMAGE)
    lab = LabSession(args.state_dir, args.prefix, args.subnet_base, hypervisors=2)
    started = datetime.datetime.now(datetime.timezone.utc)
    error = None
    with tempfile.TemporaryDirectory(prefix="stratus-bench-live-") as tmp:
        bench: t.Optional[LiveBench] = None
        try:
            lab.up()
            bench = LiveBench(lab, Path(tmp), args.disk_copy)
            with lab_lock():
                bench.build()
                if args.module_alone:
                    bench.capture()
            for rep in range(args.repeats):
                bench.round(rep)
        except (BenchError, LabError, subprocess.TimeoutExpired, libvirt.libvirtError) as exc:
            error = str(exc)
            print("bench-live-migration: %s" % error, file=sys.stderr)
        finally:
            lab.down()
        report = section(bench, args.repeats, started, error) if bench else {"complete": False, "error": error}
    whole = json.loads(args.output.read_text()) if args.output.exists() else {}
    whole["live_migration"] = report
    args.output.write_text(json.dumps(whole, indent=2) + "\n")
    print(json.dumps({k: report.get(k) for k in ("complete", "seconds", "ratio_stratus_over_floor", "target")},
                     indent=2))
    print("bench-live-migration: wrote the 'live_migration' section of %s" % args.output)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
