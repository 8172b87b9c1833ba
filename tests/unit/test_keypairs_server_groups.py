"""Key pairs and server groups in the store (migration 0009) beside the catalog's, on SQLite and PostgreSQL:
what the API writes (compute_api/keypairs.py, server_groups.py), the public key rules, and the pipeline seeing
both sources (a create's key_name and scheduler_hints.group, the anti-affinity filter through create_servers)."""
from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs, server_groups, views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import key_pairs as rows
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances, key_pairs

# made with ssh-keygen; the fingerprints are `ssh-keygen -l -E md5`'s
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICw0lSMbdGLGPsbzhY6ZmLpxET4XuLYWzoKpAQ9heoiI alice@example"
ED25519_MD5 = "ea:a8:ec:3f:c8:fa:3a:a4:79:ee:41:d1:bf:5c:ce:c0"
ECDSA = ("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNjwJUmAiKYI++IUmJWVhWCMmeluxQW2yGYK"
         "wbtLmp8/G8a5Kg2JTotTlbG6EjbVNoBf9tTyVP0crz0b4mp6a+A=")
ECDSA_MD5 = "22:f4:4e:48:a5:aa:af:85:3f:fc:0f:03:7b:84:c1:2d"
CATALOG_GROUP = "0d9e3c55-1d0a-4a41-9d5e-0b8e2f6c7a01"
CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}],
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "net-1", "name": "demo", "cidr": "10.9.0.0/28", "gateway": "10.9.0.1"}],
    "stratus_keypairs": {"alice": [{"name": "ops", "public_key": ECDSA}]},
    "stratus_server_groups": [{"id": CATALOG_GROUP, "name": "cat", "policy": "affinity", "project_id": "p1"}],
    "stratus_quotas": {"defaults": {"key_pairs": 3, "server_groups": 3}},
}
HOSTVARS = {"hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40},
            "hv2": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40}}


def who(user: str = "alice", project: str = "p1", role: str = "member") -> Caller:
    return Caller({"user_id": user, "project_id": project, "roles": [role]}, Enforcer())


def _stored(url: str) -> list[t.Any]:
    with store.transaction(url) as conn:
        return list(conn.execute(sa.select(key_pairs)))


# --- public keys ----------------------------------------------------------------------------------------

def test_public_keys_are_parsed_and_fingerprinted_as_ssh_keygen_does() -> None:
    assert keypairs.checked_public_key(ED25519 + "\n") == (ED25519, ED25519_MD5)
    assert keypairs.checked_public_key(ECDSA) == (ECDSA, ECDSA_MD5)


_BLOB = ED25519.split()[1]
BAD_KEYS = [
    "", "   ", "ssh-ed25519", "ssh-dss " + _BLOB, "ssh-rsa " + _BLOB,  # the blob says ssh-ed25519
    "ssh-ed25519 " + _BLOB[:-4],  # cut: does not parse
    "ssh-ed25519 not*base64", "ssh-ed25519 " + _BLOB + " two\nlines", "ssh-ed25519 " + _BLOB + "\nssh-ed25519 " + _BLOB,
    "ssh-ed25519  " + _BLOB, "ssh-ed25519 " + _BLOB + " \x1b[31m", "ssh-ed25519 " + "A" * 17000,
    'command="rm -rf /" ssh-ed25519 ' + _BLOB,
]


@pytest.mark.parametrize("text", BAD_KEYS, ids=range(len(BAD_KEYS)))
def test_a_bad_public_key_is_invalid_keypair_with_its_field(text: str) -> None:
    with pytest.raises(StratusError) as refused:
        keypairs.checked_public_key(text)
    assert (refused.value.code, refused.value.field) == ("InvalidKeypair", "public_key")


def test_x509_keys_are_pem_certificates() -> None:
    with pytest.raises(StratusError) as refused:
        keypairs.checked_public_key(ED25519, "x509")
    assert refused.value.code == "InvalidKeypair"


def test_a_generated_key_pair_is_a_valid_ssh_key_and_its_private_key_is_pem() -> None:
    made = keypairs.generate()
    assert keypairs.checked_public_key(made.public_key) == (made.public_key, made.fingerprint)
    assert made.public_key.startswith("ssh-rsa ") and made.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")


# --- key pairs in the store -----------------------------------------------------------------------------

def test_key_pairs_are_per_user_and_both_sources_list(db_url: str) -> None:
    catalog = Catalog(CATALOG)
    with store.transaction(db_url) as conn:
        made, private = keypairs.create(conn, catalog, CATALOG["stratus_quotas"], who(), "k1", ED25519)
        assert private is None and made["fingerprint"] == ED25519_MD5
        keypairs.create(conn, catalog, None, who("bob", "p2"), "k1", ED25519)  # another user, the same name
    with store.transaction(db_url) as conn:
        listed = keypairs.listed(conn, catalog, who())
        assert [(p["name"], p["source"]) for p in listed] == [("k1", "store"), ("ops", "catalog")]
        assert [p["name"] for p in keypairs.listed(conn, catalog, who("bob", "p2"))] == ["k1"]
        assert keypairs.show(conn, catalog, who(), "ops")["fingerprint"] == ECDSA_MD5
        keypairs.delete(conn, catalog, who(), "k1")
        with pytest.raises(StratusError) as gone:
            keypairs.show(conn, catalog, who(), "k1")
        assert gone.value.code == "KeypairNotFound"
        assert [p["user_id"] for p in keypairs.listed(conn, catalog, who("bob", "p2"))] == ["bob"]


def test_a_generated_private_key_is_never_stored(db_url: str) -> None:
    with store.transaction(db_url) as conn:
        made, private = keypairs.create(conn, Catalog(CATALOG), None, who(), "gen", None)
    assert private and "PRIVATE KEY" in private
    rows = _stored(db_url)
    assert [r.public_key for r in rows] == [made["public_key"]]
    assert not any(private.splitlines()[1] in str(tuple(r)) for r in rows)


CREATE_REFUSALS: list[tuple[dict[str, t.Any], str, str]] = [
    ({"name": "ops", "public_key": ED25519}, "KeyPairExists", "name"),  # shadows the catalog's
    ({"name": "k1", "public_key": ED25519}, "KeyPairExists", "name"),  # made already
    ({"name": " k2", "public_key": ED25519}, "InvalidInput", "name"),
    ({"name": "k/2", "public_key": ED25519}, "InvalidInput", "name"),
    ({"name": "k2", "public_key": "ssh-rsa AAAA"}, "InvalidKeypair", "public_key"),
    ({"name": "k2", "public_key": ED25519, "kind": "pgp"}, "InvalidInput", "type"),
    ({"name": "k2", "public_key": ED25519, "user_id": "bob"}, "PolicyNotAuthorized", "user_id"),
    ({"name": "k2", "public_key": ED25519, "user_id": "../x"}, "InvalidInput", "user_id"),
    ({"name": "k3", "public_key": ED25519, "quota": 2}, "QuotaExceeded", "stratus_keypairs.alice"),
]


@pytest.mark.parametrize("args,code,field", CREATE_REFUSALS, ids=[c[1] + "-" + c[2] for c in CREATE_REFUSALS])
def test_a_refused_key_pair_writes_nothing(db_url: str, args: dict[str, t.Any], code: str, field: str) -> None:
    catalog = Catalog(CATALOG)
    with store.transaction(db_url) as conn:
        keypairs.create(conn, catalog, None, who(), "k1", ED25519)
    before = _stored(db_url)
    args = dict(args)
    quotas = {"defaults": {"key_pairs": args.pop("quota", 100)}}
    with pytest.raises(StratusError) as refused:
        with store.transaction(db_url) as conn:
            keypairs.create(conn, catalog, quotas, who(), args["name"], args["public_key"], args.get("kind", "ssh"),
                            args.get("user_id"))
    assert (refused.value.code, refused.value.field) == (code, field)
    assert _stored(db_url) == before


def test_an_admin_manages_another_users_key_pairs_and_a_catalog_pair_is_not_deleted(db_url: str) -> None:
    catalog = Catalog(CATALOG)
    admin = who("root", "ops", "admin")
    with store.transaction(db_url) as conn:
        keypairs.create(conn, catalog, None, admin, "for-alice", ED25519, user_id="alice")
        assert [p["name"] for p in keypairs.listed(conn, catalog, admin, "alice")] == ["for-alice", "ops"]
        with pytest.raises(StratusError) as kept:
            keypairs.delete(conn, catalog, admin, "ops", "alice")
        assert kept.value.code == "Conflict"
        with pytest.raises(StratusError) as refused:
            keypairs.listed(conn, catalog, who(), "root")
        assert refused.value.code == "PolicyNotAuthorized"


# --- server groups in the store -------------------------------------------------------------------------

def test_server_groups_are_per_project_with_both_sources(db_url: str) -> None:
    catalog = Catalog(CATALOG)
    with store.transaction(db_url) as conn:
        mine = server_groups.create(conn, catalog, None, who(), "g1", "anti-affinity", {"max_server_per_host": 2})
        theirs = server_groups.create(conn, catalog, None, who("bob", "p2"), "g1", "affinity")
    with store.transaction(db_url) as conn:
        listed = server_groups.listed(conn, catalog, who())
        assert [(g["name"], g["source"]) for g in listed] == [("cat", "catalog"), ("g1", "store")]
        assert server_groups.show(conn, catalog, who(), mine["id"])["rules"] == {"max_server_per_host": 2}
        # another project's group does not exist for alice, for an admin it does
        with pytest.raises(StratusError) as hidden:
            server_groups.show(conn, catalog, who(), theirs["id"])
        assert hidden.value.code == "InstanceGroupNotFound"
        admin = who("root", "ops", "admin")
        assert len(server_groups.listed(conn, catalog, admin, all_projects=True)) == 3
        assert server_groups.listed(conn, catalog, admin) == []
        with pytest.raises(StratusError):
            server_groups.listed(conn, catalog, who(), all_projects=True)
        with pytest.raises(StratusError) as other:
            server_groups.delete(conn, catalog, who(), theirs["id"])
        assert other.value.code == "InstanceGroupNotFound"
        with pytest.raises(StratusError) as kept:
            server_groups.delete(conn, catalog, who(), CATALOG_GROUP)
        assert kept.value.code == "Conflict"
        server_groups.delete(conn, catalog, who(), mine["id"])
        assert [g["name"] for g in server_groups.listed(conn, catalog, who())] == ["cat"]
        assert views.quota_set(conn, CATALOG["stratus_quotas"], catalog, "p2")["server_groups"]["in_use"] == 1


GROUP_REFUSALS: list[tuple[tuple[t.Any, t.Any, t.Any], str, str]] = [
    (("", "affinity", None), "InvalidInput", "name"),
    ((" g", "affinity", None), "InvalidInput", "name"),
    (("g", "closeness", None), "InvalidInput", "policy"),
    (("g", "affinity", {"max_server_per_host": 2}), "InvalidInput", "rules"),
    (("g", "anti-affinity", {"max_server_per_host": 0}), "InvalidInput", "rules.max_server_per_host"),
    (("g", "anti-affinity", {"other": 1}), "InvalidInput", "rules"),
    (("g", "anti-affinity", None), "QuotaExceeded", "stratus_server_groups"),  # the catalog's one + 2 of 3
]


@pytest.mark.parametrize("args,code,field", GROUP_REFUSALS, ids=[c[2] + "-" + c[1] for c in GROUP_REFUSALS])
def test_a_refused_server_group_writes_nothing(db_url: str, args: tuple[t.Any, t.Any, t.Any], code: str,
                                               field: str) -> None:
    catalog = Catalog(CATALOG)
    with store.transaction(db_url) as conn:
        server_groups.create(conn, catalog, None, who(), "a", "affinity")
        server_groups.create(conn, catalog, None, who(), "b", "affinity")
        before = server_groups.listed(conn, catalog, who())
    with pytest.raises(StratusError) as refused:
        with store.transaction(db_url) as conn:
            server_groups.create(conn, catalog, CATALOG["stratus_quotas"], who(), *args)
    assert (refused.value.code, refused.value.field) == (code, field)
    with store.transaction(db_url) as conn:
        assert server_groups.listed(conn, catalog, who()) == before
    with pytest.raises(StratusError) as reader:
        with store.transaction(db_url) as conn:
            server_groups.create(conn, catalog, None, who(role="reader"), "r", "affinity")
    assert reader.value.code == "PolicyNotAuthorized"


# --- the pipeline sees both sources ---------------------------------------------------------------------

def _create(db_url: str, caller: Caller, **request: t.Any) -> t.Any:
    req = dict({"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}],
                "min_count": 1, "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}, **request)
    return create_servers(req, caller, CATALOG, ["hv1", "hv2"], HOSTVARS, db_url, False, "req-test")


def _plans(db_url: str) -> dict[str, t.Any]:
    with store.transaction(db_url) as conn:
        return {r.name: r for r in conn.execute(sa.select(instances.c.uuid, instances.c.name, instances.c.plan,
                                                          instances.c.host, instances.c.server_group_id))}


def test_key_name_resolves_the_catalogs_then_the_users_store_key_pair(db_url: str) -> None:
    catalog = Catalog(CATALOG)
    with store.transaction(db_url) as conn:
        keypairs.create(conn, catalog, None, who(), "k1", ED25519)
        keypairs.create(conn, catalog, None, who("bob", "p1"), "bobs", ECDSA)
    _create(db_url, who(), name="a", key_name="k1")
    _create(db_url, who(), name="b", key_name="ops")
    plans = _plans(db_url)
    assert ED25519 in str(plans["a"].plan) and ECDSA in str(plans["b"].plan)
    # another user's key pair is not alice's
    with pytest.raises(StratusError) as refused:
        _create(db_url, who(), name="c", key_name="bobs")
    assert (refused.value.code, refused.value.message) == ("KeypairNotFound", "Invalid key_name provided.")
    assert keypairs.for_server(catalog, db_url, "alice", "ops")["public_key"] == ECDSA


def test_a_store_anti_affinity_group_spreads_and_refuses_as_a_catalog_group_would(db_url: str) -> None:
    catalog = Catalog(CATALOG)
    with store.transaction(db_url) as conn:
        group = server_groups.create(conn, catalog, None, who(), "spread", "anti-affinity")
        theirs = server_groups.create(conn, catalog, None, who("bob", "p2"), "x", "anti-affinity")
    _create(db_url, who(), max_count=2, scheduler_hints={"group": group["id"]})
    plans = _plans(db_url)
    assert {plans["web-1"].host, plans["web-2"].host} == {"hv1", "hv2"}
    assert {plans["web-1"].server_group_id, plans["web-2"].server_group_id} == {group["id"]}
    with store.transaction(db_url) as conn:
        members = server_groups.show(conn, catalog, who(), group["id"])["members"]
    assert sorted(members) == sorted([plans["web-1"].uuid, plans["web-2"].uuid])
    with pytest.raises(StratusError) as full:
        _create(db_url, who(), name="third", scheduler_hints={"group": group["id"]})
    assert full.value.code == "NoValidHost"
    # the catalog's affinity group keeps its members together
    _create(db_url, who(), name="near", max_count=2, scheduler_hints={"group": CATALOG_GROUP})
    plans = _plans(db_url)
    assert plans["near-1"].host == plans["near-2"].host
    # another project's store group does not exist for alice
    with pytest.raises(StratusError) as hidden:
        _create(db_url, who(), name="sneak", scheduler_hints={"group": theirs["id"]})
    assert (hidden.value.code, hidden.value.field) == ("InstanceGroupNotFound", "scheduler_hints.group")


def test_a_name_taken_by_a_concurrent_create_is_key_pair_exists(db_url: str) -> None:
    with store.transaction(db_url) as conn:
        keypairs.create(conn, Catalog(CATALOG), None, who(), "k1", ED25519)
    with pytest.raises(StratusError) as taken:  # the row the other request wrote, past this one's look-up
        with store.transaction(db_url) as conn:
            rows.add(conn, "alice", "k1", "ssh", ED25519, ED25519_MD5, dt.datetime.now(dt.timezone.utc))
    assert (taken.value.code, taken.value.field) == ("KeyPairExists", "name")
    assert len(_stored(db_url)) == 1
