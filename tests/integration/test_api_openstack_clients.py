"""`stratus api` driven by OpenStack's real clients: python-openstackclient (the `openstack` command, as a
subprocess) and openstacksdk, against one server on a free loopback port with a SQLite store and a catalog
of hypervisors that are never contacted. Two projects (pa, pb), a reader and an admin; forged, expired and
revoked tokens; a bad password; the server's log read for passwords and tracebacks."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from frontend_helpers import CATALOG, NETWORK_ID, VENV_BIN, env, inventory, write_yaml
from wait_helpers import wait_until

STRATUS, OPENSTACK = VENV_BIN / "stratus", VENV_BIN / "openstack"
PASSWORDS = {"alice": "alice-Pa55-word!", "bob": "bob-Pa55-word!", "carol": "carol-Pa55-word!",
             "root": "root-Pa55-word!"}
WRONG = "not-the-Pa55-word-of-alice"
# pb's own flavor, image and network: pa's users never see them
PB_NETWORK = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4eb0"
PB_IMAGE = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2cb0"

pytestmark = pytest.mark.skipif(not (STRATUS.exists() and OPENSTACK.exists()),
                                reason="the CLI or python-openstackclient is not installed (make setup installs both)")


def _catalog() -> dict[str, t.Any]:
    catalog = json.loads(json.dumps(CATALOG))
    catalog["stratus_flavors"].append({"id": "9", "name": "pb.private", "vcpus": 1, "ram": 128, "disk": 1,
                                       "is_public": False, "projects": ["pb"],
                                       "extra_specs": {"hw:cpu_policy": "shared"}})
    catalog["stratus_images"].append({"id": PB_IMAGE, "name": "pb-image", "disk_format": "qcow2",
                                      "visibility": "private", "owner": "pb"})
    catalog["stratus_networks"].append({"id": PB_NETWORK, "name": "pb-net", "cidr": "10.78.0.0/24",
                                        "shared": False, "project_id": "pb"})
    return catalog


class Api(t.NamedTuple):
    url: str
    log: Path
    store_url: str
    home: Path
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str, cafile: t.Optional[Path] = None) -> bool:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(url + "/v3", timeout=5, context=context) as resp:
            return resp.status == 200
    except OSError:
        return False


def _start(argv: list[str], run_env: dict[str, str], log: Path, url: str,
           cafile: t.Optional[Path] = None) -> subprocess.Popen:
    """`stratus api` in a session of its own (stopped by its process group), once it answers."""
    with log.open("w") as out:
        proc = subprocess.Popen([str(STRATUS), *argv], stdout=out, stderr=subprocess.STDOUT, env=run_env,
                                start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or _answers(url, cafile), "stratus api to answer on " + url)
        assert proc.poll() is None, log.read_text()[-3000:]
    except BaseException:
        _stop(proc)
        raise
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Api]:
    tmp = tmp_path_factory.mktemp("api")
    inv = inventory()
    inv["all"]["vars"] = _catalog()
    hosts = write_yaml(tmp / "hosts.yml", inv)
    store_dir = tmp / "store"
    run_env = env(store_dir=store_dir, STRATUS_INVENTORY=str(hosts), HOME=str(tmp))

    # the identity store in process (tests/unit/test_api_identity.py runs the `stratus identity` commands)
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from stratus_cli.api import identity

    store_url = "sqlite:///%s" % (store_dir / "stratus.db")
    with store.transaction(store_url) as conn:
        for project in ("pa", "pb", "ops"):
            identity.create_project(conn, project, project)
        for user, project, role in (("alice", "pa", "member"), ("bob", "pb", "member"), ("carol", "pa", "reader"),
                                    ("root", "ops", "admin")):
            identity.create_user(conn, user, PASSWORDS[user])
            identity.add_role(conn, user, project, role)
    port = _free_port()
    url = "http://127.0.0.1:%d" % port
    log = tmp / "api.log"
    proc = _start(["api", "--port", str(port)], run_env, log, url)
    try:
        yield Api(url, log, store_url, tmp, run_env)
    finally:
        _stop(proc)


def openstack(api: Api, user: str, *args: str, project: t.Optional[str] = None,
              password: t.Optional[str] = None, rc: int = 0, output: bool = True) -> t.Any:
    """The real `openstack` command as this user in their project (its JSON output when rc is 0 and the
    command has output, else the finished process)."""
    projects = {"alice": "pa", "bob": "pb", "carol": "pa", "root": "ops"}
    argv = [str(OPENSTACK), "--os-auth-url", api.url + "/v3", "--os-identity-api-version", "3",
            "--os-username", user, "--os-password", password or PASSWORDS[user],
            "--os-project-name", project or projects[user], "--os-user-domain-name", "Default",
            "--os-project-domain-name", "Default", "--os-region-name", "RegionOne", *args]
    if rc == 0 and output:
        argv += ["-f", "json"]
    # no clouds.yaml or OS_* of the machine: only what this call says
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    proc = subprocess.run(argv, capture_output=True, text=True, env=dict(clean, HOME=str(api.home)), timeout=120,
                          check=False)
    assert proc.returncode == rc, "rc %s: %s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return json.loads(proc.stdout) if rc == 0 and output else proc


def http(api: Api, path: str, token: t.Optional[str] = None, method: str = "GET",
         headers: t.Optional[dict[str, str]] = None, body: t.Optional[bytes] = None) -> tuple[int, t.Any, t.Any]:
    req = urllib.request.Request(api.url + path, data=body, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None, resp.headers
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None, exc.headers


def token(api: Api, user: str) -> str:
    projects = {"alice": "pa", "bob": "pb", "carol": "pa", "root": "ops"}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": PASSWORDS[user]}}},
        "scope": {"project": {"name": projects[user], "domain": {"name": "Default"}}}}}
    status, _body, headers = http(api, "/v3/auth/tokens", method="POST", body=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"})
    assert status == 201
    return str(headers["X-Subject-Token"])


def test_token_issue(api: Api) -> None:
    issued = openstack(api, "alice", "token", "issue")
    assert issued["project_id"] == "pa" and issued["id"]
    users = {u["name"]: u["id"] for u in _identity_users(api)}
    assert issued["user_id"] == users["alice"]


def _identity_users(api: Api) -> list[dict[str, t.Any]]:
    proc = subprocess.run([str(STRATUS), "identity", "user", "list", "-o", "json"], capture_output=True, text=True,
                          env=env(store_dir=api.home / "store"), timeout=120, check=True)
    return list(json.loads(proc.stdout)["users"])


def test_flavor_list_and_show_with_extra_specs(api: Api) -> None:
    alice = {f["Name"] for f in openstack(api, "alice", "flavor", "list")}
    assert alice == {"m1.tiny", "m1.big"}
    bob = {f["Name"]: f for f in openstack(api, "bob", "flavor", "list")}
    assert set(bob) == {"m1.tiny", "m1.big", "pb.private"} and bob["pb.private"]["Is Public"] is False
    tiny = openstack(api, "alice", "flavor", "show", "m1.tiny")
    assert (tiny["id"], tiny["ram"], tiny["vcpus"], tiny["disk"]) == ("1", 256, 1, 1)
    private = openstack(api, "bob", "flavor", "show", "pb.private")
    assert private["properties"] == {"hw:cpu_policy": "shared"}
    # another project's private flavor does not exist for alice
    hidden = openstack(api, "alice", "flavor", "show", "pb.private", rc=1)
    assert "No Flavor found" in hidden.stderr or "404" in hidden.stderr


def test_image_and_network_lists_are_each_projects_own(api: Api) -> None:
    assert {i["Name"] for i in openstack(api, "alice", "image", "list")} == {"cirros"}
    assert {i["Name"] for i in openstack(api, "bob", "image", "list")} == {"cirros", "pb-image"}
    assert openstack(api, "bob", "image", "show", "pb-image")["visibility"] == "private"
    alice_nets = openstack(api, "alice", "network", "list")
    assert [(n["ID"], n["Name"]) for n in alice_nets] == [(NETWORK_ID, "net1")]
    assert {n["Name"] for n in openstack(api, "bob", "network", "list")} == {"net1", "pb-net"}
    subnets = openstack(api, "bob", "subnet", "list")
    assert {s["Subnet"] for s in subnets} == {"10.77.0.0/24", "10.78.0.0/24"}


def test_limits_show_absolute(api: Api) -> None:
    limits = {row["Name"]: row["Value"] for row in openstack(api, "carol", "limits", "show", "--absolute")}
    # the catalog's quotas (stratus_quotas.defaults), nothing in use yet
    assert (limits["max_total_instances"], limits["max_total_cores"], limits["max_total_ram_size"]) == (50, 100, 512000)
    assert limits["total_instances_used"] == 0


def test_availability_zones_detail_for_the_admin_list_for_members(api: Api) -> None:
    admin = openstack(api, "root", "availability", "zone", "list", "--compute", "--long")
    assert {(z["Zone Name"], z["Host Name"]) for z in admin} == {("az1", "hv1"), ("az2", "hv2")}
    member = openstack(api, "alice", "availability", "zone", "list", "--compute")
    assert {z["Zone Name"] for z in member} == {"az1", "az2"}
    status, body, _h = http(api, "/v2.1/os-availability-zone/detail", token(api, "alice"))
    assert status == 403 and body["forbidden"]["code"] == 403


def test_openstacksdk_script(api: Api) -> None:
    import openstack as sdk

    conn = sdk.connect(auth_url=api.url + "/v3", username="bob", password=PASSWORDS["bob"], project_name="pb",
                       user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
                       identity_api_version="3", load_yaml_config=False, load_envvars=False)
    try:
        assert conn.compute.get_endpoint() == api.url + "/v2.1"
        flavors = {f.name: f for f in conn.compute.flavors(details=True)}
        assert flavors["pb.private"].extra_specs == {"hw:cpu_policy": "shared"}
        assert conn.compute.find_flavor("m1.big").ram == 1024
        assert {i.name for i in conn.image.images()} == {"cirros", "pb-image"}
        net = conn.network.find_network("pb-net")
        assert net is not None and net.project_id == "pb" and not net.is_shared
        subnet = conn.network.get_subnet(net.subnet_ids[0])
        assert (subnet.cidr, subnet.gateway_ip, subnet.ip_version) == ("10.78.0.0/24", "10.78.0.1", 4)
        limits = conn.compute.get_limits()
        assert limits.absolute.instances == 50
    finally:
        conn.close()


def test_forged_expired_and_revoked_tokens_are_401(api: Api) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from stratus_cli.api import identity

    forged = "forged-" + "A" * 40
    with store.transaction(api.store_url) as conn:
        expired = identity.issue_token(conn, identity.find_user(conn, "alice"), identity.find_project(conn, "pa"),
                                       ttl=dt.timedelta(seconds=-1)).secret
    revoked = token(api, "alice")
    assert http(api, "/v2.1/flavors", revoked)[0] == 200
    status, _b, _h = http(api, "/v3/auth/tokens", revoked, method="DELETE", headers={"X-Subject-Token": revoked})
    assert status == 204
    for bad in (forged, str(expired), revoked):
        for path in ("/v2.1/flavors", "/image/v2/images", "/network/v2.0/networks", "/v3/auth/tokens"):
            status, body, headers = http(api, path, bad, headers={"X-Subject-Token": bad})
            assert status == 401, (path, status, body)
            assert body == {"error": {"code": 401, "title": "Unauthorized",
                                      "message": "The request you have made requires authentication."}}
    no_token = http(api, "/v2.1/flavors")
    assert no_token[0] == 401 and "Keystone uri=" in no_token[2]["WWW-Authenticate"]
    # the openstack command with a forged token fails the same way, and so does rescoping it (token method)
    for auth in (["--os-auth-type", "admin_token", "--os-endpoint", api.url + "/v2.1"],
                 ["--os-auth-type", "v3token", "--os-auth-url", api.url + "/v3", "--os-project-name", "pa",
                  "--os-project-domain-name", "Default"]):
        proc = subprocess.run([str(OPENSTACK), *auth, "--os-token", forged, "flavor", "list"], capture_output=True,
                              text=True, env=dict(os.environ, HOME=str(api.home)), timeout=120, check=False)
        assert proc.returncode == 1 and "401" in proc.stderr, proc.stderr[-2000:]


def test_a_token_rescoped_by_the_token_method(api: Api) -> None:
    """Keystone's token method: a valid token of the user for another project it has a role on (never longer)."""
    base = openstack(api, "alice", "token", "issue")
    proc = subprocess.run([str(OPENSTACK), "--os-auth-type", "v3token", "--os-auth-url", api.url + "/v3",
                           "--os-token", base["id"], "--os-project-name", "pa", "--os-project-domain-name", "Default",
                           "flavor", "list", "-f", "json"], capture_output=True, text=True,
                          env=dict(os.environ, HOME=str(api.home)), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {f["Name"] for f in json.loads(proc.stdout)} == {"m1.tiny", "m1.big"}
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": base["id"]}},
                     "scope": {"project": {"id": "pb"}}}}
    status, _b, _h = http(api, "/v3/auth/tokens", method="POST", body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})
    assert status == 401  # alice has no role on pb


def test_token_validate_is_own_or_admin(api: Api) -> None:
    alice, bob, root = token(api, "alice"), token(api, "bob"), token(api, "root")
    status, body, headers = http(api, "/v3/auth/tokens", alice, headers={"X-Subject-Token": alice})
    assert status == 200 and headers["X-Subject-Token"] == alice
    assert body["token"]["project"]["id"] == "pa" and [r["name"] for r in body["token"]["roles"]] == ["member"]
    assert {e["type"] for e in body["token"]["catalog"]} == {"identity", "compute", "image", "network"}
    assert http(api, "/v3/auth/tokens", bob, headers={"X-Subject-Token": alice})[0] == 403
    assert http(api, "/v3/auth/tokens", root, headers={"X-Subject-Token": alice})[0] == 200
    assert http(api, "/v3/auth/tokens", root, headers={"X-Subject-Token": "nope"})[0] == 404


def test_bad_password_is_401_and_logged_without_it(api: Api) -> None:
    proc = openstack(api, "alice", "token", "issue", password=WRONG, rc=1)
    assert "401" in proc.stderr or "authentication" in proc.stderr.lower()
    assert WRONG not in proc.stdout
    wait_until(lambda: "bad credentials for user alice" in api.log.read_text(), "the refusal in the server's log")


def test_microversions_and_nova_error_bodies(api: Api) -> None:
    alice = token(api, "alice")
    status, body, headers = http(api, "/v2.1/flavors/1", alice, headers={"OpenStack-API-Version": "compute 2.61"})
    assert status == 200 and headers["OpenStack-API-Version"] == "compute 2.61"
    assert body["flavor"]["extra_specs"] == {} and "description" in body["flavor"]
    old = http(api, "/v2.1/flavors/1", alice, headers={"X-OpenStack-Nova-API-Version": "2.1"})[1]["flavor"]
    assert "extra_specs" not in old and "description" not in old
    status, body, _h = http(api, "/v2.1/flavors", alice, headers={"OpenStack-API-Version": "compute 2.62"})
    assert status == 406 and "maximum is 2.61" in body["computeFault"]["message"]
    assert http(api, "/v2.1/flavors", alice, headers={"OpenStack-API-Version": "compute 2.x"})[0] == 400
    latest = http(api, "/", None)[1]["versions"][0]
    assert (latest["min_version"], latest["version"]) == ("2.1", "2.61")
    status, body, _h = http(api, "/v2.1/flavors/9", alice)
    assert status == 404 and body == {"itemNotFound": {"code": 404, "message": "Flavor 9 could not be found."}}
    assert http(api, "/v2.1/limits?tenant_id=pb", alice)[1]["forbidden"]["code"] == 403
    status, body, _h = http(api, "/network/v2.0/networks/" + PB_NETWORK, alice)
    assert status == 404 and body["NeutronError"]["type"] == "NetworkNotFound"


def test_bad_token_requests_are_refused_with_keystones_bodies(api: Api) -> None:
    def post(data: bytes, ctype: str = "application/json") -> tuple[int, t.Any]:
        status, body, _h = http(api, "/v3/auth/tokens", method="POST", body=data, headers={"Content-Type": ctype})
        return status, body

    assert post(b"{not json")[0] == 400
    assert post(b"[" * 50000 + b"]" * 50000)[0] == 400  # nested past the parser's depth
    assert post(b'{"auth": 1}')[0] == 400
    assert post(b"{}", "text/plain")[0] == 415
    status, body = post(b"[" + b"0," * 100000 + b"0]")
    assert status == 413 and body["error"]["title"] == "Request Entity Too Large"


# made with ssh-keygen; its fingerprint is `ssh-keygen -l -E md5`'s
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICw0lSMbdGLGPsbzhY6ZmLpxET4XuLYWzoKpAQ9heoiI alice@example"
PUBLIC_KEY_MD5 = "ea:a8:ec:3f:c8:fa:3a:a4:79:ee:41:d1:bf:5c:ce:c0"


def _store_rows(api: Api, table: str) -> list[tuple[t.Any, ...]]:
    import sqlalchemy as sa

    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

    with store.transaction(api.store_url) as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM %s ORDER BY 1" % table))]


def test_keypairs_with_the_openstack_command(api: Api, tmp_path: Path) -> None:
    # generated by the client, the private key printed once
    made = openstack(api, "alice", "keypair", "create", "k1", rc=0, output=False)
    private = tmp_path / "private"
    private.write_text(made.stdout)
    assert made.stdout.startswith("-----BEGIN") and "PRIVATE KEY" in made.stdout
    public = tmp_path / "k2.pub"
    public.write_text(PUBLIC_KEY + "\n")
    k2 = openstack(api, "alice", "keypair", "create", "--public-key", str(public), "k2")
    assert (k2["name"], k2["fingerprint"], k2["type"]) == ("k2", PUBLIC_KEY_MD5, "ssh")
    assert {k["Name"] for k in openstack(api, "alice", "keypair", "list")} == {"k1", "k2"}
    shown = openstack(api, "alice", "keypair", "show", "k2")
    alice_id = openstack(api, "alice", "token", "issue")["user_id"]
    assert (shown["fingerprint"], shown["user_id"]) == (PUBLIC_KEY_MD5, alice_id)
    key_only = openstack(api, "alice", "keypair", "show", "--public-key", "k2", rc=0, output=False)
    assert key_only.stdout.strip() == PUBLIC_KEY
    # a duplicate name is 409, a bad key 400; nothing is written by either
    before = _store_rows(api, "key_pairs")
    assert "409" in openstack(api, "alice", "keypair", "create", "--public-key", str(public), "k2", rc=1).stderr
    public.write_text("ssh-rsa " + PUBLIC_KEY.split()[1])
    assert "400" in openstack(api, "alice", "keypair", "create", "--public-key", str(public), "k3", rc=1).stderr
    assert _store_rows(api, "key_pairs") == before
    # another user (of another project, or of the same) does not see them
    assert openstack(api, "bob", "keypair", "list") == []
    assert openstack(api, "carol", "keypair", "list") == []
    assert "No Keypair found for k2" in openstack(api, "bob", "keypair", "show", "k2", rc=1).stderr
    status, body, _h = http(api, "/v2.1/os-keypairs/k2", token(api, "bob"))
    assert status == 404 and body["itemNotFound"]["message"].startswith("Keypair k2 not found for user ")
    openstack(api, "bob", "keypair", "delete", "k2", rc=1)  # bob has no k2: "Failed to delete key"
    assert {k["Name"] for k in openstack(api, "alice", "keypair", "list")} == {"k1", "k2"}
    openstack(api, "alice", "keypair", "delete", "k1", rc=0, output=False)
    assert [k["Name"] for k in openstack(api, "alice", "keypair", "list")] == ["k2"]
    assert made.stdout.splitlines()[1] not in api.log.read_text()


def test_keypairs_generated_by_the_server_and_nova_bodies(api: Api) -> None:
    alice, root = token(api, "alice"), token(api, "root")
    v22 = {"OpenStack-API-Version": "compute 2.2", "Content-Type": "application/json"}
    status, body, headers = http(api, "/v2.1/os-keypairs", alice, "POST", v22, b'{"keypair": {"name": "gen"}}')
    assert status == 201 and headers["OpenStack-API-Version"] == "compute 2.2"
    made = body["keypair"]
    assert set(made) == {"name", "public_key", "fingerprint", "type", "user_id", "private_key"}
    assert made["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    secret_line = made["private_key"].splitlines()[1]
    assert not any(secret_line in str(row) for row in _store_rows(api, "key_pairs"))
    status, body, _h = http(api, "/v2.1/os-keypairs/gen", alice, headers=v22)
    assert status == 200 and "private_key" not in body["keypair"] and body["keypair"]["deleted"] is False
    # 2.1: no type, 200 on create, 202 on delete; unknown fields (type before 2.2) are Nova's 400
    v21 = {"Content-Type": "application/json"}
    status, body, _h = http(api, "/v2.1/os-keypairs", alice, "POST", v21,
                            json.dumps({"keypair": {"name": "old", "public_key": PUBLIC_KEY}}).encode())
    assert status == 200 and "type" not in body["keypair"]
    status, body, _h = http(api, "/v2.1/os-keypairs", alice, "POST", v21,
                            json.dumps({"keypair": {"name": "t", "public_key": PUBLIC_KEY, "type": "ssh"}}).encode())
    assert status == 400 and "'type' was unexpected" in body["badRequest"]["message"]
    assert http(api, "/v2.1/os-keypairs/old", alice, "DELETE")[0] == 202
    assert http(api, "/v2.1/os-keypairs/gen", alice, "DELETE", v22)[0] == 204
    # 2.10: an admin's key pair for another user; a member cannot
    alice_id = openstack(api, "alice", "token", "issue")["user_id"]
    v210 = {"OpenStack-API-Version": "compute 2.10", "Content-Type": "application/json"}
    for_alice = json.dumps({"keypair": {"name": "given", "public_key": PUBLIC_KEY, "user_id": alice_id}}).encode()
    assert http(api, "/v2.1/os-keypairs", root, "POST", v210, for_alice)[0] == 201
    listed = http(api, "/v2.1/os-keypairs?user_id=" + alice_id, root, headers=v210)[1]["keypairs"]
    assert "given" in [k["keypair"]["name"] for k in listed]
    bob = token(api, "bob")
    status, body, _h = http(api, "/v2.1/os-keypairs?user_id=" + alice_id, bob, headers=v210)
    assert status == 403 and "os_compute_api:os-keypairs:index" in body["forbidden"]["message"]
    assert http(api, "/v2.1/os-keypairs/given", alice, "DELETE", v210)[0] == 204
    for bad in (b"{", b'{"keypair": {"name": "a/b", "public_key": "x"}}', b'{"keypair": {}}', b'{"kp": {}}'):
        status, body, _h = http(api, "/v2.1/os-keypairs", alice, "POST", v22, bad)
        assert status == 400 and body["badRequest"]["code"] == 400, (bad, body)


def test_server_groups_with_the_openstack_command(api: Api) -> None:
    g1 = openstack(api, "alice", "server", "group", "create", "--policy", "anti-affinity", "g1")
    assert (g1["name"], g1["members"]) == ("g1", [])
    assert "anti-affinity" in str(g1.get("policy") or g1.get("policies"))
    soft = openstack(api, "alice", "server", "group", "create", "--policy", "soft-affinity", "g2")
    assert {g["Name"] for g in openstack(api, "alice", "server", "group", "list")} == {"g1", "g2"}
    assert openstack(api, "carol", "server", "group", "show", g1["id"])["name"] == "g1"  # a reader of pa
    # another project's user sees none of them: the group is 404
    assert openstack(api, "bob", "server", "group", "list") == []
    assert "No ServerGroup found" in openstack(api, "bob", "server", "group", "show", g1["id"], rc=1).stderr
    status, body, _h = http(api, "/v2.1/os-server-groups/" + g1["id"], token(api, "bob"))
    message = "Instance group %s could not be found." % g1["id"]
    assert status == 404 and body == {"itemNotFound": {"code": 404, "message": message}}
    assert openstack(api, "bob", "server", "group", "delete", g1["id"], rc=1).returncode == 1
    # every project's for the admin only
    everyone = openstack(api, "root", "server", "group", "list", "--all-projects")
    assert {g["Name"] for g in everyone} >= {"g1", "g2"}
    assert "403" in openstack(api, "alice", "server", "group", "list", "--all-projects", rc=1).stderr
    # Nova's bodies: 2.1 policies and metadata, 2.13 project and user; bad input is 400 and writes nothing
    alice = token(api, "alice")
    status, body, _h = http(api, "/v2.1/os-server-groups/" + g1["id"], alice,
                            headers={"OpenStack-API-Version": "compute 2.13"})
    fields = {"id", "name", "policies", "members", "metadata", "project_id", "user_id"}
    assert status == 200 and set(body["server_group"]) == fields
    assert (body["server_group"]["policies"], body["server_group"]["project_id"]) == (["anti-affinity"], "pa")
    before = _store_rows(api, "server_groups")
    for version, group in (("2.1", {"name": "x", "policies": ["soft-affinity"]}),  # soft: from 2.15
                           ("2.15", {"name": "x", "policies": ["affinity", "anti-affinity"]}),
                           ("2.15", {"name": " x", "policies": ["affinity"]}),
                           ("2.15", {"name": "x", "policies": ["affinity"], "rules": {}})):
        status, body, _h = http(api, "/v2.1/os-server-groups", alice, "POST",
                                {"OpenStack-API-Version": "compute " + version, "Content-Type": "application/json"},
                                json.dumps({"server_group": group}).encode())
        assert status == 400 and body["badRequest"]["code"] == 400, (group, body)
    assert _store_rows(api, "server_groups") == before
    for group in (g1, soft):
        openstack(api, "alice", "server", "group", "delete", group["id"], rc=0, output=False)
    assert openstack(api, "alice", "server", "group", "list") == []


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (cryptography, which openstacksdk's clients bring)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "api.pem", directory / "api.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def test_tls_and_two_workers(api: Api) -> None:
    cert, key = _self_signed(api.home)
    port = _free_port()
    url = "https://127.0.0.1:%d" % port
    alone = subprocess.run([str(STRATUS), "api", "--port", str(port), "--cert", str(cert)], capture_output=True,
                           text=True, env=api.env, timeout=120, check=False)
    assert alone.returncode == 2 and "--cert and --key go together" in alone.stderr
    proc = _start(["api", "--port", str(port), "--workers", "2", "--cert", str(cert), "--key", str(key)], api.env,
                  api.home / "api-tls.log", url, cert)
    try:
        argv = [str(OPENSTACK), "--os-cacert", str(cert), "--os-auth-url", url + "/v3", "--os-username", "alice",
                "--os-password", PASSWORDS["alice"], "--os-project-name", "pa", "--os-user-domain-name", "Default",
                "--os-project-domain-name", "Default", "flavor", "list", "-f", "json"]
        listed = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, HOME=str(api.home)),
                                timeout=120, check=False)
        assert listed.returncode == 0, listed.stderr[-2000:]
        assert {f["Name"] for f in json.loads(listed.stdout)} == {"m1.tiny", "m1.big"}
        assert (api.home / "api-tls.log").read_text().count("Started server process") == 2
    finally:
        _stop(proc)


def test_the_servers_log_has_no_password_and_no_traceback(api: Api) -> None:
    # after every other test of this module: the log of all their requests
    text = api.log.read_text()
    assert "token issued: user alice, project pa" in text
    for secret in list(PASSWORDS.values()) + [WRONG]:
        assert secret not in text
    assert "Traceback" not in text
