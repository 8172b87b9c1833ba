"""A server created through `stratus api` with a key pair and a server group made through the API (the store's):
the pipeline resolves both, the anti-affinity group spreads the servers and lists them as members, and another
project's user can name neither. In process, through the ASGI app (test_api_servers.py's client)."""
from __future__ import annotations

import typing as t

# the app, its store and its runs (fixtures client and launched), as test_api_servers.py makes them
from test_api_servers import Client, _create, client, launched  # noqa: F401  # pylint: disable=unused-import

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICw0lSMbdGLGPsbzhY6ZmLpxET4XuLYWzoKpAQ9heoiI alice@example"


def test_a_server_with_the_apis_key_pair_and_server_group(client: Client,  # noqa: F811
                                                          launched: list[dict[str, t.Any]]) -> None:  # noqa: F811
    status, _b, _h = client("alice", "POST", "/v2.1/os-keypairs",
                            {"keypair": {"name": "k", "public_key": PUBLIC_KEY}}, "2.2")
    assert status == 201
    status, body, _h = client("alice", "POST", "/v2.1/os-server-groups",
                              {"server_group": {"name": "g", "policies": ["anti-affinity"]}})
    assert status == 200
    group = body["server_group"]["id"]
    request = dict(_create("web", key_name="k", min_count=2, max_count=2), **{"os:scheduler_hints": {"group": group}})
    status, body, _h = client("alice", "POST", "/v2.1/servers", request, "2.61")
    assert status == 202, body
    members = client("alice", "GET", "/v2.1/os-server-groups/" + group)[1]["server_group"]["members"]
    assert len(members) == 2
    shown = [client("root", "GET", "/v2.1/servers/" + m, version="2.61")[1]["server"] for m in members]
    assert sorted(s["OS-EXT-SRV-ATTR:host"] for s in shown) == ["hv1", "hv2"]
    assert {s["key_name"] for s in shown} == {"k"}
    assert launched[0]["extravars"]["stratus_servers"][0]["key_name"] == "k"
    # bob (another project, another user) can name neither
    status, body, _h = client("bob", "POST", "/v2.1/servers", _create("b1", key_name="k"), "2.61")
    assert (status, body) == (400, {"badRequest": {"code": 400, "message": "Invalid key_name provided.",
                                                   "field": "key_name"}})
    status, body, _h = client("bob", "POST", "/v2.1/servers", dict(_create("b2"), **{"os:scheduler_hints": {
        "group": group}}), "2.61")
    assert status == 400 and body["badRequest"]["message"] == "Instance group %s could not be found." % group
