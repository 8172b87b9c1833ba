"""Crash recovery: a provision or delete run killed with SIGKILL at a random point, then run again.

Each trial kills the whole process group of ansible-playbook (controller, forks, SSH clients) at a
point drawn from a seeded RNG inside the run's measured length, logs that point and the task that
was running, runs the same request again until it succeeds, and audits the store against every
hypervisor: no leaked domain, disk, volume, DHCP entry, IP, claim or quota usage, nothing stuck in
building or deleting, the domains on the hosts exactly the live instances.

Trials alternate: provision the server set (when it is gone), delete it (when it is there).

    .venv/bin/python reliability/scenarios/crash_recovery.py --out DIR [--quick] [--seed N] [--db-url URL]
"""
from __future__ import annotations

import random
import sys
import time
import typing as t

from stratus_lab import scenario
from stratus_lab.audit import LEAK_KINDS, audit, clean, leak_counts
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.scenario import log
from stratus_lab.session import LabSession

SCENARIO = "crash_recovery"
TRIALS, QUICK_TRIALS = 30, 3
MAX_RERUNS = 3
NET = [{"name": "demo"}]
BENCH = scenario.BENCH_IMAGE_ID

# A mix of block device mappings; every guest but one runs the bench image (no kernel to boot).
SERVERS: list[dict[str, t.Any]] = [
    {"name": "cr-plain", "flavor": "m1.bench", "image": "stratus-bench", "networks": NET, "min_count": 2},
    # image root plus the flavor's ephemeral and swap, a config drive with user data and metadata
    {"name": "cr-local", "flavor": "r1.local", "image": "stratus-bench", "networks": NET, "config_drive": True,
     "user_data": "I2Nsb3VkLWNvbmZpZwo=", "metadata": {"scenario": SCENARIO}},
    # explicit mappings: image root, a blank ephemeral and a swap disk
    {"name": "cr-eph", "flavor": "r1.local", "image": "stratus-bench", "networks": NET, "block_device_mapping_v2": [
        {"boot_index": 0, "uuid": BENCH, "source_type": "image", "destination_type": "local"},
        {"boot_index": -1, "source_type": "blank", "destination_type": "local", "volume_size": 1},
        {"boot_index": -1, "source_type": "blank", "destination_type": "local", "guest_format": "swap",
         "volume_size": 8}]},
    # boot from a volume made from the image (goes with the server) plus a blank volume that is kept
    {"name": "cr-bfv", "flavor": "m1.bench", "networks": NET, "block_device_mapping_v2": [
        {"boot_index": 0, "uuid": BENCH, "source_type": "image", "destination_type": "volume", "volume_size": 1,
         "delete_on_termination": True},
        {"boot_index": -1, "source_type": "blank", "destination_type": "volume", "volume_size": 1}]},
    # one real guest kernel (TCG), small
    {"name": "cr-guest", "flavor": "m1.tiny", "image": "stratus-guest", "networks": NET},
]
DELETE = [{"name": s["name"], "state": "absent", **({"min_count": s["min_count"]} if "min_count" in s else {})}
          for s in SERVERS]
NAMES = sorted(n for s in SERVERS
               for n in (["%s-%d" % (s["name"], i + 1) for i in range(s["min_count"])] if "min_count" in s
                         else [s["name"]]))
EXTRA = {"stratus_flavors": scenario.FLAVORS}  # the lab's catalog (an inventory overlay)


def live_names(lab: LabSession) -> dict[str, str]:
    return {r.name: r.vm_state for r in lab.rows("select name, vm_state from instances where deleted = ''")}


def converge(lab: LabSession, request: list[dict[str, t.Any]], want_present: bool,
             not_converged: list[dict[str, t.Any]]) -> tuple[bool, int, dict[str, list[str]]]:
    """Run the request again until it succeeds and the audit is clean: (converged, reruns, leaks).

    Each rerun that did not converge is appended to `not_converged` (its exit code and leaks)."""
    leaks: dict[str, list[str]] = {}
    for rerun in range(1, MAX_RERUNS + 1):
        result = lab.provision(request, EXTRA)
        leaks = audit(lab)
        names = live_names(lab)
        wanted = {n: "active" for n in NAMES} if want_present else {}
        if names != wanted:
            leaks.setdefault("missing", []).append("servers %s, wanted %s" % (names, wanted))
        if result.returncode == 0 and clean(leaks):
            return True, rerun, leaks
        found = {k: v[:5] for k, v in leaks.items() if v}
        not_converged.append({"rerun": rerun, "rc": result.returncode, "leaks": found,
                              "errors": [line[:300] for line in result.stdout.splitlines() if "[ERROR]" in line][:5]})
        log("  rerun %d: rc %d, not converged: %s" % (rerun, result.returncode, found))
    return False, MAX_RERUNS, leaks


def main() -> int:
    args = scenario.scenario_args(__doc__.splitlines()[0])
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    wanted_kills = QUICK_TRIALS if args.quick else TRIALS
    logs = args.out / ("%s-logs" % SCENARIO)
    logs.mkdir(parents=True, exist_ok=True)
    log("%s: seed %d, %d kills wanted, logs in %s" % (SCENARIO, seed, wanted_kills, logs))
    started = time.monotonic()
    trials: list[dict[str, t.Any]] = []
    interrupted = ""
    calibration: dict[str, float] = {}
    totals = {kind: 0 for kind in LEAK_KINDS}
    try:
        with scenario.lab("crash", db_url=args.db_url) as lab:
            # One whole run of each kind: how long they take is the window the kill points are drawn in.
            with lab_lock():
                for kind, request in (("provision", SERVERS), ("delete", DELETE)):
                    result = lab.provision(request, EXTRA)
                    calibration[kind] = round(result.seconds, 1)
                    leaks = audit(lab)
                    if result.returncode != 0 or not clean(leaks):
                        return scenario.cannot_run(args.out, SCENARIO, "the uninterrupted %s run failed (rc %d): %s\n%s"
                                                   % (kind, result.returncode, leaks, result.stdout[-2000:]))
            log("calibration: %s" % calibration)
            present = False
            while sum(1 for tr in trials if tr["killed"]) < wanted_kills and len(trials) < 2 * wanted_kills:
                kind = "delete" if present else "provision"
                request = DELETE if present else SERVERS
                kill_after = round(rng.uniform(0.5, 0.95 * calibration[kind]), 2)
                number = len(trials) + 1
                with lab_lock():
                    killed = lab.killed_provision(request, EXTRA, kill_after, logs / ("trial-%02d-%s.log" % (number, kind)))
                    failed_reruns: list[dict[str, t.Any]] = []
                    ok, reruns, leaks = converge(lab, request, not present, failed_reruns)
                if not killed.killed:
                    # the run was shorter than its calibration: draw later kill points from its real length
                    calibration[kind] = min(calibration[kind], round(killed.seconds, 1))
                counts = leak_counts(leaks)
                for k, n in counts.items():
                    totals[k] = totals.get(k, 0) + n
                trials.append({"trial": number, "kind": kind, "kill_after_s": kill_after, "killed": killed.killed,
                               "play": killed.play, "task": killed.task, "reruns": reruns, "converged": ok,
                               "leaks": {k: v for k, v in leaks.items() if v}, "failed_reruns": failed_reruns})
                log("trial %d: %s killed at %.2fs in [%s] %s -> %s after %d rerun(s)%s"
                    % (number, kind, kill_after, killed.play[:40], killed.task,
                       "converged" if ok else "NOT converged", reruns, "" if killed.killed else " (run ended first)"))
                present = not present if ok else bool(live_names(lab))
    except LabError as exc:
        return scenario.cannot_run(args.out, SCENARIO, str(exc))
    except KeyboardInterrupt:
        if not trials:
            return scenario.cannot_run(args.out, SCENARIO, "interrupted")
        interrupted = "interrupted after %d trials; " % len(trials)  # the figures so far still count

    kills = [tr for tr in trials if tr["killed"]]
    figures = {
        "seed": seed,
        "backend": "postgresql" if args.db_url else "sqlite",
        "trials": len(trials),
        "kills": len(kills),
        "kills_during_provision": sum(1 for tr in kills if tr["kind"] == "provision"),
        "kills_during_delete": sum(1 for tr in kills if tr["kind"] == "delete"),
        "runs_finished_before_kill": len(trials) - len(kills),
        "kill_points": [{k: tr[k] for k in ("trial", "kind", "kill_after_s", "killed", "play", "task")}
                        for tr in trials],
        "kills_by_task": _by_task(kills),
        "converged": sum(1 for tr in trials if tr["converged"]),
        "leaks": totals,
        "max_reruns": max((tr["reruns"] for tr in trials), default=0),
        # reruns that did not converge at once (a later one did, or the trial failed): what they left
        "trials_needing_more_than_one_rerun": [{k: tr[k] for k in ("trial", "kind", "kill_after_s", "task",
                                                                   "failed_reruns")}
                                               for tr in trials if tr["failed_reruns"]],
        "calibration_s": calibration,
        "servers_per_run": len(NAMES),
        "seconds": round(time.monotonic() - started, 1),
        "failed_trials": [tr for tr in trials if not tr["converged"]],
    }
    invariants = {"enough_kills": len(kills) >= wanted_kills,
                  "every_trial_converged": all(tr["converged"] for tr in trials),
                  # "run it again": one rerun, not several, must be enough
                  "every_trial_converged_on_its_first_rerun": all(tr["reruns"] == 1 and tr["converged"]
                                                                  for tr in trials)}
    invariants.update({"no_%s_leak" % kind: totals.get(kind, 0) == 0 for kind in LEAK_KINDS})
    notes = interrupted + ("SIGKILL of the ansible-playbook process group at a seeded random point in a provision "
                           "or delete of %d servers (bench image, one guest kernel; local, ephemeral+swap, config "
                           "drive, boot from volume, kept blank volume), then reruns of the same request; audit of "
                           "store vs libvirt on 3 hypervisors after each trial." % len(NAMES))
    code = scenario.write_result_file(args.out, SCENARIO, figures, invariants, notes)
    log("%s: %d trials, %d kills, %d converged, leaks %s, max reruns %d -> %s"
        % (SCENARIO, len(trials), len(kills), figures["converged"], totals, figures["max_reruns"],
           "passed" if code == 0 else "FAILED"))
    return code


def _by_task(kills: list[dict[str, t.Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for tr in kills:
        key = "%s: %s" % (tr["kind"], tr["task"])
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


if __name__ == "__main__":
    sys.exit(main())
