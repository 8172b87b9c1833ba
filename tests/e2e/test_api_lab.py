"""End-to-end: `stratus api` in front of a lab of real libvirtds, driven by OpenStack's real `openstack` command.

`openstack server create --flavor m1.tiny --image stratus-guest --network demo --wait web` is decided and
claimed by the API at once, built by provision.yml through ansible-runner in a run of its own, and waited for
by the client until ACTIVE; the guest prints its ready line on its hypervisor. `server list` / `show` give
Nova's bodies from the store; another project's user sees none of it and cannot act on or delete it;
`server reboot --hard --wait` reboots it (recorded by the API, its steps in a run of their own); `server
delete --wait` walks the server back on its hypervisor until the API answers 404.

Its own prefix, subnet and state dir (stxe / 10.230); one lab bring-up. Needs root.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import typing as t
import urllib.request
from pathlib import Path

import pytest

from stratus_lab.console import console_log, ready_line
from stratus_lab.paths import ROOT
from stratus_lab.session import LabSession
from wait_helpers import wait_until  # tests/wait_helpers.py

STATE = Path("/tmp/stratus-e2e-api")
PREFIX = "stxe"
SUBNET = "10.230"
VENV_BIN = ROOT / ".venv" / "bin"
STRATUS, OPENSTACK = VENV_BIN / "stratus", VENV_BIN / "openstack"
PASSWORDS = {"alice": "alice-Lab-Pa55-word!", "bob": "bob-Lab-Pa55-word!", "root": "root-Lab-Pa55-word!"}
PROJECTS = {"alice": "demo", "bob": "other", "root": "ops"}
ROLES = {"alice": "member", "bob": "member", "root": "admin"}
MARK = "STRATUS-TEST mark before the reboot"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
    pytest.mark.skipif(not (STRATUS.exists() and OPENSTACK.exists()),
                       reason="the CLI or python-openstackclient is not installed (make setup installs both)"),
]


def user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "STRATUS_", "OS_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "cli"), os.environ.get("PYTHONPATH", "")) if p)
    env["STRATUS_LAB_DIR"] = str(STATE)  # the lab's inventory and store, as `stratus` finds them
    env["HOME"] = str(home)
    return env


class Api(t.NamedTuple):
    url: str
    log: Path
    home: Path
    lab: LabSession


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/v3", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Api]:
    home = tmp_path_factory.mktemp("api-lab")
    shutil.rmtree(STATE / "store", ignore_errors=True)  # the identities of an earlier run go with its store
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=2) as lab:
        env = user_env(home)
        for argv in (["identity", "project", "create", "demo", "--id", "demo"],
                     ["identity", "project", "create", "other", "--id", "other"],
                     ["identity", "project", "create", "ops", "--id", "ops"]):
            subprocess.run([str(STRATUS), *argv], env=env, check=True, capture_output=True, timeout=120)
        for user, password in PASSWORDS.items():
            subprocess.run([str(STRATUS), "identity", "user", "create", user, "--password-file", "-"], input=password,
                           text=True, env=env, check=True, capture_output=True, timeout=120)
            subprocess.run([str(STRATUS), "identity", "role", "add", ROLES[user], "--user", user, "--project",
                            PROJECTS[user]], env=env, check=True, capture_output=True, timeout=120)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        url = "http://127.0.0.1:%d" % port
        log = home / "api.log"
        with log.open("w") as out:
            proc = subprocess.Popen([str(STRATUS), "api", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True)
        try:
            wait_until(lambda: proc.poll() is not None or _answers(url), "stratus api to answer on " + url)
            assert proc.poll() is None, log.read_text()[-3000:]
            yield Api(url, log, home, lab)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


def openstack(api: Api, user: str, *args: str, rc: int = 0, timeout: float = 900) -> t.Any:
    argv = [str(OPENSTACK), "--os-auth-url", api.url + "/v3", "--os-identity-api-version", "3",
            "--os-username", user, "--os-password", PASSWORDS[user], "--os-project-name", PROJECTS[user],
            "--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
            "--os-region-name", "RegionOne", *args]
    if rc == 0 and {"list", "show"} & set(args[:3]):  # the commands that print a document
        argv += ["-f", "json"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=user_env(api.home), timeout=timeout, check=False)
    assert proc.returncode == rc, "rc %s: %s\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:],
                                                         api.log.read_text()[-3000:])
    return json.loads(proc.stdout) if rc == 0 and "-f" in argv else proc


def test_openstack_server_create_wait_builds_the_guest_and_delete_wait_removes_it(api: Api) -> None:
    created = openstack(api, "alice", "server", "create", "--flavor", "m1.tiny", "--image", "stratus-guest",
                        "--network", "demo", "-f", "json", "web", "--wait")
    assert created["status"] == "ACTIVE", created
    server_id = created["id"]
    ((host,),) = [tuple(r) for r in api.lab.rows("select host from instances where uuid = :u", u=server_id)]
    assert ready_line(STATE, server_id, host), "the guest printed no ready line"

    listed = openstack(api, "alice", "server", "list")
    assert [(s["ID"], s["Name"], s["Status"]) for s in listed] == [(server_id, "web", "ACTIVE")]
    shown = openstack(api, "alice", "server", "show", "web")
    assert shown["id"] == server_id and shown["OS-EXT-STS:vm_state"] == "active"
    assert shown["OS-EXT-STS:power_state"] in ("Running", 1)
    assert "demo" in json.dumps(shown["addresses"])
    # another project's user: nothing to see, nothing to act on or delete (Nova hides existence)
    assert openstack(api, "bob", "server", "list") == []
    openstack(api, "bob", "server", "show", server_id, rc=1)
    openstack(api, "bob", "server", "reboot", "--hard", server_id, rc=1)
    openstack(api, "bob", "server", "delete", server_id, rc=1)

    # a hard reboot through the API: QEMU starts anew (its console log truncated: the mark gone), the guest
    # prints its ready line again, and the client's --wait sees ACTIVE
    log = console_log(STATE, server_id, host)
    with log.open("a") as fp:
        fp.write(MARK + "\n")
    openstack(api, "alice", "server", "reboot", "--hard", "--wait", "web")
    wait_until(lambda: MARK not in log.read_text(errors="replace") and ready_line(STATE, server_id, host, timeout=1),
               "the guest to boot again", timeout=300, interval=1)
    assert openstack(api, "alice", "server", "show", "web")["status"] == "ACTIVE"
    actions = [tuple(r) for r in api.lab.rows("select action from instance_actions where instance_uuid = :u "
                                              "order by id", u=server_id)]
    assert actions == [("create",), ("reboot",)]
    events = openstack(api, "alice", "server", "event", "list", "web")
    assert sorted(e["Action"] for e in events) == ["create", "reboot"]

    openstack(api, "alice", "server", "delete", "--wait", "web")
    assert openstack(api, "alice", "server", "list") == []
    assert api.lab.rows("select uuid from instances where uuid = :u and deleted = ''", u=server_id) == []
    domains = api.lab.host(int(host[2:])).in_namespaces("virsh -c qemu:///system list --all --uuid")
    assert server_id not in domains
    log = api.log.read_text()
    assert "Traceback" not in log and PASSWORDS["alice"] not in log


def test_an_openstacksdk_script_creates_two_servers_and_deletes_them(api: Api) -> None:
    """openstacksdk as a script uses it: find the flavor, image and network by name, create with min/max count
    (Nova's multiple create: web2-1, web2-2), wait for ACTIVE, read them back, delete and wait for the 404."""
    import openstack as sdk

    conn = sdk.connect(auth_url=api.url + "/v3", username="alice", password=PASSWORDS["alice"], project_name="demo",
                       user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
                       identity_api_version="3", load_yaml_config=False, load_envvars=False)
    try:
        flavor, image = conn.compute.find_flavor("m1.tiny"), conn.image.find_image("stratus-guest")
        network = conn.network.find_network("demo")
        first = conn.compute.create_server(name="web2", flavor_id=flavor.id, image_id=image.id,
                                           networks=[{"uuid": network.id}], min_count=2, max_count=2,
                                           metadata={"made-by": "openstacksdk"})
        servers = sorted(conn.compute.servers(name="^web2-"), key=lambda s: s.name)
        assert [s.name for s in servers] == ["web2-1", "web2-2"] and first.id in [s.id for s in servers]
        for server in servers:
            done = conn.compute.wait_for_server(server, status="ACTIVE", wait=600, interval=2)
            assert done.metadata == {"made-by": "openstacksdk"} and done.flavor.original_name == "m1.tiny"
            ((host,),) = [tuple(r) for r in api.lab.rows("select host from instances where uuid = :u", u=server.id)]
            assert ready_line(STATE, server.id, host), "%s printed no ready line" % server.name
        ips = [addr["addr"] for s in servers for addr in conn.compute.get_server(s.id).addresses["demo"]]
        assert len(set(ips)) == 2
        for server in servers:
            conn.compute.delete_server(server)
        for server in servers:
            conn.compute.wait_for_delete(server, interval=2, wait=600)
        assert list(conn.compute.servers()) == []
    finally:
        conn.close()


def test_quota_show_and_hypervisor_list(api: Api) -> None:
    """The inventory's quotas (the demo catalog: 10 instances) with the store's usage (the servers above are
    gone), and the lab's hypervisors as the admin sees them."""
    quota = {row["Resource"]: row for row in openstack(api, "alice", "quota", "show", "--compute", "--usage")}
    assert (quota["instances"]["Limit"], quota["instances"]["In Use"]) == (10, 0)
    hypervisors = openstack(api, "root", "hypervisor", "list")
    assert sorted(h["Hypervisor Hostname"] for h in hypervisors) == ["hv1", "hv2"]
    assert {h["State"] for h in hypervisors} == {"up"}
    openstack(api, "alice", "hypervisor", "list", rc=1)  # admin only
