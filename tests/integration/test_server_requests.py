"""Identity, idempotency, Conflict, visibility and refusals through ansible-playbook, on both backends."""
from __future__ import annotations

import json
import os
import subprocess
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = Path(__file__).resolve().parent / "nova_cases"


@pytest.fixture()
def run(db_url: str, tmp_path: Path) -> tuple[str, dict[str, t.Any]]:
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(CASES_DIR / "inventory.yml"),
         str(CASES_DIR / "server_requests.yml"), "-e", "cases_out=%s" % out],
        capture_output=True, text=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), STRATUS_DB_URL=db_url),
        cwd=str(CASES_DIR), timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return db_url, json.loads(out.read_text())


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
