"""The dashboard's hostile-input scenario in its short (--quick) version, through reliability/run.py, on SQLite:
every form the dashboard serves (found by crawling it as a member, an admin and a visitor) without its CSRF
token, with another project's ids and with hostile values; every page in a real chromium afterwards, nothing
executing. The full version (every payload, chromium as the admin too): `make reliability
ONLY=dashboard_hostile` (docs/reliability.md)."""
from __future__ import annotations

from pathlib import Path

from test_reliability_fast import run_quick  # tests/integration: the one way to run a scenario's short version


def test_dashboard_hostile_input(tmp_path: Path) -> None:
    result = run_quick("dashboard_hostile", tmp_path)["scenarios"]["dashboard_hostile"]
    figures = result["figures"]
    assert figures["backends"] == ["sqlite"] and figures["csrf_refusals"] > 0 and figures["chromium_pages"] > 0
    assert any("/dashboard/login" in key for key in figures["forms_found"])
