"""Check mode tells the truth: each request of nova_cases/twin_cases.yml is asked through
ansible-playbook in check mode and then for real, back to back, on both store backends; the two
answers must be the same (the same error code, message and field, or the same servers), and each
what the case expects. A refused request leaves nothing in the store but its action-log entry."""
from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
import yaml

from conftest import BACKENDS
from stratus_lab.store import empty_store_url
from frontend_helpers import CASES_DIR, run_cases_playbook

TWINS = yaml.safe_load((CASES_DIR / "twin_cases.yml").read_text())
CASES = TWINS["stratus_twin_cases"]


@pytest.fixture(scope="module", params=BACKENDS)
def twins(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[str, dict[str, dict[str, t.Any]]]:
    tmp = tmp_path_factory.mktemp("twins-%s" % request.param)
    url = empty_store_url(request.param, tmp, "twins", lambda: request.getfixturevalue("pg_url"))
    return url, {r["id"]: r for r in run_cases_playbook("check_and_real.yml", url, tmp / "twins.json")}


def _addresses(servers: list[dict[str, t.Any]]) -> list[str]:
    return sorted(a["addr"] for s in servers for addrs in (s.get("addresses") or {}).values() for a in addrs)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_check_mode_answers_as_the_real_run(twins: tuple[str, dict[str, t.Any]], case: dict[str, t.Any]) -> None:
    dry, real = twins[1][case["id"]]["check"], twins[1][case["id"]]["real"]
    expect = case["expect"]
    for answer in (dry, real):
        assert "Traceback" not in str(answer.get("exception", "")) and "InternalError" not in str(answer.get("error"))
    if "code" in expect:
        assert dry.get("failed") and real.get("failed"), "check mode: %s / real: %s" % (
            dry.get("error") or dry.get("servers"), real.get("error") or real.get("servers"))
        assert dry["error"] == real["error"]
        assert dry["error"]["code"] == expect["code"], dry["error"]
        assert expect["message"] in dry["error"]["message"], dry["error"]
        if "field" in expect:
            assert dry["error"]["field"] == expect["field"], dry["error"]
        for host, why in (expect.get("explain") or {}).items():
            assert dry["explain"][host] == real["explain"][host] == why, dry["explain"]
    else:
        assert not dry.get("failed"), dry.get("error") or dry.get("msg")
        assert not real.get("failed"), real.get("error") or real.get("msg")
        assert sorted(s["name"] for s in dry["servers"]) == sorted(s["name"] for s in real["servers"])
        assert len(real["servers"]) == expect["count"] and all(s["id"] for s in real["servers"])
        if "addresses" in expect:
            assert _addresses(real["servers"]) == expect["addresses"]


def test_refusals_left_nothing_but_their_log_entries(twins: tuple[str, dict[str, t.Any]]) -> None:
    url, _answers = twins
    built = {c["request"]["name"] for c in CASES if "count" in c["expect"]}
    seeded = {"holder", "filler-1", "filler-2", "filler-3", "filler-4"}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = {n for (n,) in conn.execute(sa.text("SELECT name FROM instances"))}
            assert names == built | seeded
            owners = {u for (u,) in conn.execute(sa.text("SELECT instance_uuid FROM ip_allocations"))}
            live = {u for (u,) in conn.execute(sa.text("SELECT uuid FROM instances"))}
            assert owners == live
            refused = sorted(n for (n,) in conn.execute(sa.text(
                "SELECT instance_name FROM instance_actions WHERE instance_uuid = ''")))
            # schema refusals (InvalidRequest) come before the caller is known and are not logged
            assert refused == sorted(c["request"]["name"] for c in CASES
                                     if c["expect"].get("code", "InvalidRequest") != "InvalidRequest")
    finally:
        engine.dispose()
