"""`stratus api`'s servers routes through the ASGI app (no server, no lab): a create is decided and claimed by
the collection's pipeline before the answer, refusals carry Nova's status and body and write nothing but
their action-log entry, the build is handed to a run (here recorded, not started), and the bodies follow the
microversion. The real clients and builds: tests/integration/test_api_servers_clients.py and the lab's e2e."""
from __future__ import annotations

import asyncio
import contextlib
import json
import typing as t
from pathlib import Path

import pytest

from stratus_cli.api import app as api_app, identity, runs, servers

from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

IMAGE = "0b7f2e4c-1f2d-4a3e-9a55-3d1c2b4a5e60"
PB_IMAGE = "0b7f2e4c-1f2d-4a3e-9a55-3d1c2b4a5eb0"
NETWORK = "5d8c7a40-0e0b-4f35-9a62-6a3f1b2c7d10"
VARIABLES = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1},
                        {"id": "2", "name": "m1.huge", "vcpus": 64, "ram": 65536, "disk": 5}],
    "stratus_images": [{"id": IMAGE, "name": "cirros", "disk_format": "qcow2"},
                       {"id": PB_IMAGE, "name": "pb-image", "disk_format": "qcow2", "visibility": "private",
                        "owner": "pb"}],
    "stratus_networks": [{"id": NETWORK, "name": "net1", "cidr": "10.77.0.0/24"}],
    "stratus_quotas": {"defaults": {"instances": 3, "cores": 100, "ram": 512000}},
}
CAPACITY = {"stratus_vcpus": 4, "stratus_memory_mb": 4096, "stratus_local_gb": 40,
            "stratus_cpu_allocation_ratio": 1.0, "stratus_ram_allocation_ratio": 1.0,
            "stratus_disk_allocation_ratio": 1.0}
USERS = {"alice": ("pa", "member"), "bob": ("pb", "member"), "carol": ("pa", "reader"), "root": ("ops", "admin")}


class Client:
    def __init__(self, app: t.Any, store_url: str) -> None:
        self.app, self.store_url = app, store_url
        self.tokens: dict[str, str] = {}

    def token(self, user: str) -> str:
        if user not in self.tokens:
            with store.transaction(self.store_url) as conn:
                row = identity.user_by_name_or_none(conn, None, user)
                project = identity.find_project(conn, USERS[user][0])
                self.tokens[user] = str(identity.issue_token(conn, row, project).secret)
        return self.tokens[user]

    def __call__(self, user: t.Optional[str], method: str, path: str, body: t.Any = None,
                 version: t.Optional[str] = None) -> tuple[int, t.Any, dict[str, str]]:
        sent: list[dict[str, t.Any]] = []
        path, _sep, query = path.partition("?")
        headers = {"content-type": "application/json"}
        if user:
            headers["x-auth-token"] = self.token(user)
        if version:
            headers["openstack-api-version"] = "compute " + version
        raw = json.dumps(body).encode() if body is not None else b""
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
                 "raw_path": path.encode(), "query_string": query.encode(), "root_path": "", "scheme": "http",
                 "server": ("127.0.0.1", 8774), "client": ("127.0.0.1", 5000),
                 "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}

        async def receive() -> dict[str, t.Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, t.Any]) -> None:
            sent.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return (start["status"], json.loads(data) if data else None,
                {k.decode(): v.decode() for k, v in start["headers"]})


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, t.Any]]:
    """The runs the routes hand their work to, recorded instead of started (the e2e test starts them)."""
    out: list[dict[str, t.Any]] = []

    def launch(inventories: list[str], store_url: str, caller: t.Any, playbook: str, extravars: dict[str, t.Any],
               what: str) -> int:
        out.append({"playbook": playbook, "extravars": extravars, "user": caller.user_id,
                    "project": caller.project_id, "roles": list(caller.roles)})
        return 0

    monkeypatch.setattr(runs, "launch", launch)
    return out


@pytest.fixture
def client(tmp_path: Path, launched: list[dict[str, t.Any]]) -> Client:
    store_url = "sqlite:///%s" % (tmp_path / "s.db")
    with store.transaction(store_url) as conn:
        for project in ("pa", "pb", "ops"):
            identity.create_project(conn, project, project)
        for user, (project, role) in USERS.items():
            identity.create_user(conn, user, "pw-" + user + "-long-enough")
            identity.add_role(conn, user, project, role)
    config = api_app.Config(store_url=store_url, variables=VARIABLES, inventories=["hosts.yml"],
                            hypervisors=["hv1", "hv2"], hostvars={"hv1": dict(CAPACITY), "hv2": dict(CAPACITY)})
    return Client(api_app.build_app(config), store_url)


def _create(name: str, **extra: t.Any) -> dict[str, t.Any]:
    return {"server": dict({"name": name, "flavorRef": "1", "imageRef": IMAGE, "networks": [{"uuid": NETWORK}]},
                           **extra)}


def test_a_create_is_claimed_at_once_and_its_build_handed_to_a_run(
        client: Client, launched: list[dict[str, t.Any]]) -> None:
    status, body, headers = client("alice", "POST", "/v2.1/servers", _create("web", metadata={"k": "v"}), "2.61")
    assert status == 202, body
    server_id = body["server"]["id"]
    assert headers["location"].endswith("/v2.1/servers/" + server_id)
    assert body["server"]["security_groups"] == [{"name": "default"}]
    # the build: provision.yml with the same request, as the token's caller (never the body's)
    user_id = launched[0].pop("user")
    assert launched == [{"playbook": "provision.yml", "project": "pa", "roles": ["member"],
                         "extravars": {"stratus_servers": [{
                             "name": "web", "flavor": "1", "image": IMAGE, "networks": [{"uuid": NETWORK}],
                             "metadata": {"k": "v"}, "config_drive": True}]}}]
    status, shown, _h = client("alice", "GET", "/v2.1/servers/" + server_id, version="2.61")
    server = shown["server"]
    assert status == 200 and server["status"] == "BUILD" and server["OS-EXT-STS:vm_state"] == "building"
    assert server["tenant_id"] == "pa" and server["user_id"] == user_id and server["metadata"] == {"k": "v"}
    assert server["flavor"]["original_name"] == "m1.tiny" and server["image"]["id"] == IMAGE
    assert [a["addr"].startswith("10.77.0.") for a in server["addresses"]["net1"]] == [True]
    assert "OS-EXT-SRV-ATTR:host" not in server  # a member does not see the host
    admin = client("root", "GET", "/v2.1/servers/" + server_id, version="2.61")[1]["server"]
    assert admin["OS-EXT-SRV-ATTR:host"] in ("hv1", "hv2") and admin["host_status"] == "UP"
    old = client("alice", "GET", "/v2.1/servers/" + server_id)[1]["server"]
    assert old["flavor"] == {"id": "1", "links": [{"rel": "bookmark", "href": "http://127.0.0.1:8774/flavors/1"}]}
    assert "description" not in old and "tags" not in old and "locked" not in old


def test_refusals_carry_novas_status_and_write_nothing(client: Client, launched: list[dict[str, t.Any]]) -> None:
    cases = [
        ("alice", _create("a", flavorRef="404"), 400, "badRequest"),          # no such flavor
        ("alice", _create("b", bogus=1), 400, "badRequest"),                  # unknown field
        ("alice", _create("c", description="d"), 400, "badRequest"),          # 2.19's field at 2.1
        ("alice", {"server": {"name": "d", "flavorRef": "1"}, "x": 1}, 400, "badRequest"),
        ("carol", _create("e"), 403, "forbidden"),                            # a reader may not create
        ("alice", _create("f", flavorRef="2"), 400, "badRequest"),            # no host fits: NoValidHost
        ("alice", _create("g", min_count=4, max_count=4), 403, "forbidden"),  # over the instance quota
    ]
    for user, body, status, fault in cases:
        got, answer, _h = client(user, "POST", "/v2.1/servers", body)
        assert (got, list(answer)) == (status, [fault]), (body, answer)
        assert "Traceback" not in json.dumps(answer)
    assert launched == []
    assert client("root", "GET", "/v2.1/servers/detail?all_tenants=1")[1] == {"servers": []}


def test_a_name_in_use_is_409_and_another_projects_server_is_404(client: Client) -> None:
    server_id = client("alice", "POST", "/v2.1/servers", _create("web"))[1]["server"]["id"]
    status, body, _h = client("alice", "POST", "/v2.1/servers", _create("web"))
    assert status == 409 and "in use" in body["conflictingRequest"]["message"]
    assert client("bob", "GET", "/v2.1/servers/" + server_id)[0] == 404
    assert client("bob", "DELETE", "/v2.1/servers/" + server_id)[0] == 404
    assert client("bob", "GET", "/v2.1/servers")[1] == {"servers": []}
    assert client(None, "GET", "/v2.1/servers")[0] == 401


def test_list_filters_paging_and_all_tenants(client: Client) -> None:
    ids = [client("alice", "POST", "/v2.1/servers", _create("s%d" % i))[1]["server"]["id"] for i in range(3)]
    client("bob", "POST", "/v2.1/servers", _create("b0"))
    listed = client("alice", "GET", "/v2.1/servers")[1]["servers"]
    assert [s["id"] for s in listed] == ids[::-1]  # newest first, as Nova
    page = client("alice", "GET", "/v2.1/servers?limit=2")[1]
    assert [s["name"] for s in page["servers"]] == ["s2", "s1"] and "marker=" in page["servers_links"][0]["href"]
    rest = client("alice", "GET", "/v2.1/servers?limit=2&marker=" + ids[1])[1]
    assert [s["name"] for s in rest["servers"]] == ["s0"] and "servers_links" not in rest
    assert [s["name"] for s in client("alice", "GET", "/v2.1/servers?name=^s1$")[1]["servers"]] == ["s1"]
    assert client("alice", "GET", "/v2.1/servers?name=(a%2B)%2B")[0] == 400
    assert client("alice", "GET", "/v2.1/servers?marker=nope")[0] == 400
    # all_tenants: the admin's; a member asking is refused, as Nova (403), and all_tenants=0 is its own project
    assert client("alice", "GET", "/v2.1/servers?all_tenants=1")[0] == 403
    assert client("alice", "GET", "/v2.1/servers/detail?all_tenants")[0] == 403
    assert len(client("alice", "GET", "/v2.1/servers?all_tenants=0&project_id=pb")[1]["servers"]) == 3
    everyone = client("root", "GET", "/v2.1/servers/detail?all_tenants=1")[1]["servers"]
    assert sorted(s["tenant_id"] for s in everyone) == ["pa", "pa", "pa", "pb"]
    assert {s["status"] for s in client("alice", "GET", "/v2.1/servers/detail?status=BUILD")[1]["servers"]} == {
        "BUILD"}


def test_delete_of_a_placed_server_hands_the_walk_to_a_run(client: Client, launched: list[dict[str, t.Any]]) -> None:
    server_id = client("alice", "POST", "/v2.1/servers", _create("web"))[1]["server"]["id"]
    assert client("carol", "DELETE", "/v2.1/servers/" + server_id)[0] == 403  # policy: a reader may not
    status, body, _h = client("alice", "DELETE", "/v2.1/servers/" + server_id)
    assert (status, body) == (204, None)
    assert launched[-1]["extravars"] == {"stratus_servers": [{"name": "web", "state": "absent"}]}
    shown = client("alice", "GET", "/v2.1/servers/" + server_id, version="2.61")[1]["server"]
    assert shown["OS-EXT-STS:task_state"] == "deleting"


def test_the_create_body_becomes_the_collections_request() -> None:
    request = servers.server_request({"server": {
        "name": "x", "flavorRef": "http://h/flavors/7", "imageRef": "", "networks": "none", "min_count": "2",
        "max_count": 3, "adminPass": "secret", "block_device_mapping_v2": [
            {"boot_index": 0, "uuid": IMAGE, "source_type": "image", "destination_type": "volume",
             "volume_size": 1}]},
        "os:scheduler_hints": {"group": "3f0e5c1a-2b4d-4e6f-8a9b-0c1d2e3f4a5b"}}, (2, 61), False)
    assert request == {"name": "x", "flavor": "7", "networks": "none", "min_count": 2, "max_count": 3,
                       "admin_pass": "secret", "block_device_mapping_v2": [
                           {"boot_index": 0, "uuid": IMAGE, "source_type": "image", "destination_type": "volume",
                            "volume_size": 1}],
                       "scheduler_hints": {"group": "3f0e5c1a-2b4d-4e6f-8a9b-0c1d2e3f4a5b"}, "config_drive": False}


def _set_state(store_url: str, server_id: str, **values: t.Any) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

    with store.transaction(store_url) as conn:
        conn.execute(instances.update().where(instances.c.uuid == server_id).values(**values))


def test_actions_are_recorded_at_once_and_their_steps_handed_to_a_run(
        client: Client, launched: list[dict[str, t.Any]]) -> None:
    server_id = client("alice", "POST", "/v2.1/servers", _create("web"))[1]["server"]["id"]
    # building: Nova's 409, nothing recorded, no run
    status, body, _h = client("alice", "POST", "/v2.1/servers/%s/action" % server_id, {"os-stop": None})
    assert status == 409 and "conflictingRequest" in body and len(launched) == 1
    _set_state(client.store_url, server_id, vm_state="active", task_state=None, power_state="running")
    assert client("alice", "POST", "/v2.1/servers/%s/action" % server_id, {"os-stop": None})[0] == 202
    assert launched[-1]["playbook"] == "action_steps_for.yml"
    recorded = launched[-1]["extravars"]["stratus_recorded_actions"]
    assert [(r["action"], r["server_uuids"], bool(r["hosts"])) for r in recorded] == [
        ("stop", [server_id], True)]
    shown = client("alice", "GET", "/v2.1/servers/" + server_id, version="2.61")[1]["server"]
    assert shown["OS-EXT-STS:task_state"] == "powering-off"
    # a second action while the first is under way: 409, nothing changed
    assert client("alice", "POST", "/v2.1/servers/%s/action" % server_id, {"reboot": {"type": "HARD"}})[0] == 409
    # bad bodies: Nova's 400; another project's server: 404; admin-only actions: 403 for a member
    for bad in ({"os-stop": {}}, {"reboot": {"type": "WARM"}}, {"nothing": None}, {"os-stop": None, "os-start": None},
                {"resize": {}}, {"migrate": {"host": "hv1"}}):
        assert client("alice", "POST", "/v2.1/servers/%s/action" % server_id, bad)[0] == 400, bad
    assert client("bob", "POST", "/v2.1/servers/%s/action" % server_id, {"os-start": None})[0] == 404
    _set_state(client.store_url, server_id, task_state=None)
    assert client("alice", "POST", "/v2.1/servers/%s/action" % server_id, {"migrate": None})[0] == 403
    assert len(launched) == 2


def test_action_bodies_become_the_modules_arguments() -> None:
    assert servers.action_args({"reboot": {"type": "SOFT"}}, (2, 1)) == ({"action": "reboot", "reboot_type": "soft"},
                                                                         202)
    assert servers.action_args({"rebuild": {"imageRef": "http://h/images/" + IMAGE}}, (2, 1)) == (
        {"action": "rebuild", "image": IMAGE}, 202)
    assert servers.action_args({"confirmResize": None}, (2, 1)) == ({"action": "confirm_resize"}, 204)
    assert servers.action_args({"migrate": {"host": "hv2"}}, (2, 56)) == ({"action": "migrate", "host": "hv2"}, 202)
    assert servers.action_args({"os-migrateLive": {"host": None, "block_migration": "auto"}}, (2, 61)) == (
        {"action": "live_migrate"}, 202)
    assert servers.action_args({"evacuate": {"host": "hv2", "force": False}}, (2, 29)) == (
        {"action": "evacuate", "host": "hv2", "force": False}, 200)


def test_a_create_with_user_data_zone_volumes_and_tags_keeps_the_user_data_secret(
        client: Client, launched: list[dict[str, t.Any]]) -> None:
    user_data = "I2Nsb3VkLWNvbmZpZwpwYXNzd29yZDogczNjcjN0LXVzZXItZGF0YQo="  # "#cloud-config ... s3cr3t-user-data"
    body = _create("vol", user_data=user_data, availability_zone="nova", description="d", tags=["t1"],
                   block_device_mapping_v2=[
                       {"boot_index": 0, "uuid": IMAGE, "source_type": "image", "destination_type": "local"},
                       {"boot_index": -1, "source_type": "blank", "destination_type": "volume", "volume_size": 1,
                        "delete_on_termination": True}])
    status, answer, _h = client("alice", "POST", "/v2.1/servers", body, "2.61")
    assert status == 202, answer
    server_id = answer["server"]["id"]
    assert launched[-1]["extravars"]["stratus_servers"][0]["user_data"] == user_data  # to the run, on its stdin
    for user in ("alice", "root"):
        shown = client(user, "GET", "/v2.1/servers/" + server_id, version="2.61")[1]["server"]
        assert shown["OS-EXT-AZ:availability_zone"] == "nova" and (shown["description"], shown["tags"]) == ("d", ["t1"])
        assert [v["delete_on_termination"] for v in shown["os-extended-volumes:volumes_attached"]] == [True]
        assert user_data not in json.dumps(shown)
    assert client("root", "GET", "/v2.1/servers/" + server_id, version="2.61")[1]["server"][
        "OS-EXT-SRV-ATTR:user_data"] is None
    # the same fields at a microversion that has no description or tags: Nova's 400, nothing made
    status, answer, _h = client("alice", "POST", "/v2.1/servers", _create("old", tags=["t"]), "2.51")
    assert status == 400 and "tags" in answer["badRequest"]["message"]


def test_another_projects_private_image_is_not_found(client: Client) -> None:
    """Glance hides another project's private image, so Nova's create says it cannot find it (400); its owner
    boots it."""
    status, body, _headers = client("alice", "POST", "/v2.1/servers", _create("steal", imageRef=PB_IMAGE))
    assert (status, body) == (400, {"badRequest": {"code": 400, "message": "Can not find requested image"}})
    assert client("bob", "POST", "/v2.1/servers", _create("own", imageRef=PB_IMAGE))[0] == 202


def test_a_nul_never_reaches_the_store(client: Client) -> None:
    """PostgreSQL refuses a NUL in text (a DataError, once a 500): the edge answers first, on every backend."""
    assert client("alice", "GET", "/v2.1/servers/abc\x00def")[:2] == (
        404, {"itemNotFound": {"code": 404, "message": "The resource could not be found."}})
    assert client("alice", "GET", "/v2.1/limits?tenant_id=a%00b")[0] == 400
    status, body, _headers = client("alice", "POST", "/v2.1/servers", _create("web", metadata={"k": "v\x00"}))
    assert status == 400 and "NUL" in body["badRequest"]["message"]


def test_the_password_is_verified_outside_any_store_transaction(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 is slow by design and SQLite's write lock is taken at BEGIN: a token issue verifies the password
    with no transaction open, so it makes no other request wait."""
    cloud = client.app.state.cloud
    depth, seen = [0], []
    real_transaction, real_verify = cloud.transaction, identity.verify_password

    @contextlib.contextmanager
    def counted() -> t.Iterator[t.Any]:
        depth[0] += 1
        try:
            with real_transaction() as conn:
                yield conn
        finally:
            depth[0] -= 1

    monkeypatch.setattr(cloud, "transaction", counted)
    monkeypatch.setattr(identity, "verify_password", lambda row, password: seen.append(depth[0]) or
                        real_verify(row, password))
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "alice", "domain": {"id": "default"}, "password": "pw-alice-long-enough"}}},
        "scope": {"project": {"id": "pa"}}}}
    status, answer, headers = client(None, "POST", "/v3/auth/tokens", body)
    assert status == 201 and answer["token"]["project"]["id"] == "pa" and headers["x-subject-token"]
    assert seen == [0]
    body["auth"]["identity"]["password"]["user"]["password"] = "not-the-password"
    assert client(None, "POST", "/v3/auth/tokens", body)[0] == 401 and seen == [0, 0]


def test_list_sort_keys_and_directions_as_nova(client: Client) -> None:
    ids = {name: client("alice", "POST", "/v2.1/servers", _create(name))[1]["server"]["id"]
           for name in ("b", "c", "a")}
    _set_state(client.store_url, ids["c"], vm_state="active", task_state=None, power_state="running")

    def names(query: str, user: str = "alice") -> list[str]:
        status, body, _h = client(user, "GET", "/v2.1/servers/detail?" + query, version="2.61")
        assert status == 200, body
        return [s["name"] for s in body["servers"]]

    assert names("") == ["a", "c", "b"]  # newest first
    assert names("sort_key=display_name&sort_dir=asc") == ["a", "b", "c"]
    assert names("sort_key=display_name") == ["c", "b", "a"]  # desc when no direction is given
    # ties broken by created_at in the first key's direction: active c, then building b and a, oldest first
    assert names("sort_key=vm_state&sort_dir=asc") == ["c", "b", "a"]
    assert names("sort_key=vm_state&sort_dir=desc") == ["a", "b", "c"]
    assert names("sort_key=power_state&sort_dir=desc&sort_key=display_name&sort_dir=asc") == ["c", "a", "b"]
    # paging by marker follows the order
    page = client("alice", "GET", "/v2.1/servers?sort_key=display_name&sort_dir=asc&limit=2")[1]
    assert [s["name"] for s in page["servers"]] == ["a", "b"] and "sort_key=display_name" in \
        page["servers_links"][0]["href"]
    assert names("sort_key=display_name&sort_dir=asc&marker=" + ids["b"]) == ["c"]
    assert client("alice", "GET", "/v2.1/servers?sort_key=password")[0] == 400
    assert client("alice", "GET", "/v2.1/servers?sort_key=display_name&sort_dir=up")[0] == 400
    assert client("alice", "GET", "/v2.1/servers?sort_key=host")[0] == 403  # an admin's key
    assert sorted(names("sort_key=host&all_tenants=1", "root")) == ["a", "b", "c"]


def test_a_paged_detail_list_has_the_same_bodies_as_the_whole_list(client: Client) -> None:
    for name in ("p1", "p2", "p3"):
        client("alice", "POST", "/v2.1/servers", _create(name, metadata={"n": name}))
    whole = client("alice", "GET", "/v2.1/servers/detail?sort_key=key_name", version="2.61")[1]["servers"]
    first = client("alice", "GET", "/v2.1/servers/detail?sort_key=key_name&limit=2", version="2.61")[1]
    rest = client("alice", "GET", "/v2.1/servers/detail?sort_key=key_name&limit=2&marker=" + first["servers"][-1]["id"],
                  version="2.61")[1]
    assert first["servers"] + rest["servers"] == whole and whole[0]["metadata"] == {"n": whole[0]["name"]}
    assert [s["name"] for s in client("alice", "GET", "/v2.1/servers?limit=5")[1]["servers"]] == ["p3", "p2", "p1"]
