"""The server module (play 1 of provision.yml, through ansible-playbook) with a key pair and a server group made
through `stratus api` (in the store, not the catalog): the key reaches the build plan, the anti-affinity group
spreads the servers and holds them as members, on both backends."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from frontend_helpers import CATALOG, NETWORK_ID, decide, inventory, write_yaml

from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs, server_groups
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICw0lSMbdGLGPsbzhY6ZmLpxET4XuLYWzoKpAQ9heoiI alice@example"


def test_the_server_module_resolves_store_key_pairs_and_groups(db_url: str, tmp_path: Path) -> None:
    alice = Caller(CATALOG["stratus_context"], Enforcer())  # the inventory's caller
    with store.transaction(db_url) as conn:
        keypairs.create(conn, Catalog(CATALOG), None, alice, "api-key", PUBLIC_KEY)
        group = server_groups.create(conn, Catalog(CATALOG), None, alice, "spread", "anti-affinity")
    hosts = write_yaml(tmp_path / "hosts.yml", inventory())
    decide(tmp_path, hosts, db_url, [{"name": "web", "flavor": "m1.tiny", "image": "cirros",
                                      "networks": [{"uuid": NETWORK_ID}], "key_name": "api-key", "min_count": 2,
                                      "scheduler_hints": {"group": group["id"]}}])
    with store.transaction(db_url) as conn:
        rows = list(conn.execute(sa.select(instances.c.uuid, instances.c.host, instances.c.plan,
                                           instances.c.server_group_id)))
        members = server_groups.show(conn, Catalog(CATALOG), alice, group["id"])["members"]
    assert sorted(r.host for r in rows) == ["hv1", "hv2"]
    assert {r.server_group_id for r in rows} == {group["id"]} and sorted(members) == sorted(r.uuid for r in rows)
    assert all(PUBLIC_KEY in str(r.plan) for r in rows)
