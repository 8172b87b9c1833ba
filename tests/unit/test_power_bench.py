"""The power benchmark's arithmetic (bench/power_report.py): medians per phase, the total as the median of
each repetition's sum, Stratus over the stricter floor, and the target of issue 18 (<= 1.3); and how the
floor (bench/power_floor.py) deals a host's domains to its workers."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import power_floor  # noqa: E402  (bench/ is not a package; libvirt-python and stratus_lab: the .venv's)
import power_report  # noqa: E402


def records(method: str, per_rep: list[tuple[float, float, float]]) -> list[dict]:
    return [{"method": method, "phase": phase, "rep": rep, "seconds": seconds}
            for rep, values in enumerate(per_rep) for phase, seconds in zip(power_report.PHASES, values)]


def test_medians_per_phase_and_the_total_is_the_median_of_the_sums() -> None:
    med = power_report.medians(records("stratus", [(1.0, 10.0, 5.0), (3.0, 2.0, 5.0), (2.0, 4.0, 100.0)]))
    assert med["stratus"] == {"stop": 2.0, "start": 4.0, "reboot": 5.0, "total": 16.0}  # sums 16, 10, 106


def test_a_repetition_missing_a_phase_has_no_total() -> None:
    partial = records("floor", [(1.0, 1.0, 1.0)])[:2]
    assert "total" not in power_report.medians(partial)["floor"]


def test_the_ratio_judged_is_against_the_stricter_floor_and_the_target() -> None:
    med = power_report.medians(records("stratus", [(2.6, 4.0, 6.0)] * 3) + records("floor", [(2.0, 4.0, 6.0)] * 3)
                               + records("floor_parallel", [(1.0, 5.0, 5.0)] * 3))
    found = power_report.ratios(med)
    assert found["stop"] == {"by_floor": {"floor": 1.3, "floor_parallel": 2.6}, "value": 2.6, "floor": "floor_parallel"}
    assert found["start"]["value"] == 1.0 and found["start"]["floor"] == "floor"
    assert found["total"]["by_floor"] == {"floor": 1.05, "floor_parallel": 1.15}
    verdict = power_report.target(found)
    assert verdict["met"] is True and verdict["met_every_phase"] is False
    assert verdict["judged"] == {"stop": 2.6, "start": 1.0, "reboot": 1.2, "total": 1.15}


def test_no_floor_measured_is_no_verdict() -> None:
    found = power_report.ratios(power_report.medians(records("stratus", [(1.0, 1.0, 1.0)])))
    assert found["total"] == {"by_floor": {"floor": None, "floor_parallel": None}, "value": None, "floor": None}
    assert power_report.target(found)["met"] is None


def test_the_floor_deals_each_hosts_domains_round_robin_to_its_workers() -> None:
    shares = power_floor.shares({"hv1": ["a", "b", "c", "d", "e"], "hv2": ["f"], "hv3": []}, 4)
    assert shares == [("hv1", ["a", "e"]), ("hv1", ["b"]), ("hv1", ["c"]), ("hv1", ["d"]), ("hv2", ["f"])]
    assert power_floor.shares({"hv1": ["a", "b"]}, 1) == [("hv1", ["a", "b"])]
