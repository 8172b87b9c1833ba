# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench's power section: stop, start and hard reboot of N = 30 servers against the libvirt floor.

A lab of its own (three hypervisors, prefix stxg, subnets 10.237.K.0). N servers of the bench image
(flavor m1.bench, no config drive) are built first by provision.yml, not timed. Then, for each
repetition, holding the lab lock:

  floor           bench/power_floor.py on the same N domains: destroy each; create each and wait
                  until it runs; destroy and create each (a hard reboot); a host's domains one after
                  another, the hosts in parallel
  floor_parallel  the same with each host's domains four at a time (Stratus's stratus_power_parallel)
  stratus         playbooks/server_action.yml with N stops, then N starts, then N hard reboots

The hypervisors' stratus_shutdown_timeout is 0 (an inventory overlay): the bench guest has no ACPI
handler, so a clean shutdown would only wait out the window; with 0 a stop is a destroy, the floor's
call. Each phase is checked: libvirt (all N shut off, or all running; after a reboot each domain has a
new QEMU, a new domain id) and, for Stratus, the store (vm_state stopped or active, task_state None).
Medians, the ratio Stratus / floor per phase and for the three together, judged against the stricter
floor, and the first repetition's Ansible profile go to bench.json's "power" key.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
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

import power_report  # bench/power_report.py, beside this script
from bench import BenchError, cpu_times, machine_snapshot, playbook, run, steal_share
from stratus_lab import inventory_overlay
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.paths import DEMO_INVENTORY, PROVISION, ROOT, VENV_BIN
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url

BENCH = ROOT / "bench"
ACTIONS = ROOT / "playbooks" / "server_action.yml"
IMAGE = ROOT / "build" / "images" / "stratus-bench.qcow2"
FLAVOR = "m1.bench"
QUOTAS = {"defaults": {"instances": 1000, "cores": 1000, "ram": 1000000}}
# The operator's inventory for the bench: its quotas, and a stop that is Nova's force stop (see above).
OVERLAY = {"stratus_quotas": QUOTAS, "stratus_shutdown_timeout": 0}
FLOOR_PARALLEL = 4  # Stratus's stratus_power_parallel default
FLOOR_ATTEMPTS = 3
# What each phase leaves: libvirt's view and, for Stratus, the store's vm_state.
PHASE_END = {"stop": ("off", "stopped"), "start": ("running", "active"), "reboot": ("running", "active")}
MODULE_ACTION = {"stop": "stop", "start": "start", "reboot": "reboot_hard"}
STRATUS_ACTION = {"stop": {"action": "stop"}, "start": {"action": "start"},
                  "reboot": {"action": "reboot", "reboot_type": "hard"}}


def floor_timeout(n: int) -> float:
    return 60.0 + 3.0 * n


def domain_states(lab: LabSession) -> dict[str, tuple[bool, int]]:
    """Every instance-* domain of the lab's hypervisors: uuid -> (running, domain id)."""
    out = {}
    for k in lab.host_numbers():
        conn = libvirt.open(lab.host(k).libvirt_uri())
        try:
            for dom in conn.listAllDomains(0):
                if dom.name().startswith("instance-"):
                    state = dom.state()[0]
                    out[dom.UUIDString()] = (state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED),
                                             dom.ID())
        finally:
            conn.close()
    return out


class PowerBench:
    def __init__(self, lab: LabSession, work: Path, n: int) -> None:
        self.lab = lab
        self.work = work
        self.n = n
        self.records: list[dict[str, t.Any]] = []
        self.profiles: dict[str, t.Any] = {}
        self.lock_waits: list[float] = []
        self.floor_hangs: list[dict[str, t.Any]] = []
        self.overlay = inventory_overlay.write(lab.state / "bench-power-overlay", OVERLAY)
        self.servers: dict[str, list[str]] = {}  # hvK -> uuids, from the store after the build
        self.servers_file = lab.state / "bench-power-servers.json"

    # -- the servers ----------------------------------------------------------------------------------

    def store(self, query: str) -> list[tuple]:
        return [tuple(r) for r in store_rows(sqlite_url(self.lab.state / "store"), query)]

    def build(self) -> None:
        """N servers, not timed; the same domains for every method afterwards."""
        request = [{"name": "power", "flavor": FLAVOR, "image": "stratus-bench", "networks": [{"name": "demo"}],
                    "min_count": self.n, "max_count": self.n, "config_drive": False}]
        playbook(self.lab, PROVISION, {"stratus_servers": request}, inventories=[DEMO_INVENTORY, self.overlay])
        for uuid, host in self.store("select uuid, host from instances where deleted = '' and vm_state = 'active'"):
            self.servers.setdefault(host, []).append(uuid)
        self.servers_file.write_text(json.dumps(self.servers))
        self.expect("build", "running", "active", None)

    def expect(self, what: str, power: str, vm_state: t.Optional[str],
               ids_before: t.Optional[dict[str, tuple[bool, int]]]) -> dict[str, tuple[bool, int]]:
        """libvirt agrees (all N `power`; after a reboot, each with a new domain id) and, when `vm_state`
        is given, the store does (that vm_state, task_state None)."""
        found = domain_states(self.lab)
        wanted = sum(len(u) for u in self.servers.values())
        if wanted != self.n or len(found) != self.n:
            raise BenchError("%s: %d servers in the store, %d domains, %d expected" % (what, wanted, len(found), self.n))
        wrong = [u for u, (running, _id) in found.items() if running != (power == "running")]
        if wrong:
            raise BenchError("%s: %d domains not %s (%s)" % (what, len(wrong), power, wrong[0]))
        if ids_before is not None:
            same = [u for u, (_r, dom_id) in found.items() if ids_before.get(u, (None, None))[1] == dom_id]
            if same:
                raise BenchError("%s: %d domains kept their QEMU (domain id), not rebooted (%s)"
                                 % (what, len(same), same[0]))
        if vm_state is not None:
            states = self.store("select vm_state, task_state, count(*) from instances where deleted = '' "
                                "group by vm_state, task_state")
            if states != [(vm_state, None, self.n)]:
                raise BenchError("%s: the store has (vm_state, task_state, count) %s, not (%s, None, %d)"
                                 % (what, states, vm_state, self.n))
        return found

    # -- measuring ------------------------------------------------------------------------------------

    def timed(self, method: str, phase: str, rep: int, action: t.Callable[[], t.Any]) -> None:
        snapshot = machine_snapshot(self.lab)
        ticks = cpu_times()
        start = time.monotonic()
        action()
        seconds = time.monotonic() - start
        steal = steal_share(ticks, cpu_times())
        self.records.append({"method": method, "phase": phase, "n": self.n, "rep": rep, "seconds": round(seconds, 3),
                             "machine_before": snapshot, "cpu_steal_during": steal})
        print("bench-power: %-14s %-6s N=%d rep %d: %6.2fs (load %.1f, steal %s)"
              % (method, phase, self.n, rep + 1, seconds, snapshot["loadavg_1m"],
                 "?" if steal is None else "%d%%" % round(100 * steal)), flush=True)

    def floor_argv(self, action: str, parallel: int) -> list[str]:
        return [str(VENV_BIN / "python"), str(BENCH / "power_floor.py"), action, "--state-dir", str(self.lab.state),
                "--hypervisors", str(self.lab.hypervisors), "--servers", str(self.servers_file),
                "--parallel", str(parallel)]

    def floor(self, rep: int, parallel: int) -> None:
        method = "floor" if parallel == 1 else "floor_parallel"
        for phase, floor_action in (("stop", "stop"), ("start", "start"), ("reboot", "reboot")):
            power = PHASE_END[phase][0]
            before = domain_states(self.lab)
            for attempt in range(1, FLOOR_ATTEMPTS + 1):
                try:
                    self.timed(method, phase, rep, lambda: run(self.floor_argv(floor_action, parallel), self.lab.env,
                                                               timeout=floor_timeout(self.n)))
                    break
                except subprocess.TimeoutExpired:
                    # libvirt's libssh client can leave a reply unread (bench/floor.py): the attempt measures
                    # nothing; the domains go back to where the phase started and it runs again
                    self.floor_hangs.append({"method": method, "phase": phase, "rep": rep, "attempt": attempt})
                    print("bench-power: %s %s rep %d hung, killed; settling and running it again"
                          % (method, phase, rep + 1), flush=True)
                    settle = "settle-off" if phase == "start" else "settle-running"
                    run(self.floor_argv(settle, 1), self.lab.env, timeout=600)
                    before = domain_states(self.lab)
            else:
                raise BenchError("%s %s hung %d times" % (method, phase, FLOOR_ATTEMPTS))
            self.expect("%s %s" % (method, phase), power, None, before if phase == "reboot" else None)

    def stratus_env(self, profile: str) -> dict[str, str]:
        return dict(self.lab.env, ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"),
                    ANSIBLE_CALLBACKS_ENABLED="bench_timings", BENCH_TIMINGS_FILE=str(self.work / profile))

    def stratus(self, rep: int) -> None:
        uuids = [u for host in sorted(self.servers) for u in self.servers[host]]
        for phase, action in STRATUS_ACTION.items():
            power, vm_state = PHASE_END[phase]
            before = domain_states(self.lab)
            extra = {"stratus_actions": [dict(action, server=u) for u in uuids]}
            self.timed("stratus", phase, rep, lambda: playbook(
                self.lab, ACTIONS, extra, self.stratus_env("%s.json" % phase), inventories=[DEMO_INVENTORY, self.overlay]))
            self.expect("stratus %s" % phase, power, vm_state, before if phase == "reboot" else None)
            if rep == 0:
                path = self.work / ("%s.json" % phase)
                if path.exists():
                    data = json.loads(path.read_text())
                    self.profiles[phase] = {"until_first_task": data["until_first_task"], "by_task": data["by_name"]}

    def module_alone(self, rep: int) -> None:
        """The profile's baseline, not judged: the power step's code run on each hypervisor without Ansible
        (bench/power_module_alone.py, hosts in parallel, 4 domains at once as the module)."""
        def on_host(host: str) -> None:
            k = int(host[2:])
            self.lab.host(k).in_namespaces("%s %s %s %d %s" % (
                VENV_BIN / "python", BENCH / "power_module_alone.py", MODULE_ACTION[phase], FLOOR_PARALLEL,
                ",".join(self.servers[host])), timeout=300)

        for phase in PHASE_END:
            before = domain_states(self.lab)
            with concurrent.futures.ThreadPoolExecutor(len(self.servers)) as pool:
                self.timed("module_alone", phase, rep, lambda: list(pool.map(on_host, sorted(self.servers))))
            self.expect("module_alone %s" % phase, PHASE_END[phase][0], None, before if phase == "reboot" else None)

    def repetition(self, rep: int) -> None:
        with lab_lock() as waited:
            self.lock_waits.append(round(waited, 1))
            self.floor(rep, 1)
            self.floor(rep, FLOOR_PARALLEL)
            self.stratus(rep)
            self.module_alone(rep)


def section(bench: PowerBench, repeats: int, started: datetime.datetime, error: t.Optional[str]) -> dict[str, t.Any]:
    med = power_report.medians(bench.records)
    found = power_report.ratios(med)
    steals = [r["cpu_steal_during"] for r in bench.records if r.get("cpu_steal_during") is not None]
    loads = [r["machine_before"]["loadavg_1m"] for r in bench.records]
    return {
        "benchmark": "stratus stop, start and hard reboot (playbooks/server_action.yml) vs libvirt-python "
                     "making the same calls on the same domains",
        "complete": error is None,
        "error": error,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": {"n": bench.n, "repeats": repeats, "hypervisors": bench.lab.hypervisors,
                       "image": "stratus-bench (1 MiB qcow2, halting boot sector, no ACPI handler)",
                       "flavor": "%s (1 vCPU, 16 MiB), no config drive" % FLAVOR,
                       "stratus_shutdown_timeout": 0, "reboot": "hard",
                       "floors": {"floor": "a host's domains one after another, hosts in parallel",
                                  "floor_parallel": "a host's domains %d at a time (Stratus's "
                                                    "stratus_power_parallel)" % FLOOR_PARALLEL},
                       "module_alone": "not judged: the power step's code run on each hypervisor without "
                                       "Ansible, the store or the plays (bench/power_module_alone.py)",
                       "statistic": "median wall seconds of the repetitions; total: median of the "
                                    "repetitions' sums"},
        "seconds": med,
        "ratios_stratus_over_floor": found,
        "target": power_report.target(found),
        "ansible_profile_first_repetition": bench.profiles,
        "machine": {"cpus": os.cpu_count(),
                    "loadavg_1m_during": {"min": min(loads, default=None), "max": max(loads, default=None),
                                          "median": statistics.median(loads) if loads else None},
                    "cpu_steal_share_during": {"min": min(steals, default=None), "max": max(steals, default=None),
                                               "median": statistics.median(steals) if steals else None},
                    "lab_lock_waits_seconds": bench.lock_waits,
                    "floor_runs_killed_after_hanging": bench.floor_hangs},
        "measurements": bench.records,
    }


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--servers", type=int, default=30, help="N (30 in the issue)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/stratus-bench-power-lab"))
    parser.add_argument("--prefix", default="stxg")
    parser.add_argument("--subnet-base", default="10.237")
    parser.add_argument("--output", type=Path, default=ROOT / "bench.json",
                        help="a JSON file whose 'power' key gets the report (other keys are kept)")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats: at least 3, the report is a median")
    if args.servers < 1:
        parser.error("--servers: at least 1")
    if not IMAGE.exists():
        parser.error("%s is missing: run `make image` first" % IMAGE)
    lab = LabSession(args.state_dir, args.prefix, args.subnet_base, hypervisors=3)
    started = datetime.datetime.now(datetime.timezone.utc)
    error = None
    with tempfile.TemporaryDirectory(prefix="stratus-bench-power-") as tmp:
        bench: t.Optional[PowerBench] = None
        try:
            lab.up()
            bench = PowerBench(lab, Path(tmp), args.servers)
            with lab_lock():
                bench.build()
            for rep in range(args.repeats):
                bench.repetition(rep)
        except (BenchError, LabError, subprocess.TimeoutExpired, libvirt.libvirtError) as exc:
            error = str(exc)
            print("bench-power: %s" % error, file=sys.stderr)
        finally:
            lab.down()
        report = section(bench, args.repeats, started, error) if bench else {"complete": False, "error": error}
    whole = json.loads(args.output.read_text()) if args.output.exists() else {}
    whole["power"] = report
    args.output.write_text(json.dumps(whole, indent=2) + "\n")
    print(json.dumps({k: report.get(k) for k in ("complete", "seconds", "ratios_stratus_over_floor", "target")},
                     indent=2))
    print("bench-power: wrote the 'power' section of %s" % args.output)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
