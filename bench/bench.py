# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: Stratus against the libvirt floor and the community.libvirt peer, in one run.

A lab of three hypervisors; for each N (10, 30, 90 by default) and each repetition:
  floor    bench/floor.py create, then delete (libvirt-python, no Ansible); DHCP entries by
           virNetworkUpdate, then again as floor_hostsdir with them in dnsmasq's hosts directory
           (Stratus's way); a target against the floor is judged against the stricter of the two
  peer     bench/peer/create.yml, then delete.yml (community.libvirt, a task per server)
  stratus  playbooks/provision.yml creating N servers, the same run again (must be changed=0),
           then state absent
each method's repetition holding /tmp/stratus-lab.lock (others interleave between them). Each
phase is checked (N domains running after a create, none left after a delete). Zero-server
runs give each method's fixed cost. Medians of the repetitions, their ratios and growth, the
scheduler benchmark and what the machine was doing go to bench.json.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import floor  # bench/floor.py, beside this script
from stratus_lab import ansible_run, inventory_overlay
from stratus_lab.ansible_run import CommandFailed, recap
from stratus_lab.lock import lab_lock
from stratus_lab.paths import DEMO_INVENTORY, PROVISION, ROOT, VENV_BIN
from stratus_lab.lab import LabError
from stratus_lab.session import LabSession

BENCH = ROOT / "bench"
PEER = BENCH / "peer"
PEER_COLLECTIONS = ROOT / "build" / "peer-collections"
IMAGE = ROOT / "build" / "images" / "stratus-bench.qcow2"
FLAVOR = "m1.bench"  # 1 vCPU, 16 MiB: the floor's and the peer's domains get the same
# The demo quota (10 instances) would refuse N = 30; capacity is the lab's (3 x 8 vCPUs x 4.0).
QUOTAS = {"defaults": {"instances": 1000, "cores": 1000, "ram": 1000000}}
TARGETS = {"create_vs_floor_at_90": 1.5, "peer_over_stratus_at_90": 4.0, "nochange_seconds_at_90": 10.0,
           "delete_vs_floor": 1.5}
# A floor phase takes about a minute at N = 90. One that has not answered by floor_timeout(N) hangs
# (libvirt's libssh client has left a reply unread on its socket, with threads and with processes):
# it is killed, what it left is cleaned, and that floor repetition runs again.
FLOOR_ATTEMPTS = 3


def floor_timeout(n: int) -> float:
    return 120.0 + 3.0 * n


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


def run(cmd: list[str], env: dict[str, str], timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
    """A command of the benchmark (a process group of its own, killed whole past `timeout`)."""
    try:
        return ansible_run.run(cmd, env, timeout=timeout, check=check)
    except CommandFailed as exc:
        raise BenchError(str(exc)) from None


def playbook(lab: LabSession, path: Path, extra: dict[str, t.Any], env: t.Optional[dict[str, str]] = None,
             inventories: t.Sequence[Path] = (), check: bool = True) -> subprocess.CompletedProcess:
    """ansible-playbook with the lab's inventory (plus `inventories`), extra vars from a file (N servers)."""
    extra_file = lab.state / "bench-extra-vars.json"
    extra_file.write_text(json.dumps(extra))
    argv = ansible_run.playbook_argv(path, [lab.inventory, *inventories], options=["-e", "@%s" % extra_file])
    return run(argv, env or lab.env, check=check)


def machine_snapshot(lab: LabSession) -> dict[str, t.Any]:
    """Load, CPUs, and the QEMU processes on the machine that are not this lab's."""
    ours = set()
    for k in lab.host_numbers():
        with contextlib.suppress(OSError):
            ours.add(os.stat(lab.host(k).netns_path).st_ino)
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


class Bench:
    def __init__(self, lab: LabSession, work: Path) -> None:
        self.lab = lab
        self.work = work
        self.records: list[dict[str, t.Any]] = []
        self.profiles: dict[str, t.Any] = {}
        self.lock_waits: list[float] = []
        self.floor_hangs: list[dict[str, t.Any]] = []

    def locked(self, what: t.Callable[[], None]) -> None:
        """One unit of lab work under the shared lab lock (a repetition of the three methods)."""
        with lab_lock() as waited:
            self.lock_waits.append(round(waited, 1))
            what()

    # -- measuring ---------------------------------------------------------------------------

    def _timed(self, method: str, phase: str, n: int, rep: int,
               action: t.Callable[[], subprocess.CompletedProcess]) -> subprocess.CompletedProcess:
        snapshot = machine_snapshot(self.lab)
        ticks = cpu_times()
        start = time.monotonic()
        proc = action()
        seconds = time.monotonic() - start
        steal = steal_share(ticks, cpu_times())
        self.records.append({"method": method, "phase": phase, "n": n, "rep": rep, "seconds": round(seconds, 3),
                             "machine_before": snapshot, "cpu_steal_during": steal})
        print("bench: %-7s %-8s N=%-3d rep %d: %6.2fs (load %.1f, other qemu %d, steal %s)"
              % (method, phase, n, rep + 1, seconds, snapshot["loadavg_1m"], snapshot["qemu_others"],
                 "?" if steal is None else "%d%%" % round(100 * steal)), flush=True)
        return proc

    def _count(self, counter: t.Callable[[str, str], int], prefix: str) -> int:
        return sum(counter(self.lab.host(k).libvirt_uri(), prefix) for k in self.lab.host_numbers())

    def _expect(self, what: str, counter: t.Callable[[str, str], int], prefix: str, wanted: int) -> None:
        found = self._count(counter, prefix)
        if found != wanted:
            raise BenchError("%s: %d domains named %s* found, %d expected" % (what, found, prefix, wanted))

    # -- the three methods -------------------------------------------------------------------

    def floor(self, n: int, rep: int, dhcp: str = "libvirt") -> None:
        """dhcp "libvirt": entries by virNetworkUpdate; "hostsdir": Stratus's way (method floor_hostsdir)."""
        method, prefix = ("floor", "floor-") if dhcp == "libvirt" else ("floor_hostsdir", floor.HD_PREFIX + "-")
        base = [str(VENV_BIN / "python"), str(BENCH / "floor.py")]
        opts = ["--state-dir", str(self.lab.state), "--subnet-base", self.lab.subnet_base,
                "--hypervisors", str(self.lab.hypervisors), "--count", str(n), "--image", str(IMAGE), "--dhcp", dhcp]
        for attempt in range(1, FLOOR_ATTEMPTS + 1):
            kept = len(self.records)
            try:
                self._timed(method, "create", n, rep,
                            lambda: run(base + ["create"] + opts, self.lab.env, timeout=floor_timeout(n)))
                self._expect("%s create" % method, floor.running_domains, prefix, n)
                self._timed(method, "delete", n, rep,
                            lambda: run(base + ["delete"] + opts, self.lab.env, timeout=floor_timeout(n)))
                self._expect("%s delete" % method, floor.defined_domains, prefix, 0)
                return
            except subprocess.TimeoutExpired:
                del self.records[kept:]  # a hung attempt measures nothing
                self.floor_hangs.append({"method": method, "n": n, "rep": rep, "attempt": attempt})
                print("bench: %s N=%d rep %d: no answer within %ds, killed; cleaning up and running it again"
                      % (method, n, rep + 1, floor_timeout(n)), flush=True)
                run(base + ["clean"] + opts, self.lab.env, timeout=600)
        raise BenchError("%s at N=%d hung %d times" % (method, n, FLOOR_ATTEMPTS))

    def peer_env(self) -> dict[str, str]:
        paths = "%s:%s" % (PEER_COLLECTIONS, ROOT / ".ansible" / "collections")
        return dict(self.lab.env, ANSIBLE_COLLECTIONS_PATH=paths)

    def peer(self, n: int, rep: int) -> None:
        extra = {"peer_servers": floor.servers(n, self.lab.host_names(), "peer", "10.242.0", 0xc0),
                 "peer_image": str(IMAGE)}
        env = self.peer_env()
        self._timed("peer", "create", n, rep, lambda: playbook(self.lab, PEER / "create.yml", extra, env))
        self._expect("peer create", floor.running_domains, "peer-", n)
        self._timed("peer", "delete", n, rep, lambda: playbook(self.lab, PEER / "delete.yml", extra, env))
        self._expect("peer delete", floor.defined_domains, "peer-", 0)

    def stratus_env(self, profile: str) -> dict[str, str]:
        return dict(self.lab.env, ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"),
                    ANSIBLE_CALLBACKS_ENABLED="bench_timings", BENCH_TIMINGS_FILE=str(self.work / profile))

    def provision(self, servers: list[dict[str, t.Any]], profile: str) -> subprocess.CompletedProcess:
        # the bench's quotas are the operator's inventory (an overlay after the demo's), not launch input
        overlay = inventory_overlay.write(self.lab.state / "bench-catalog", {"stratus_quotas": QUOTAS})
        return playbook(self.lab, PROVISION, {"stratus_servers": servers}, self.stratus_env(profile),
                        inventories=[DEMO_INVENTORY, overlay])

    def keep_profile(self, key: str, profile: str) -> None:
        path = self.work / profile
        if path.exists():
            data = json.loads(path.read_text())
            self.profiles[key] = {"until_first_task": data["until_first_task"], "by_task": data["by_name"]}

    def stratus(self, n: int, rep: int) -> None:
        # No config drive: the floor and the peer make none, so Stratus does the same work as they do.
        create = [{"name": "bench", "flavor": FLAVOR, "image": "stratus-bench", "networks": [{"name": "demo"}],
                   "min_count": n, "config_drive": False}]
        delete = [{"name": "bench", "state": "absent", "max_count": n}]
        self._timed("stratus", "create", n, rep, lambda: self.provision(create, "create.json"))
        self._expect("stratus create", floor.running_domains, "instance-", n)
        again = self._timed("stratus", "nochange", n, rep, lambda: self.provision(create, "nochange.json"))
        changed = {h: c["changed"] for h, c in recap(again.stdout).items() if c["changed"]}
        if changed:
            raise BenchError("stratus no-change run at N=%d changed something: %s" % (n, changed))
        self._timed("stratus", "delete", n, rep, lambda: self.provision(delete, "delete.json"))
        self._expect("stratus delete", floor.defined_domains, "instance-", 0)
        if rep == 0:
            for phase in ("create", "nochange", "delete"):
                self.keep_profile("N=%d %s" % (n, phase), "%s.json" % phase)

    def repetition(self, n: int, rep: int) -> None:
        self.floor(n, rep)
        self.floor(n, rep, dhcp="hostsdir")
        self.peer(n, rep)
        self.stratus(n, rep)

    def fixed_costs(self, repeats: int) -> None:
        for rep in range(repeats):
            self.fixed_cost(rep)

    def fixed_cost(self, rep: int) -> None:
        """Zero servers: what each method costs before it does any work (start-up, connections, plays)."""
        self._timed("floor", "empty", 0, rep, lambda: run(
            [str(VENV_BIN / "python"), str(BENCH / "floor.py"), "create", "--state-dir", str(self.lab.state),
             "--subnet-base", self.lab.subnet_base, "--count", "0", "--image", str(IMAGE)], self.lab.env))
        self._timed("peer", "empty", 0, rep, lambda: playbook(
            self.lab, PEER / "create.yml", {"peer_servers": [], "peer_image": str(IMAGE)}, self.peer_env()))
        self._timed("stratus", "empty", 0, rep, lambda: self.provision([], "empty.json"))
        if rep == 0:
            self.keep_profile("N=0", "empty.json")

    # -- the report --------------------------------------------------------------------------

    def medians(self) -> dict[str, dict[str, dict[str, float]]]:
        out: dict[str, dict[str, dict[str, float]]] = {}
        groups: dict[tuple[str, str, int], list[float]] = {}
        for r in self.records:
            groups.setdefault((r["method"], r["phase"], r["n"]), []).append(r["seconds"])
        for (method, phase, n), values in sorted(groups.items()):
            out.setdefault(method, {}).setdefault(phase, {})[str(n)] = round(statistics.median(values), 3)
        return out


def ratio(numerator: t.Optional[float], denominator: t.Optional[float]) -> t.Optional[float]:
    return round(numerator / denominator, 2) if numerator is not None and denominator else None


def summarize(med: dict[str, dict[str, dict[str, float]]], sizes: list[int]) -> dict[str, t.Any]:
    def get(method: str, phase: str, n: int) -> t.Optional[float]:
        return med.get(method, {}).get(phase, {}).get(str(n))

    ratios = {str(n): {
        "create_stratus_over_floor": ratio(get("stratus", "create", n), get("floor", "create", n)),
        "delete_stratus_over_floor": ratio(get("stratus", "delete", n), get("floor", "delete", n)),
        "create_stratus_over_floor_hostsdir": ratio(get("stratus", "create", n), get("floor_hostsdir", "create", n)),
        "delete_stratus_over_floor_hostsdir": ratio(get("stratus", "delete", n), get("floor_hostsdir", "delete", n)),
        "create_peer_over_stratus": ratio(get("peer", "create", n), get("stratus", "create", n)),
        "delete_peer_over_stratus": ratio(get("peer", "delete", n), get("stratus", "delete", n)),
    } for n in sizes}
    lo, hi = min(sizes), max(sizes)
    growth: dict[str, t.Any] = {"from_n": lo, "to_n": hi, "n_ratio": round(hi / lo, 2)}
    # One size measures no growth (and the seconds per extra server would divide by zero).
    for method, phases in (med.items() if hi > lo else ()):
        for phase in phases:
            if phase == "empty":
                continue
            small, large = get(method, phase, lo), get(method, phase, hi)
            fixed = get(method, "empty", 0)
            if small is None or large is None:
                continue
            entry = {"time_ratio": ratio(large, small),
                     "seconds_per_extra_server": round((large - small) / (hi - lo), 4),
                     "linear_or_better": large / small <= hi / lo}
            if fixed is not None:
                # Past the fixed start-up cost: does the work itself grow at most linearly?
                entry["time_ratio_without_fixed_cost"] = (ratio(large - fixed, small - fixed)
                                                          if small > fixed else None)
            growth["%s %s" % (method, phase)] = entry
    top = str(hi)

    def against_floors(phase: str) -> dict[str, t.Any]:
        """Judged against the stricter floor: libvirt's DHCP updates or Stratus's own hosts directory."""
        found = {k: ratios[top]["%s_stratus_over_%s" % (phase, k)] for k in ("floor", "floor_hostsdir")}
        found = {k: v for k, v in found.items() if v is not None}
        if not found:
            return {"value": None}
        worst = max(found, key=lambda k: found[k])
        return {"value": found[worst], "floor": worst, "by_floor": found}

    verdicts = {
        "create_vs_floor_at_%s" % top: dict(against_floors("create"),
                                            target="<= %s" % TARGETS["create_vs_floor_at_90"]),
        "peer_over_stratus_at_%s" % top: {"value": ratios[top]["create_peer_over_stratus"],
                                          "target": ">= %s" % TARGETS["peer_over_stratus_at_90"]},
        "nochange_seconds_at_%s" % top: {"value": get("stratus", "nochange", hi),
                                         "target": "< %s" % TARGETS["nochange_seconds_at_90"]},
        "delete_vs_floor_at_%s" % top: dict(against_floors("delete"), target="<= %s" % TARGETS["delete_vs_floor"]),
    }
    checks = {"create_vs_floor": lambda v: v <= TARGETS["create_vs_floor_at_90"],
              "peer_over_stratus": lambda v: v >= TARGETS["peer_over_stratus_at_90"],
              "nochange_seconds": lambda v: v < TARGETS["nochange_seconds_at_90"],
              "delete_vs_floor": lambda v: v <= TARGETS["delete_vs_floor"]}
    for key, verdict in verdicts.items():
        check = next(fn for prefix, fn in checks.items() if key.startswith(prefix))
        verdict["met"] = None if verdict["value"] is None else bool(check(verdict["value"]))
    verdicts["growth_linear_or_better"] = {
        "met": all(g["linear_or_better"] for k, g in growth.items() if k.startswith("stratus ")) if hi > lo else None,
        "target": "stratus time ratio N=%d/N=%d at most %s" % (hi, lo, round(hi / lo, 2))}
    return {"ratios": ratios, "growth": growth, "targets": verdicts}


def scheduler_benchmark(work: Path) -> dict[str, t.Any]:
    out = work / "scheduler.json"
    proc = run([str(VENV_BIN / "python"), str(BENCH / "scheduler_bench.py"), "--output", str(out)], os.environ.copy(),
               check=False, timeout=1800)
    if proc.returncode != 0:
        return {"failed": True, "stderr": proc.stderr[-2000:]}
    return json.loads(out.read_text())


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 90])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/stratus-bench-lab"))
    parser.add_argument("--prefix", default="stxb")
    parser.add_argument("--subnet-base", default="10.238")
    parser.add_argument("--output", type=Path, default=ROOT / "bench.json")
    parser.add_argument("--no-scheduler", action="store_true", help="leave out the scheduler benchmark")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats: at least 3, the report is a median")
    if not IMAGE.exists():
        parser.error("%s is missing: run `make image` first" % IMAGE)
    if run([str(VENV_BIN / "python"), str(PEER / "fetch_collection.py")], os.environ.copy(), check=False).returncode:
        print("bench: cannot fetch community.libvirt for the peer", file=sys.stderr)
        return 1
    sizes = sorted(args.sizes)
    lab = LabSession(args.state_dir, args.prefix, args.subnet_base, hypervisors=3)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as tmp:
        bench = Bench(lab, Path(tmp))
        error = None
        try:
            lab.up()
            bench.locked(functools.partial(bench.fixed_costs, args.repeats))
            for n in sizes:
                for rep in range(args.repeats):
                    bench.locked(functools.partial(bench.repetition, n, rep))
                    # What is measured so far survives an interrupted run.
                    write_report(args.output, bench, sizes, args.repeats, started, load_at_start,
                                 "partial: N=%d repetition %d of %d done" % (n, rep + 1, args.repeats), None)
        except (BenchError, LabError, subprocess.TimeoutExpired) as exc:
            error = str(exc)
            print("bench: %s" % error, file=sys.stderr)
        finally:
            lab.down()
        scheduler = None if args.no_scheduler else scheduler_benchmark(Path(tmp))
        report = write_report(args.output, bench, sizes, args.repeats, started, load_at_start, error, scheduler,
                              complete=error is None)
    print(json.dumps({k: report[k] for k in ("complete", "ratios", "targets")}, indent=2))
    print("bench: wrote %s" % args.output)
    return 0 if error is None else 1


def write_report(output: Path, bench: Bench, sizes: list[int], repeats: int, started: datetime.datetime,
                 load_at_start: tuple[float, float, float], error: t.Optional[str],
                 scheduler: t.Optional[dict[str, t.Any]], complete: bool = False) -> dict[str, t.Any]:
    med = bench.medians()
    records = bench.records
    others = [r["machine_before"]["qemu_others"] for r in records]
    loads = [r["machine_before"]["loadavg_1m"] for r in records]
    steals = [r["cpu_steal_during"] for r in records if r.get("cpu_steal_during") is not None]
    waits = bench.lock_waits
    report = {
        "benchmark": "stratus provision vs libvirt floor vs community.libvirt peer",
        "complete": complete,
        "error": error,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": {"sizes": sizes, "repeats": repeats, "hypervisors": bench.lab.hypervisors,
                       "image": "stratus-bench (1 MiB qcow2, halting boot sector)",
                       "flavor": "%s (1 vCPU, 16 MiB) for all three methods" % FLAVOR,
                       "statistic": "median wall seconds of the repetitions",
                       "lab_lock": "held for each repetition (floors, peer, stratus at one N)",
                       "floors": {"floor": "DHCP entries by virNetworkUpdate (libvirt's API; the peer's way)",
                                  "floor_hostsdir": "DHCP entries as files in dnsmasq's hosts directory, one SSH "
                                                    "command per host (Stratus's way)"}},
        "seconds": med,
        **summarize(med, sizes),
        "ansible_profile_first_repetition": bench.profiles,
        "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
            "loadavg_at_start": [round(x, 2) for x in load_at_start],
            "loadavg_1m_during": {"min": min(loads, default=None),
                                  "median": statistics.median(loads) if loads else None,
                                  "max": max(loads, default=None)},
            "other_qemu_processes_during": {"min": min(others, default=None), "max": max(others, default=None)},
            # A virtual machine's CPUs can be taken by its host (steal): the same work then takes longer.
            "cpu_steal_share_during": {"min": min(steals, default=None),
                                       "median": statistics.median(steals) if steals else None,
                                       "max": max(steals, default=None)},
            "lab_lock_waits_seconds": waits,
            "floor_runs_killed_after_hanging": bench.floor_hangs,
            # The lab's own QEMU and libvirtd load the machine during a run: busy means other
            # work, i.e. QEMU of other labs, waits for the lab lock, or load before the run began.
            "shared": bool(max(others, default=0) or sum(waits) > 5
                           or load_at_start[0] > (os.cpu_count() or 1) / 2),
        },
        "measurements": records,
        "scheduler": scheduler,
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    sys.exit(main())
