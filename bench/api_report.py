# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API benchmark's arithmetic (bench/api_bench.py): throughput, latency percentiles, ratios.

Pure functions of the measurements, so that tests/unit/test_api_bench.py can check them.
"""
from __future__ import annotations

import math
import re
import statistics
import typing as t


def percentile(values: t.Sequence[float], p: float) -> t.Optional[float]:
    """The nearest-rank percentile (p in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def load_summary(latencies: t.Sequence[float], wall_seconds: float, errors: int) -> dict[str, t.Any]:
    """One load run: successful requests per second over its wall time, p50/p99/max latency in ms."""
    def ms(value: t.Optional[float]) -> t.Optional[float]:
        return None if value is None else round(value * 1000.0, 1)

    return {"requests": len(latencies) + errors, "errors": errors, "wall_seconds": round(wall_seconds, 3),
            "requests_per_second": round(len(latencies) / wall_seconds, 2) if wall_seconds > 0 else None,
            "p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99)),
            "max_ms": ms(max(latencies) if latencies else None)}


def ratio(numerator: t.Optional[float], denominator: t.Optional[float]) -> t.Optional[float]:
    return round(numerator / denominator, 2) if numerator is not None and denominator else None


def lab_medians(records: t.Iterable[dict[str, t.Any]]) -> dict[str, t.Optional[float]]:
    """{method: median seconds from the request to N servers ACTIVE} over the repetitions."""
    by: dict[str, list[float]] = {}
    for r in records:
        by.setdefault(r["method"], []).append(r["seconds"])
    return {method: round(statistics.median(values), 3) for method, values in sorted(by.items())}


def table_rows(page: str) -> int:
    """The rows of the dashboard's instances table in a page (each row's name link)."""
    return len(re.findall(r'class="instance-name"', page))
