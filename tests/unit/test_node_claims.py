"""The whole-node claim and its release (plugin_utils/resources/node_claims.py) against a real store, on
each backend: what the create calls under the placement lock and what delete calls, with their events."""
from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import node_claims
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who, now
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_node_events, baremetal_nodes

UUID = "aaaaaaaa-0000-0000-0000-000000000001"
OTHER = "bbbbbbbb-0000-0000-0000-000000000002"
WHO = Who("alice", "p1", "req-1")


@pytest.fixture()
def db(db_url: str) -> str:
    rows = {"free": {}, "busy": {"instance_uuid": OTHER}, "fixing": {"maintenance": True, "maintenance_reason": "fan"},
            "managed": {"provision_state": "manageable"}}
    with store.transaction(db_url) as conn:
        for name, row in rows.items():
            conn.execute(baremetal_nodes.insert().values(**dict({"name": name, "provision_state": "available",
                                                                 "created_at": now()}, **row)))
    return db_url


def node(db: str, name: str) -> t.Any:
    with store.transaction(db) as conn:
        return conn.execute(sa.select(baremetal_nodes).where(baremetal_nodes.c.name == name)).first()


def events(db: str) -> list[tuple[t.Any, ...]]:
    with store.transaction(db) as conn:
        return [(r.node, r.event, r.from_state, r.to_state, r.result, r.instance_uuid, r.request_id, r.user_id)
                for r in conn.execute(sa.select(baremetal_node_events).order_by(baremetal_node_events.c.id))]


def test_a_claim_takes_a_free_node_once_and_is_an_event(db: str) -> None:
    with store.transaction(db, locked=True) as conn:
        assert node_claims.claim_node(conn, "free", UUID, WHO) is True
    with store.transaction(db, locked=True) as conn:
        assert node_claims.claim_node(conn, "free", UUID, WHO) is False  # a rerun changes nothing
    row = node(db, "free")
    assert (row.instance_uuid, row.provision_state) == (UUID, "available")
    assert events(db) == [("free", "claim", "available", "available", "success", UUID, "req-1", "alice")]


@pytest.mark.parametrize("name, why", [
    ("busy", "instance %s holds it" % OTHER),
    ("fixing", "it is in maintenance"),
    ("managed", "its provision state is manageable, not available"),
    ("ghost", "its provision state is enroll (it has never been managed)"),
])
def test_a_node_that_cannot_be_claimed_is_no_valid_host_and_unchanged(db: str, name: str, why: str) -> None:
    before = node(db, name)
    with pytest.raises(StratusError) as err:
        with store.transaction(db, locked=True) as conn:
            node_claims.claim_node(conn, name, UUID, WHO)
    assert err.value.code == "NoValidHost"
    assert err.value.message.endswith("Bare-metal node %s cannot be claimed for instance %s: %s" % (name, UUID, why))
    assert node(db, name) == before and events(db) == []


def test_one_instance_never_holds_two_nodes(db: str) -> None:
    with pytest.raises(StratusError) as err:
        with store.transaction(db, locked=True) as conn:
            node_claims.claim_node(conn, "free", OTHER, WHO)
    assert err.value.code == "Conflict" and "holds bare-metal node busy already" in err.value.message
    with pytest.raises(sa.exc.IntegrityError):  # the unique constraint, the last guard
        with store.transaction(db) as conn:
            conn.execute(baremetal_nodes.update().where(baremetal_nodes.c.name == "free").values(instance_uuid=OTHER))


@pytest.mark.parametrize("state, after, target", [
    ("available", "available", None),  # claimed, never deployed: only unreserved
    ("deploying", "cleaning", "available"),
    ("deploy failed", "cleaning", "available"),
    ("active", "cleaning", "available"),
])
def test_release_sends_a_deployed_node_to_cleaning(db: str, state: str, after: str, target: t.Optional[str]) -> None:
    with store.transaction(db) as conn:
        conn.execute(baremetal_nodes.update().where(baremetal_nodes.c.name == "busy").values(provision_state=state))
    with store.transaction(db, locked=True) as conn:
        assert node_claims.release_node(conn, OTHER, WHO) == "busy"
    with store.transaction(db, locked=True) as conn:
        assert node_claims.release_node(conn, OTHER, WHO) is None  # a rerun: nothing held
    row = node(db, "busy")
    assert (row.instance_uuid, row.provision_state, row.target_provision_state) == (None, after, target)
    assert [e[:4] for e in events(db)] == [("busy", "release", state, after)]
