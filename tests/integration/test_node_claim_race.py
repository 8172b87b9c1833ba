"""Whole-node claims under a real race: separate OS processes, each with its own store connection, on a
SQLite file and on PostgreSQL (as test_claim_race.py does for hypervisors).

1. Creates with a bare-metal flavor for more servers than there are available nodes, at the same instant,
   through the conductor (the deploy switch turned on in each racer: the claim is what the deploy will
   call): exactly as many servers as nodes are made, no node is held twice, the others get NoValidHost.
2. The claim itself, without the placement lock: every racer claims the same node for an instance of its
   own; the conditional update lets exactly one win.
"""
from __future__ import annotations

import typing as t

import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

from race_helpers import race
from test_baremetal_placement import CATALOG, HYPERVISORS, NODES, request, seed

RACERS = 8
FREE = ("node-1", "node-2", "node-7")  # what the seeded store leaves for a bm.small server


def create_racer(db_url: str, n: int, start: t.Any, out: t.Any) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import create as createlib

    ctx = {"user_id": "u%d" % n, "project_id": "p%d" % n, "roles": ["member"]}
    start.wait()
    try:
        made = createlib.create_servers(request(name="race%d" % n), Caller(ctx, Enforcer()), CATALOG,
                                        list(HYPERVISORS), dict(HYPERVISORS, **NODES), db_url, False,
                                        "req-race-%d" % n, nodes=list(NODES))
        out.put((n, "created", made.servers[0]["host"], made.servers[0]["id"]))
    except StratusError as exc:
        out.put((n, exc.code, exc.message, None))
    except Exception as exc:  # a traceback in a racer must fail the test, not hang it
        out.put((n, "crash", repr(exc), None))


def claim_racer(db_url: str, n: int, start: t.Any, out: t.Any) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.resources import node_claims
    from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who

    start.wait()
    try:
        with store.transaction(db_url) as conn:  # no placement lock: the update alone decides
            took = node_claims.claim_node(conn, "node-1", "00000000-0000-0000-0000-%012d" % n,
                                          Who("u%d" % n, "p%d" % n, "req-claim-%d" % n))
        out.put((n, "claimed" if took else "again"))
    except StratusError as exc:
        out.put((n, exc.code))
    except Exception as exc:
        out.put((n, "crash: %r" % exc))


def held(db_url: str) -> dict[str, str]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(sa.text(
                "SELECT name, instance_uuid FROM baremetal_nodes WHERE instance_uuid IS NOT NULL"))}
    finally:
        engine.dispose()


def test_concurrent_creates_never_get_the_same_node(db_url: str) -> None:
    seed(db_url)
    before = held(db_url)
    results = race(create_racer, db_url, RACERS)
    outcomes = sorted(r[1] for r in results)
    assert outcomes == ["NoValidHost"] * (RACERS - len(FREE)) + ["created"] * len(FREE), results
    won = {r[2]: r[3] for r in results if r[1] == "created"}
    assert sorted(won) == sorted(FREE)  # each free node exactly once
    assert held(db_url) == dict(before, **won)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            live = conn.execute(sa.text("SELECT count(*) FROM instances WHERE deleted = ''")).scalar()
            claims = conn.execute(sa.text("SELECT count(*) FROM baremetal_node_events WHERE event = 'claim'")).scalar()
    finally:
        engine.dispose()
    assert live == claims == len(FREE)


def test_concurrent_claims_of_one_node_have_one_winner(db_url: str) -> None:
    seed(db_url)
    results = race(claim_racer, db_url, RACERS)
    outcomes = sorted(r[1] for r in results)
    assert outcomes == ["NoValidHost"] * (RACERS - 1) + ["claimed"], results
    winner = next(n for n, outcome in results if outcome == "claimed")
    assert held(db_url)["node-1"] == "00000000-0000-0000-0000-%012d" % winner
