"""The API benchmark's arithmetic (bench/api_report.py): nearest-rank percentiles, a load run's summary (only
successful requests count towards the rate), and the lab part's medians and ratio."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import api_report  # noqa: E402  (bench/ is not a package)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert api_report.percentile(values, 50) == 50.0
    assert api_report.percentile(values, 99) == 99.0
    assert api_report.percentile([3.0], 99) == 3.0
    assert api_report.percentile([], 50) is None


def test_a_load_summary_counts_only_answers_that_were_right() -> None:
    found = api_report.load_summary([0.010, 0.020, 0.030, 0.040], 2.0, errors=1)
    assert found == {"requests": 5, "errors": 1, "wall_seconds": 2.0, "requests_per_second": 2.0,
                     "p50_ms": 20.0, "p99_ms": 40.0, "max_ms": 40.0}


def test_lab_medians_and_the_ratio() -> None:
    records = [{"method": "api", "seconds": s} for s in (30.0, 10.0, 20.0)] + \
              [{"method": "playbook", "seconds": s} for s in (8.0, 12.0, 10.0)]
    med = api_report.lab_medians(records)
    assert med == {"api": 20.0, "playbook": 10.0}
    assert api_report.ratio(med["api"], med["playbook"]) == 2.0
    assert api_report.ratio(None, 1.0) is None and api_report.ratio(1.0, 0.0) is None


def test_the_dashboard_tables_rows_are_counted_by_their_name_links() -> None:
    page = '<tr><td><a href="/x" class="instance-name">a</a></td></tr>' * 3 + '<a class="instance-names">'
    assert api_report.table_rows(page) == 3 and api_report.table_rows("") == 0
