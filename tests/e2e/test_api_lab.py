"""End-to-end: `stratus api` in front of a lab of real libvirtds, driven by OpenStack's real `openstack` command.

`openstack server create --flavor m1.tiny --image stratus-guest --network demo --wait web` is decided and
claimed by the API at once, built by provision.yml through ansible-runner in a run of its own, and waited for
by the client until ACTIVE; the guest prints its ready line on its hypervisor. `server list` / `show` give
Nova's bodies from the store; another project's user sees none of it and cannot act on or delete it;
`server reboot --hard --wait` reboots it (recorded by the API, its steps in a run of their own); `server
delete --wait` walks the server back on its hypervisor until the API answers 404.

The dashboard in the same lab, in Debian's chromium (lab/stratus_lab/browser.py): a member launches two
instances with Launch Instance (an over-quota count refused at the count field first) and watches the table
follow them to ACTIVE; a detail shows the action log and the console log shows the guest's ready line; a
stop and a start through the row actions (the guest boots again); another project's member sees none of it;
the admin sees the hypervisors' usage; a form without its CSRF token changes nothing; the deletes empty the
hypervisors. Screenshots in tests/output/.

Its own prefix, subnet and state dir (stxe / 10.230); one lab bring-up. Needs root.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import typing as t
import urllib.error
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


def _dashboard_log_in(page: t.Any, api: Api, user: str) -> None:
    page.goto(api.url + "/dashboard/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_label("Project").fill(PROJECTS[user])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(api.url + "/dashboard/")


def _launch_form(page: t.Any, api: Api, name: str, count: int) -> None:
    page.goto(api.url + "/dashboard/launch")
    page.locator("#name").fill(name)
    page.locator("#count").fill(str(count))
    page.select_option("#image", label="stratus-guest")
    page.locator('#flavors tr[data-flavor="m1.tiny"] input[type=radio]').check()
    page.locator("#section-networks label", has_text="demo").locator("input").check()
    page.locator("#launch").click()
    page.wait_for_load_state()


def _row_action(page: t.Any, server_id: str, label: str) -> None:
    """A row action of the instances table, its confirm dialog accepted."""
    row = page.locator("#instance-" + server_id)
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("summary").click()
    row.get_by_role("button", name=label, exact=True).click()
    page.wait_for_url(re.compile(r".*/dashboard/instances\?notice=[a-z_-]+$"))


def test_the_dashboard_launches_follows_acts_on_and_deletes_instances_in_a_browser(api: Api) -> None:
    from playwright.sync_api import expect

    from stratus_lab import browser

    build = 600_000  # ms: two builds on a busy machine
    with browser.chromium() as chromium:
        context, page, errors = browser.watched_page(chromium, browser.DESKTOP)
        _dashboard_log_in(page, api, "alice")
        # Launch Instance: 11 is past the demo project's 10 instances, refused at the count field, nothing made
        _launch_form(page, api, "dash", 11)
        expect(page.locator("#error-count")).to_contain_text("Quota exceeded")
        browser.screenshot(page, "dashboard-lab-launch-over-quota")
        assert api.lab.rows("select uuid from instances where deleted = ''") == []
        _launch_form(page, api, "dash", 2)
        expect(page.locator("#launched")).to_be_visible()
        # the table follows both builds to ACTIVE by itself (instances.js polls while a row is changing)
        page.get_by_role("link", name="Instances", exact=True).click()
        rows = page.locator("#instance-rows tr[data-status]")
        expect(rows).to_have_count(2, timeout=60_000)
        ids = {page.locator("#instance-rows tr[data-status]").nth(i).locator(".instance-name").inner_text():
               str(page.locator("#instance-rows tr[data-status]").nth(i).get_attribute("id"))[len("instance-"):]
               for i in range(2)}
        assert sorted(ids) == ["dash-1", "dash-2"]
        for server_id in ids.values():
            expect(page.locator("#instance-%s .status" % server_id)).to_have_text("ACTIVE", timeout=build)
        hosts = {}
        for name, server_id in ids.items():
            ((host,),) = [tuple(r) for r in api.lab.rows("select host from instances where uuid = :u", u=server_id)]
            hosts[name] = host
            assert ready_line(STATE, server_id, host), "%s printed no ready line" % name
        expect(page.locator("#instance-rows")).to_have_attribute("data-transitional", "false", timeout=60_000)
        browser.screenshot(page, "dashboard-lab-instances")
        first = ids["dash-1"]

        # the detail: its action log, then the console log with the guest's ready line (read on its hypervisor)
        page.locator("#instance-" + first).get_by_role("link", name="dash-1").click()
        expect(page.locator("#action-log tbody tr").first).to_have_attribute("data-action", "create")
        browser.screenshot(page, "dashboard-lab-instance-detail")
        page.locator("#console-link").click()
        expect(page.locator("#console-output")).to_contain_text("STRATUS-GUEST ready", timeout=120_000)
        browser.screenshot(page, "dashboard-lab-console")

        # another project's member sees none of it; the admin sees the hypervisors' usage (two m1.tiny)
        other, other_page, other_errors = browser.watched_page(chromium, browser.DESKTOP)
        _dashboard_log_in(other_page, api, "bob")
        other_page.goto(api.url + "/dashboard/instances")
        assert "dash-" not in other_page.content() and "No instances yet." in other_page.content()
        reply = other_page.goto(api.url + "/dashboard/instances/" + first)
        assert reply is not None and reply.status == 404 and "dash-1" not in other_page.content()
        other.close()
        admin, admin_page, admin_errors = browser.watched_page(chromium, browser.DESKTOP)
        _dashboard_log_in(admin_page, api, "root")
        admin_page.goto(api.url + "/dashboard/admin/hypervisors")
        usage = admin_page.locator("#hypervisors").inner_text()
        used = sum(int(n) for n in re.findall(r"vCPUs: (\d+) of", usage))
        assert used == 2 and "hv1" in usage and "hv2" in usage, usage
        browser.screenshot(admin_page, "dashboard-lab-admin-hypervisors")
        admin.close()

        # a form without its CSRF token (what another site's page would send with the cookie): nothing done
        cookie = [c for c in context.cookies() if c["name"] == "stratus_session"][0]["value"]
        forged = urllib.request.Request(api.url + "/dashboard/instances/%s/action" % first, method="POST",
                                        data=b"action=stop&back=list",
                                        headers={"Cookie": "stratus_session=" + cookie,
                                                 "Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(forged, timeout=60)
            raise AssertionError("a form without its CSRF token was taken")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
        assert [tuple(r) for r in api.lab.rows("select action from instance_actions where instance_uuid = :u",
                                               u=first)] == [("create",)]

        # stop and start through the row actions: SHUTOFF, then ACTIVE with the guest booted again
        page.goto(api.url + "/dashboard/instances")
        _row_action(page, first, "Stop")
        expect(page.locator("#instance-%s .status" % first)).to_have_text("SHUTOFF", timeout=build)
        log = console_log(STATE, first, hosts["dash-1"])
        with log.open("a") as fp:
            fp.write(MARK + "\n")
        _row_action(page, first, "Start")
        expect(page.locator("#instance-%s .status" % first)).to_have_text("ACTIVE", timeout=build)
        wait_until(lambda: MARK not in log.read_text(errors="replace")
                   and ready_line(STATE, first, hosts["dash-1"], timeout=1), "dash-1 to boot again", timeout=300,
                   interval=1)

        # delete both: the table empties, the domains are gone from their hypervisors
        for server_id in ids.values():
            _row_action(page, server_id, "Delete")
        expect(page.locator("#instance-rows")).to_contain_text("No instances yet.", timeout=build)
        for name, server_id in ids.items():
            domains = api.lab.host(int(hosts[name][2:])).in_namespaces("virsh -c qemu:///system list --all --uuid")
            assert server_id not in domains
        assert errors == [] and other_errors == [] and admin_errors == []
        context.close()
    log_text = api.log.read_text()
    assert "Traceback" not in log_text and PASSWORDS["alice"] not in log_text
