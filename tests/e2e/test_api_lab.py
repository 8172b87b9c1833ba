"""End-to-end: `stratus api` in front of a lab of real libvirtds, driven by OpenStack's real `openstack` command.

`openstack server create --flavor m1.tiny --image stratus-guest --network demo --wait web` is decided and
claimed by the API at once, built by provision.yml through ansible-runner in a run of its own, and waited for
by the client until ACTIVE; the guest prints its ready line on its hypervisor. `server list` / `show` give
Nova's bodies from the store; another project's user sees none of it and cannot delete it; `server delete
--wait` walks the server back on its hypervisor until the API answers 404.

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

from stratus_lab.console import ready_line
from stratus_lab.paths import ROOT
from stratus_lab.session import LabSession
from wait_helpers import wait_until  # tests/wait_helpers.py

STATE = Path("/tmp/stratus-e2e-api")
PREFIX = "stxe"
SUBNET = "10.230"
VENV_BIN = ROOT / ".venv" / "bin"
STRATUS, OPENSTACK = VENV_BIN / "stratus", VENV_BIN / "openstack"
PASSWORDS = {"alice": "alice-Lab-Pa55-word!", "bob": "bob-Lab-Pa55-word!"}
PROJECTS = {"alice": "demo", "bob": "other"}

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
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=2) as lab:
        env = user_env(home)
        for argv in (["identity", "project", "create", "demo", "--id", "demo"],
                     ["identity", "project", "create", "other", "--id", "other"]):
            subprocess.run([str(STRATUS), *argv], env=env, check=True, capture_output=True, timeout=120)
        for user, password in PASSWORDS.items():
            subprocess.run([str(STRATUS), "identity", "user", "create", user, "--password-file", "-"], input=password,
                           text=True, env=env, check=True, capture_output=True, timeout=120)
            subprocess.run([str(STRATUS), "identity", "role", "add", "member", "--user", user, "--project",
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
    if rc == 0 and args[-1] != "--wait" and args[:2] != ("server", "delete"):
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
    # another project's user: nothing to see, nothing to delete (Nova hides existence)
    assert openstack(api, "bob", "server", "list") == []
    openstack(api, "bob", "server", "show", server_id, rc=1)
    openstack(api, "bob", "server", "delete", server_id, rc=1)

    openstack(api, "alice", "server", "delete", "--wait", "web")
    assert openstack(api, "alice", "server", "list") == []
    assert api.lab.rows("select uuid from instances where uuid = :u and deleted = ''", u=server_id) == []
    domains = api.lab.host(int(host[2:])).in_namespaces("virsh -c qemu:///system list --all --uuid")
    assert server_id not in domains
    log = api.log.read_text()
    assert "Traceback" not in log and PASSWORDS["alice"] not in log
