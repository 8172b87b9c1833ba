"""Identity, idempotency, Conflict, visibility and refusals through ansible-playbook, on both backends."""
from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

from frontend_helpers import run_cases_playbook


@pytest.fixture()
def run(db_url: str, tmp_path: Path) -> tuple[str, dict[str, t.Any]]:
    return db_url, run_cases_playbook("server_requests.yml", db_url, tmp_path / "out.json", timeout=600)


def test_requests(run: tuple[str, dict[str, t.Any]]) -> None:
    db_url, r = run
    assert r["create"]["changed"] and len(r["create"]["servers"]) == 1
    uuid = r["create"]["servers"][0]["id"]
    assert not r["again"]["changed"] and r["again"]["servers"][0]["id"] == uuid
    assert not r["by_id"]["changed"], "the same flavor/image/network named by id is no change"
    assert r["in_place"]["changed"]
    server = r["in_place"]["servers"][0]
    assert server["id"] == uuid and server["metadata"] == {"role": "db"} and server["tags"] == ["blue"]
    assert server["description"] == "the db"
    assert r["conflict"]["failed"] and r["conflict"]["error"]["code"] == "Conflict"
    assert "image" in r["conflict"]["error"]["message"] and r["conflict"]["error"]["field"] == "image"
    assert r["refused"]["error"]["code"] == "FlavorNotFound"
    assert r["reader_create"]["error"]["code"] == "PolicyNotAuthorized"

    alice = r["alice_view"]
    assert [s["name"] for s in alice["servers"]] == ["web"]
    assert [a["action"] for a in alice["servers"][0]["actions"]] == ["create"]
    assert alice["servers"][0]["actions"][0]["events"][0]["event"] == "conductor_schedule_and_build_instances"
    refusals = {x["name"]: x for x in alice["refusals"]}
    assert refusals["nope"]["code"] == "FlavorNotFound" and refusals["readers"]["code"] == "PolicyNotAuthorized"
    assert [s["name"] for s in r["reader_view"]["servers"]] == ["web"]
    assert r["bob_view"]["servers"] == []
    assert r["bob_all"]["error"]["code"] == "PolicyNotAuthorized"
    assert sorted((s["project_id"], s["name"]) for s in r["root_all"]["servers"]) == [("p1", "web")]
    assert r["bob_web"]["changed"] and r["bob_web"]["servers"][0]["id"] != uuid

    # the refused requests left their action-log entries and nothing else
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            names = sorted(n for (n,) in conn.execute(sa.text("SELECT name FROM instances")))
            assert names == ["web", "web"]
            assert conn.execute(sa.text("SELECT count(*) FROM resource_claims")).scalar() == 2
            assert conn.execute(sa.text("SELECT count(*) FROM ip_allocations")).scalar() == 1
            logged = sorted(conn.execute(sa.text(
                "SELECT instance_name, error_code FROM instance_actions WHERE instance_uuid = ''")).fetchall())
            assert [tuple(x) for x in logged] == [("nope", "FlavorNotFound"), ("readers", "PolicyNotAuthorized"),
                                                  ("web", "Conflict")]
    finally:
        engine.dispose()
