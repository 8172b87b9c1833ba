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

import sys
import typing as t

from stratus_lab import kill_drill, scenario
from stratus_lab.audit import audit, clean
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.scenario import log
from stratus_lab.session import LabSession

SCENARIO = "crash_recovery"
TRIALS, QUICK_TRIALS = 30, 3
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


def converged_check(lab: LabSession, want_present: bool) -> t.Callable[[], dict[str, list[str]]]:
    """The audit, plus the server set present (or gone) as the request wants."""
    def check() -> dict[str, list[str]]:
        leaks = audit(lab)
        names = live_names(lab)
        wanted = {n: "active" for n in NAMES} if want_present else {}
        if names != wanted:
            leaks.setdefault("missing", []).append("servers %s, wanted %s" % (names, wanted))
        return leaks
    return check


def main() -> int:
    args = scenario.scenario_args(__doc__.splitlines()[0])
    wanted_kills = QUICK_TRIALS if args.quick else TRIALS
    drill = kill_drill.Drill.start(SCENARIO, args, wanted_kills)
    trials, calibration, logs = drill.trials, drill.calibration, drill.logs
    try:
        with drill.running(), scenario.lab("crash", db_url=args.db_url) as lab:
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
                kill_after = kill_drill.kill_point(drill.rng, calibration[kind])
                number = len(trials) + 1
                with lab_lock():
                    killed = lab.killed_provision(request, EXTRA, kill_after, logs / ("trial-%02d-%s.log" % (number, kind)))
                    failed_reruns: list[dict[str, t.Any]] = []
                    ok, reruns, leaks = kill_drill.converge(lambda: lab.provision(request, EXTRA),
                                                            converged_check(lab, not present), failed_reruns)
                if not killed.killed:
                    # the run was shorter than its calibration: draw later kill points from its real length
                    calibration[kind] = min(calibration[kind], round(killed.seconds, 1))
                trials.append(kill_drill.trial(number, kind, killed, ok, reruns, leaks, failed_reruns))
                present = not present if ok else bool(live_names(lab))
    except LabError as exc:
        return scenario.cannot_run(args.out, SCENARIO, str(exc))
    except KeyboardInterrupt:  # before any trial
        return scenario.cannot_run(args.out, SCENARIO, "interrupted")

    drilled, invariants = kill_drill.results(trials, ("provision", "delete"), wanted_kills)
    figures = {"seed": drill.seed, "backend": "postgresql" if args.db_url else "sqlite", **drilled,
               "calibration_s": calibration, "servers_per_run": len(NAMES), "seconds": drill.seconds()}
    totals = figures["leaks"]
    interrupted = drill.interrupted  # the notes say so: the figures are those of the trials done
    notes = interrupted + ("SIGKILL of the ansible-playbook process group at a seeded random point in a provision "
                           "or delete of %d servers (bench image, one guest kernel; local, ephemeral+swap, config "
                           "drive, boot from volume, kept blank volume), then reruns of the same request; audit of "
                           "store vs libvirt on 3 hypervisors after each trial." % len(NAMES))
    code = scenario.write_result_file(args.out, SCENARIO, figures, invariants, notes)
    log("%s: %d trials, %d kills, %d converged, leaks %s, max reruns %d -> %s"
        % (SCENARIO, len(trials), figures["kills"], figures["converged"], totals, figures["max_reruns"],
           "passed" if code == 0 else "FAILED"))
    return code


if __name__ == "__main__":
    sys.exit(main())
