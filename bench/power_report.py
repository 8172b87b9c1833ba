# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power benchmark's arithmetic (bench/power_bench.py): medians, ratios per phase and in total, the target.

Pure functions of the measurements, so that tests/unit/test_power_bench.py can check them.
"""
from __future__ import annotations

import statistics
import typing as t

PHASES = ("stop", "start", "reboot")
FLOORS = ("floor", "floor_parallel")
TARGET_RATIO = 1.3


def medians(records: t.Iterable[dict[str, t.Any]]) -> dict[str, dict[str, float]]:
    """{method: {phase: median seconds}}, and each method's `total`: the median of its repetitions'
    sums of the three phases (a repetition missing a phase has no total)."""
    by: dict[tuple[str, str], list[float]] = {}
    sums: dict[str, dict[int, dict[str, float]]] = {}
    for r in records:
        by.setdefault((r["method"], r["phase"]), []).append(r["seconds"])
        sums.setdefault(r["method"], {}).setdefault(r["rep"], {})[r["phase"]] = r["seconds"]
    out: dict[str, dict[str, float]] = {}
    for (method, phase), values in sorted(by.items()):
        out.setdefault(method, {})[phase] = round(statistics.median(values), 3)
    for method, reps in sums.items():
        totals = [sum(phases.values()) for phases in reps.values() if set(PHASES) <= set(phases)]
        if totals:
            out[method]["total"] = round(statistics.median(totals), 3)
    return out


def ratio(numerator: t.Optional[float], denominator: t.Optional[float]) -> t.Optional[float]:
    return round(numerator / denominator, 2) if numerator is not None and denominator else None


def ratios(med: dict[str, dict[str, float]]) -> dict[str, dict[str, t.Any]]:
    """Per phase and for the total: Stratus over each floor, and the value judged (the stricter floor's,
    i.e. the larger ratio, so that a slow floor cannot make Stratus look good)."""
    out: dict[str, dict[str, t.Any]] = {}
    for phase in (*PHASES, "total"):
        stratus = med.get("stratus", {}).get(phase)
        by_floor = {f: ratio(stratus, med.get(f, {}).get(phase)) for f in FLOORS}
        found = {f: v for f, v in by_floor.items() if v is not None}
        entry: dict[str, t.Any] = {"by_floor": by_floor, "value": None, "floor": None}
        if found:
            worst = max(found, key=lambda f: found[f])
            entry.update(value=found[worst], floor=worst)
        out[phase] = entry
    return out


def target(ratios_found: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
    """The issue's target, ratio <= TARGET_RATIO against the stricter floor: for stop + start + reboot
    together (`met`), and for each phase alone (`met_every_phase`, the stricter reading)."""
    values = {phase: entry["value"] for phase, entry in ratios_found.items()}

    def at_most(found: list[t.Optional[float]]) -> t.Optional[bool]:
        return None if any(v is None for v in found) else all(v <= TARGET_RATIO for v in found)  # type: ignore

    return {"ratio_at_most": TARGET_RATIO, "judged": values, "met": at_most([values.get("total")]),
            "met_every_phase": at_most(list(values.values()))}
