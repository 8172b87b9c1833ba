# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIGKILL drills (crash_recovery, move_recovery): a run killed at a seeded random point inside its
measured length, the same request rerun until it succeeds and the audit is clean, and the figures of it.

    drill = Drill.start(SCENARIO, args, kills_wanted)     # its seed (logged), RNG, logs dir, trials
    point = kill_point(drill.rng, drill.calibration[kind])
    killed = lab.killed_provision(request, catalog, point, drill.logs / "trial-01-provision.log")
    ok, reruns, leaks = converge(lambda: lab.provision(request, catalog), lambda: audit(lab), failed_reruns)
    drill.trials.append(trial(number, kind, killed, ok, reruns, leaks, failed_reruns))
    figures, invariants = results(drill.trials, kinds, kills_wanted)
"""
from __future__ import annotations

import argparse
import contextlib
import random
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from stratus_lab.ansible_run import KilledRun, RunResult
from stratus_lab.audit import LEAK_KINDS, clean, leak_counts
from stratus_lab.scenario import log

MAX_RERUNS = 3


@dataclass
class Drill:
    """A drill's run: its seed and RNG, its logs directory, its trials and the measured length of each kind."""
    seed: int
    rng: random.Random
    logs: Path
    started: float = field(default_factory=time.monotonic)
    trials: list[dict[str, t.Any]] = field(default_factory=list)
    calibration: dict[str, float] = field(default_factory=dict)
    interrupted: str = ""  # for the notes: the figures are those of the trials done before an interrupt

    @classmethod
    def start(cls, scenario: str, args: argparse.Namespace, wanted: int) -> "Drill":
        """From the scenario's arguments (scenario.scenario_args): --seed, else the clock's (logged); --out."""
        seed = args.seed if args.seed is not None else int(time.time())
        logs = args.out / ("%s-logs" % scenario)
        logs.mkdir(parents=True, exist_ok=True)
        log("%s: seed %d, %d kills wanted, logs in %s" % (scenario, seed, wanted, logs))
        return cls(seed, random.Random(seed), logs)

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 1)

    @contextlib.contextmanager
    def running(self) -> t.Iterator[None]:
        """Around the trials (and the lab: it is taken down first): an interrupt (SIGINT; SIGTERM and SIGHUP
        through the lab session) after some trials ends them, and their figures still count; before any,
        it goes on (the scenario could not run)."""
        try:
            yield
        except KeyboardInterrupt:
            if not self.trials:
                raise
            self.interrupted = "interrupted after %d trials; " % len(self.trials)


def kill_point(rng: random.Random, seconds: float) -> float:
    """Seconds after a run's start to kill it: uniform in 0.5 s .. 95 % of its measured length."""
    return round(rng.uniform(0.5, max(0.6, 0.95 * seconds)), 2)


def converge(rerun: t.Callable[[], RunResult], check: t.Callable[[], dict[str, list[str]]],
             not_converged: list[dict[str, t.Any]], max_reruns: int = MAX_RERUNS) -> tuple[bool, int, dict[str, list[str]]]:
    """Run the request again until it succeeds and `check` (the audit, and what the drill wants) is clean:
    (converged, reruns, leaks). Each rerun that did not converge is appended to `not_converged` (its exit
    code, leaks and error lines)."""
    leaks: dict[str, list[str]] = {}
    for number in range(1, max_reruns + 1):
        result = rerun()
        leaks = check()
        if result.returncode == 0 and clean(leaks):
            return True, number, leaks
        found = {k: v[:5] for k, v in leaks.items() if v}
        not_converged.append({"rerun": number, "rc": result.returncode, "leaks": found,
                              "errors": [line[:300] for line in result.stdout.splitlines() if "[ERROR]" in line][:5]})
        log("  rerun %d: rc %d, not converged: %s" % (number, result.returncode, found))
    return False, max_reruns, leaks


def trial(number: int, kind: str, killed: KilledRun, converged: bool, reruns: int, leaks: dict[str, list[str]],
          failed_reruns: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """One trial's record (logged too)."""
    log("trial %d: %s killed at %.2fs in [%s] %s -> %s after %d rerun(s)%s"
        % (number, kind, killed.kill_after, killed.play[:40], killed.task,
           "converged" if converged else "NOT converged", reruns, "" if killed.killed else " (run ended first)"))
    return {"trial": number, "kind": kind, "kill_after_s": killed.kill_after, "killed": killed.killed,
            "play": killed.play, "task": killed.task, "reruns": reruns, "converged": converged,
            "leaks": {k: v for k, v in leaks.items() if v}, "failed_reruns": failed_reruns}


def by_task(kills: list[dict[str, t.Any]]) -> dict[str, int]:
    """How many kills landed in each (kind, task)."""
    out: dict[str, int] = {}
    for tr in kills:
        key = "%s: %s" % (tr["kind"], tr["task"])
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def results(trials: list[dict[str, t.Any]], kinds: t.Sequence[str],
            wanted_kills: int) -> tuple[dict[str, t.Any], dict[str, bool]]:
    """The drill's figures and invariants: kills (per kind, per task), convergence, reruns, leaks per kind."""
    kills = [tr for tr in trials if tr["killed"]]
    totals = {kind: 0 for kind in LEAK_KINDS}
    for tr in trials:
        for k, n in leak_counts(tr["leaks"]).items():
            totals[k] = totals.get(k, 0) + n
    figures: dict[str, t.Any] = {"trials": len(trials), "kills": len(kills)}
    figures.update({"kills_during_%s" % kind: sum(1 for tr in kills if tr["kind"] == kind) for kind in kinds})
    figures.update({
        "runs_finished_before_kill": len(trials) - len(kills),
        "kill_points": [{k: tr[k] for k in ("trial", "kind", "kill_after_s", "killed", "play", "task")}
                        for tr in trials],
        "kills_by_task": by_task(kills),
        "converged": sum(1 for tr in trials if tr["converged"]),
        "leaks": totals,
        "max_reruns": max((tr["reruns"] for tr in trials), default=0),
        # reruns that did not converge at once (a later one did, or the trial failed): what they left
        "trials_needing_more_than_one_rerun": [{k: tr[k] for k in ("trial", "kind", "kill_after_s", "task",
                                                                   "failed_reruns")}
                                               for tr in trials if tr["failed_reruns"]],
        "failed_trials": [tr for tr in trials if not tr["converged"]],
    })
    invariants = {"enough_kills": len(kills) >= wanted_kills,
                  "every_trial_converged": bool(trials) and all(tr["converged"] for tr in trials),
                  # "run it again": one rerun, not several, must be enough
                  "every_trial_converged_on_its_first_rerun": all(tr["reruns"] == 1 and tr["converged"]
                                                                  for tr in trials)}
    invariants.update({"no_%s_leak" % kind: totals.get(kind, 0) == 0 for kind in LEAK_KINDS})
    return figures, invariants
