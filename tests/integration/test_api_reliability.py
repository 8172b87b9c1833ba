"""The API's reliability scenarios in their short (--quick) versions, through reliability/run.py, on SQLite:

- api_concurrency: 9 creates at once through two `stratus api` processes (two workers each) on one store,
  against three tight quotas (no overshoot, Nova's 403 for each refusal, no duplicate IP), their builds against
  libvirt's in-memory test driver, then every server deleted through the API;
- api_hostile_input: the hostile batch against every route the app serves (nothing written, no traceback);
- api_isolation: another project's servers, limits, flavor, image, network and tokens (all refused).

The full versions (50 creates, SQLite and PostgreSQL) run with `make reliability` (docs/reliability.md).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from test_reliability_fast import run_quick  # tests/integration: the one way to run a scenario's short version

SCENARIOS = ("api_concurrency", "api_hostile_input", "api_isolation")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_api_scenario(scenario: str, tmp_path: Path) -> None:
    result = run_quick(scenario, tmp_path)["scenarios"][scenario]
    assert result["invariants"] and result["figures"]["backends"] == ["sqlite"]
