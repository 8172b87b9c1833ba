"""The SIGKILL drills' shared part (lab/stratus_lab/kill_drill.py): the rerun loop, the kill points, the figures."""
from __future__ import annotations

import random
import typing as t
from pathlib import Path

import pytest

from stratus_lab import kill_drill
from stratus_lab.ansible_run import KilledRun, RunResult
from stratus_lab.audit import LEAK_KINDS


def leaks(**found: list[str]) -> dict[str, list[str]]:
    return dict({k: [] for k in LEAK_KINDS}, **found)


def test_converge_reruns_until_the_run_succeeds_and_the_check_is_clean() -> None:
    runs = iter([RunResult(2, "fatal: [hv1]: FAILED!\n[ERROR]: boom\n", 1.0), RunResult(0, "", 1.0),
                 RunResult(0, "", 1.0)])
    checks = iter([leaks(), leaks(domain=["hv2: domain x"]), leaks()])
    failed: list[dict[str, t.Any]] = []
    assert kill_drill.converge(lambda: next(runs), lambda: next(checks), failed) == (True, 3, leaks())
    assert [(f["rerun"], f["rc"], f["leaks"], f["errors"]) for f in failed] == [
        (1, 2, {}, ["[ERROR]: boom"]), (2, 0, {"domain": ["hv2: domain x"]}, [])]


def test_converge_gives_up_after_its_reruns() -> None:
    failed: list[dict[str, t.Any]] = []
    ok, reruns, left = kill_drill.converge(lambda: RunResult(0, "", 1.0), lambda: leaks(stuck=["web"]), failed, 2)
    assert (ok, reruns, left["stuck"], len(failed)) == (False, 2, ["web"], 2)


def test_kill_points_fall_inside_the_measured_length() -> None:
    rng = random.Random(7)
    points = [kill_drill.kill_point(rng, 20.0) for _draw in range(200)]
    assert all(0.5 <= p <= 19.0 for p in points) and len(set(points)) > 100
    assert 0.5 <= kill_drill.kill_point(rng, 0.1) <= 0.6  # a run shorter than the floor still gets a point


def test_results_count_kills_per_kind_and_task_and_sum_the_leaks() -> None:
    def killed(task: str, was_killed: bool = True) -> KilledRun:
        return KilledRun(1.5, was_killed, task, "play", 2.0)
    trials = [kill_drill.trial(1, "resize", killed("Copy disks away"), True, 1, leaks(), []),
              kill_drill.trial(2, "live_migrate", killed("Migrate", False), True, 1, leaks(), []),
              kill_drill.trial(3, "resize", killed("Copy disks away"), False, 3, leaks(claim=["a", "b"]),
                               [{"rerun": 1}])]
    figures, invariants = kill_drill.results(trials, ("resize", "live_migrate"), 2)
    assert (figures["kills"], figures["kills_during_resize"], figures["kills_during_live_migrate"],
            figures["runs_finished_before_kill"]) == (2, 2, 0, 1)
    assert figures["kills_by_task"] == {"resize: Copy disks away": 2}
    assert figures["leaks"]["claim"] == 2 and figures["max_reruns"] == 3 and figures["converged"] == 2
    assert [tr["trial"] for tr in figures["failed_trials"]] == [3]
    assert invariants["enough_kills"] and not invariants["every_trial_converged"]
    assert not invariants["no_claim_leak"] and invariants["no_domain_leak"]


def test_an_interrupt_after_some_trials_ends_them_and_keeps_their_figures(tmp_path: Path) -> None:
    drill = kill_drill.Drill(1, random.Random(1), tmp_path)
    with drill.running():
        drill.trials.append({"trial": 1})
        raise KeyboardInterrupt
    assert drill.interrupted == "interrupted after 1 trials; "
    empty = kill_drill.Drill(1, random.Random(1), tmp_path)
    with pytest.raises(KeyboardInterrupt), empty.running():  # before any trial: the scenario could not run
        raise KeyboardInterrupt
    assert empty.interrupted == ""
