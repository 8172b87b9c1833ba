"""The controller-side reliability scenarios in their short (--quick) versions, through reliability/run.py.

The full versions run with `make reliability` (docs/reliability.md); the lab scenarios run only there.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAST = ("concurrency", "hostile_input", "isolation_secrets", "action_races")


@pytest.mark.parametrize("scenario", FAST)
def test_fast_scenario(scenario: str, tmp_path: Path) -> None:
    report = run_quick(scenario, tmp_path)
    assert report["passed"] and report["machine"]["cpu_count"] and report["scenarios"][scenario]["invariants"]


def run_quick(scenario: str, tmp_path: Path) -> dict:
    """reliability/run.py --only SCENARIO --quick; its report, once the scenario passed."""
    out = tmp_path / "reliability.json"
    proc = subprocess.run([sys.executable, str(ROOT / "reliability" / "run.py"), "--only", scenario, "--quick",
                           "--timeout", "600", "--out", str(out), "--work-dir", str(tmp_path / "work")],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=900, check=False)
    report = json.loads(out.read_text())
    result = report["scenarios"][scenario]
    failed = [name for name, holds in result["invariants"].items() if not holds]
    assert proc.returncode == 0 and result["passed"], "%s: %s failed\n%s\n%s" % (
        result["outcome"], failed, result["notes"][-3000:], result["log_tail"])
    return report
