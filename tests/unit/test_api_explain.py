"""`stratus api`'s Stratus extension os-stratus-explain (the dashboard's "Will it fit?"), and the `field` Nova's
error bodies carry beside code and message: the explain takes the create body, applies the create's schema,
policy and quota, then asks the scheduler in check mode and writes nothing (every table's row count is
unchanged); a member sees hostIds and filters, an admin host names, reasons and weights."""
from __future__ import annotations

import typing as t

import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import metadata

import test_api_servers
from test_api_servers import NETWORK, Client, _create

client, launched = test_api_servers.client, test_api_servers.launched  # the fixtures

EXPLAIN = "/v2.1/os-stratus-explain"


def _row_counts(store_url: str) -> dict[str, int]:
    with store.transaction(store_url) as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()}


def test_explain_says_where_a_create_would_go_and_writes_nothing(
        client: Client, launched: list[dict[str, t.Any]]) -> None:
    client("alice", "GET", "/v2.1/servers")  # the token rows first: what the explain writes is what is left
    client("root", "GET", "/v2.1/servers")
    before = _row_counts(client.store_url)
    status, body, _h = client("alice", "POST", EXPLAIN, _create("web", min_count=2, max_count=2), "2.61")
    assert status == 200, body
    explain = body["explain"]
    assert explain["scheduled"] and explain["instances"] == 2 and explain["error"] is None
    assert sorted(p["name"] for p in explain["placements"]) == ["web-1", "web-2"]
    # a member: Nova's hostIds (56 hex characters), no host names, reasons or weigher parts
    assert [len(h["host"]) for h in explain["hosts"]] == [56, 56]
    assert all(h["passed"] and "reason" not in h and "weights" not in h for h in explain["hosts"])
    admin = client("root", "POST", EXPLAIN, _create("web"), "2.61")[1]["explain"]
    assert sorted(h["host"] for h in admin["hosts"]) == ["hv1", "hv2"] and "weights" in admin["hosts"][0]
    # the host taken is first among the best, and the only one marked chosen
    assert [h["chosen"] for h in admin["hosts"]] == [True, False]
    assert admin["placements"] == [{"name": "web", "host": admin["hosts"][0]["host"]}]
    # too big for any host: the answer says why (200), per host the filter that left it out
    status, body, _h = client("alice", "POST", EXPLAIN, _create("big", flavorRef="2"))
    explain = body["explain"]
    assert status == 200 and not explain["scheduled"] and explain["error"]["code"] == "NoValidHost"
    assert {h["rejected_by"] for h in explain["hosts"]} and not any(h["passed"] for h in explain["hosts"])
    assert _row_counts(client.store_url) == before and launched == []
    assert client("alice", "GET", "/v2.1/servers")[1] == {"servers": []}


def test_explain_refuses_as_a_create_does_with_the_field_at_fault(client: Client) -> None:
    for user in ("alice", "carol"):
        client(user, "GET", "/v2.1/servers")
    before = _row_counts(client.store_url)
    cases = [("alice", _create("q", min_count=4, max_count=4), 403, "max_count"),   # over the instance quota
             ("alice", _create("f", flavorRef="404"), 400, "flavorRef"),
             ("alice", _create("n", networks=[{"uuid": "nope"}]), 400, "networks[0]"),
             ("alice", _create("b", bogus=1), 400, "bogus"),
             ("alice", _create("c", max_count="x"), 400, "max_count"),
             ("carol", _create("r"), 403, None)]                                      # a reader may not
    for user, body, status, field in cases:
        got, answer, _h = client(user, "POST", EXPLAIN, body)
        (fault,) = answer.values()
        assert (got, fault.get("field")) == (status, field), (body, answer)
        if user != "carol":  # the create's own refusal, word for word (the reader: the explain's own rule first)
            assert client(user, "POST", "/v2.1/servers", body)[1] == answer
    quota = client("alice", "POST", EXPLAIN, cases[0][1])[1]["forbidden"]["message"]
    assert quota.startswith("Quota exceeded for instances: Requested 4, but already used 0 of 3 instances")
    # the creates the pipeline refused (quota, flavor, network) left their action-log entries; the explains none
    after = _row_counts(client.store_url)
    assert {k: v for k, v in after.items() if k != "instance_actions"} == {
        k: v for k, v in before.items() if k != "instance_actions"}
    assert after["instance_actions"] - before["instance_actions"] == 3


def test_a_name_in_use_names_the_name_field(client: Client) -> None:
    assert client("alice", "POST", "/v2.1/servers", _create("web"))[0] == 202
    for path in ("/v2.1/servers", EXPLAIN):
        status, body, _h = client("alice", "POST", path, _create("web"))
        assert status == 409 and body["conflictingRequest"]["field"] == "name"


def test_a_create_with_a_bad_network_names_the_field(client: Client) -> None:
    status, body, _h = client("alice", "POST", "/v2.1/servers", _create("x", networks=[{"uuid": NETWORK + "0"}]))
    assert status == 400 and body["badRequest"]["field"].startswith("networks"), body
