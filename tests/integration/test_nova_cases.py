"""Nova's create checks, run through ansible-playbook in check mode, on both store backends.

One playbook run per backend asks every case of nova_cases/cases.yml; each case is
then its own test comparing error.code, the key part of the message and the field
(or, for a request Nova accepts, how many servers would be built and where).
"""
from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from conftest import BACKENDS
from stratus_lab.store import empty_store_url
from frontend_helpers import CASES_DIR, run_cases_playbook

CASES = yaml.safe_load((CASES_DIR / "cases.yml").read_text())["stratus_cases"]


def run_cases(db_url: str, out: Path) -> dict[str, dict[str, t.Any]]:
    return {r["item"]["id"]: r for r in run_cases_playbook("check_cases.yml", db_url, out)}


@pytest.fixture(scope="module", params=BACKENDS)
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    tmp = tmp_path_factory.mktemp("nova-cases-%s" % request.param)
    url = empty_store_url(request.param, tmp, "nova_cases", lambda: request.getfixturevalue("pg_url"))
    return run_cases(url, tmp / "outcomes.json")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(outcomes: dict[str, t.Any], case: dict[str, t.Any]) -> None:
    result = outcomes[case["id"]]
    expect = case["expect"]
    if "code" in expect:
        assert result.get("failed"), "Nova refuses this; we built %s" % result.get("servers")
        error = result["error"]
        assert error["code"] == expect["code"], error
        assert expect.get("message", "") in error["message"], error
        if "field" in expect:
            assert error["field"] == expect["field"], error
        assert "Traceback" not in result.get("msg", "")
        for host, why in (expect.get("explain") or {}).items():
            assert result["explain"][host] == why, result["explain"]
    else:
        assert not result.get("failed"), result.get("error") or result.get("msg")
        servers = result["servers"]
        assert len(servers) == expect["count"]
        if "hosts" in expect:
            assert {s["host"] for s in servers} <= set(expect["hosts"])


def test_check_mode_wrote_nothing_but_the_seeds(outcomes: dict[str, t.Any]) -> None:
    # every case ran in check mode: the seeds' servers are the only ones a later run sees
    ok = [r for r in outcomes.values() if not r.get("failed")]
    assert ok and all(s.get("vm_state") == "building" and "id" not in s for r in ok for s in r["servers"])
