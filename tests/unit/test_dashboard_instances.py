"""The dashboard's Instances pages through `stratus api`'s application in process (stratus_lab.asgi.Browser; no
server, no browser, no lab: the runs the API hands builds and actions to are recorded, not started): the table
(names, image, IPs, flavor, power words, host for an admin only), its filter, sort and pages, the tbody fragment
it polls, the row actions through the API (CSRF refused, a state that no longer fits shown as the API's 409),
the detail with its action log and a failed build's fault, and another project's server as the API's 404.
The real browser: tests/integration/test_dashboard_instances_browser.py."""
from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest

from stratus_cli.api import app as api_app, identity, runs
from stratus_cli.dashboard import client, instances
from stratus_lab.asgi import Browser, request

from ansible_collections.stratus.compute.plugins.plugin_utils.resources import compute_services
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances as instance_rows

IMAGE = "0b7f2e4c-1f2d-4a3e-9a55-3d1c2b4a5e60"
OTHER_IMAGE = "7c1d9e2a-5b3f-4c6d-8e9f-0a1b2c3d4e5f"
NETWORK = "5d8c7a40-0e0b-4f35-9a62-6a3f1b2c7d10"
VARIABLES = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1},
                        {"id": "2", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 2}],
    "stratus_images": [{"id": IMAGE, "name": "cirros", "disk_format": "qcow2"},
                       {"id": OTHER_IMAGE, "name": "debian", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": NETWORK, "name": "net1", "cidr": "10.77.0.0/24"}],
    "stratus_quotas": {"defaults": {"instances": 10, "cores": 100, "ram": 512000}},
}
CAPACITY = {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40,
            "stratus_cpu_allocation_ratio": 1.0, "stratus_ram_allocation_ratio": 1.0,
            "stratus_disk_allocation_ratio": 1.0}
USERS = {"alice": ("pa", "member"), "bob": ("pb", "member"), "root": ("ops", "admin")}
PASSWORD = "a-password-long-enough"


class Cloud(t.NamedTuple):
    app: t.Any
    store_url: str
    launched: list[dict[str, t.Any]]

    def create(self, user: str, name: str, **extra: t.Any) -> str:
        """A server through the API's POST /servers (claimed at once; its build run recorded, not started)."""
        with store.transaction(self.store_url) as conn:
            token = str(identity.issue_token(conn, identity.user_by_name_or_none(conn, None, user),
                                             identity.find_project(conn, USERS[user][0])).secret)
        body = {"server": dict({"name": name, "flavorRef": "1", "imageRef": IMAGE, "networks": [{"uuid": NETWORK}]},
                               **extra)}
        reply = request(self.app, "POST", "/v2.1/servers", {"x-auth-token": token, "content-type": "application/json"},
                        json.dumps(body).encode())
        assert reply.status == 202, reply.text
        return str(reply.json()["server"]["id"])

    def set_state(self, server_id: str, **values: t.Any) -> None:
        with store.transaction(self.store_url) as conn:
            conn.execute(instance_rows.update().where(instance_rows.c.uuid == server_id).values(**values))

    def row(self, server_id: str) -> t.Any:
        with store.transaction(self.store_url) as conn:
            return conn.execute(instance_rows.select().where(instance_rows.c.uuid == server_id)).one()


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    launched: list[dict[str, t.Any]] = []

    def launch(inventories: list[str], store_url: str, caller: t.Any, playbook: str, extravars: dict[str, t.Any],
               what: str) -> int:
        launched.append({"playbook": playbook, "extravars": extravars})
        return 0

    monkeypatch.setattr(runs, "launch", launch)
    store_url = "sqlite:///%s" % (tmp_path / "s.db")
    with store.transaction(store_url) as conn:
        for project in ("pa", "pb", "ops"):
            identity.create_project(conn, project, project)
        for user, (project, role) in USERS.items():
            identity.create_user(conn, user, PASSWORD)
            identity.add_role(conn, user, project, role)
    # the live migration's pre-check wants each hypervisor reachable for libvirt
    hostvars = {hv: dict(CAPACITY, stratus_migration_uri="qemu+tcp://%s/system" % hv, stratus_migration_address=address)
                for hv, address in (("hv1", "192.0.2.1"), ("hv2", "192.0.2.2"))}
    config = api_app.Config(store_url=store_url, variables=VARIABLES, inventories=["hosts.yml"],
                            hypervisors=["hv1", "hv2"], hostvars=hostvars)
    return Cloud(api_app.build_app(config), store_url, launched)


def browser_of(cloud: Cloud, user: str) -> Browser:
    browser = Browser(cloud.app)
    browser.log_in(user, PASSWORD, USERS[user][0])
    return browser


def row_names(page: str) -> list[str]:
    return re.findall(r'class="instance-name">([^<]*)<', page)


def test_the_table_shows_the_projects_servers_as_horizon(cloud: Cloud) -> None:
    web = cloud.create("alice", "web")
    db = cloud.create("alice", "db")
    cloud.set_state(db, vm_state="active", task_state=None, power_state="running")
    cloud.create("bob", "bobs")
    page = browser_of(cloud, "alice").get("/dashboard/instances")
    assert page.status == 200 and row_names(page.text) == ["db", "web"]  # newest first
    assert "bobs" not in page.text
    db_row = page.text.split('id="instance-%s"' % db)[1].split("</tr>")[0]
    assert ">cirros<" in db_row and ">m1.tiny<" in db_row and re.search(r'class="ip">10\.77\.0\.\d+<', db_row)
    assert 'status-active">ACTIVE<' in db_row and 'class="power">Running<' in db_row
    assert 'data-action="stop"' in db_row and 'data-action="start"' not in db_row
    web_row = page.text.split('id="instance-%s"' % web)[1].split("</tr>")[0]
    assert 'class="task">scheduling<' in web_row or 'class="task">None<' in web_row
    assert 'status-build">BUILD<' in web_row and 'class="power">NOSTATE<' in web_row
    assert 'data-action="delete"' in web_row and 'data-action="stop"' not in web_row
    # a BUILD row: the table polls its tbody; the host column is an admin's only
    assert 'data-transitional="true"' in page.text and 'data-rows-url="/dashboard/instances/rows"' in page.text
    assert ">Host<" not in page.text and 'class="host"' not in page.text
    assert '<script src="/dashboard/static/instances.js" defer></script>' in page.text
    cloud.create("root", "ops1")
    admin = browser_of(cloud, "root").get("/dashboard/instances")
    assert re.search(r'class="host">hv[12]<', admin.text) and 'data-sort="host"' in admin.text


def test_the_rows_fragment_is_the_tbody_alone_and_stops_the_polling_when_nothing_changes(cloud: Cloud) -> None:
    server = cloud.create("alice", "web")
    browser = browser_of(cloud, "alice")
    rows = browser.get("/dashboard/instances/rows?sort=name&dir=asc")
    assert rows.status == 200 and rows.text.lstrip().startswith("<tbody") and "<html" not in rows.text
    assert 'data-transitional="true"' in rows.text and "sort=name&amp;dir=asc" in rows.text
    cloud.set_state(server, vm_state="active", task_state=None, power_state="running")
    assert 'data-transitional="false"' in browser.get("/dashboard/instances/rows").text
    cloud.set_state(server, task_state="powering-off")  # a task under way: changing again
    assert 'data-transitional="true"' in browser.get("/dashboard/instances/rows").text
    # without a session: the login page (instances.js stops on the redirect)
    assert Browser(cloud.app).get("/dashboard/instances/rows").status == 303


def test_filter_sort_and_pages(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = {name: cloud.create("alice", name) for name in ("web-b", "web-a", "db")}
    cloud.set_state(ids["db"], vm_state="active", task_state=None, power_state="running")
    browser = browser_of(cloud, "alice")
    assert row_names(browser.get("/dashboard/instances?name=web").text) == ["web-a", "web-b"]
    assert row_names(browser.get("/dashboard/instances?status=ACTIVE").text) == ["db"]
    assert row_names(browser.get("/dashboard/instances?sort=name&dir=asc").text) == ["db", "web-a", "web-b"]
    page = browser.get("/dashboard/instances?sort=name&dir=asc")
    assert 'aria-sort="ascending"' in page.text and 'href="/dashboard/instances?sort=name&amp;dir=desc"' in page.text
    # the API's name rule: its message at the name field, an empty table, no error page
    page = browser.get("/dashboard/instances?name=%28a%2B%29%2B")
    assert page.status == 200 and 'id="name-error"' in page.text and "Invalid filter name" in page.text
    assert row_names(page.text) == [] and 'aria-invalid="true"' in page.text
    page = browser.get("/dashboard/instances?status=NOPE")
    assert 'id="status-error"' in page.text and row_names(page.text) == ["db", "web-a", "web-b"]
    page = browser.get("/dashboard/instances?sort=host")  # an admin's column
    assert 'id="sort-error"' in page.text and row_names(page.text) == ["db", "web-a", "web-b"]
    page = browser.get("/dashboard/instances?name=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    # pages of the API's limit and marker
    monkeypatch.setattr(instances, "PAGE_SIZE", 2)
    first = browser.get("/dashboard/instances?sort=name&dir=asc")
    assert row_names(first.text) == ["db", "web-a"]
    following = re.search(r'href="([^"]+)" id="next-page"', first.text)
    assert following and "marker=" + ids["web-a"] in following.group(1)
    second = browser.get(following.group(1).replace("&amp;", "&"))
    assert row_names(second.text) == ["web-b"] and 'id="next-page"' not in second.text
    assert 'id="first-page"' in second.text


def test_row_actions_go_through_the_api_with_csrf_and_a_lost_race_is_its_409(cloud: Cloud) -> None:
    server = cloud.create("alice", "web")
    cloud.set_state(server, vm_state="active", task_state=None, power_state="running")
    browser = browser_of(cloud, "alice")
    path = "/dashboard/instances/%s/action" % server
    # without the session's CSRF token: 403, nothing recorded
    before = len(cloud.launched)
    reply = browser.post(path, {"action": "stop"})
    assert reply.status == 403 and "CSRF" in reply.text and cloud.row(server).task_state is None
    reply = browser.post(path, {"action": "stop", "back": "list"}, csrf_from="/dashboard/instances")
    assert reply.status == 303 and reply.location == "/dashboard/instances?notice=stop"
    assert cloud.row(server).task_state == "powering-off" and cloud.launched[-1]["playbook"] == "action_steps_for.yml"
    assert len(cloud.launched) == before + 1
    page = browser.get(reply.location)
    assert 'id="notice">Stop requested.<' in page.text
    assert 'class="task">powering-off<' in page.text and 'data-transitional="true"' in page.text
    # a start from a page shown before the stop: the API's 409 (InstanceInvalidState), shown with a way back
    reply = browser.post(path, {"action": "start", "back": "detail"}, csrf_from="/dashboard/instances")
    assert reply.status == 409 and "Cannot" in reply.text and 'href="/dashboard/instances/%s"' % server in reply.text
    assert len(cloud.launched) == before + 1
    # a soft and a hard reboot, from the detail back to it
    cloud.set_state(server, vm_state="active", task_state=None)
    reply = browser.post(path, {"action": "reboot", "back": "detail"}, csrf_from="/dashboard/instances")
    assert reply.location == "/dashboard/instances/%s?notice=reboot" % server
    assert cloud.row(server).task_state == "rebooting"
    reply = browser.post(path, {"action": "hard-reboot"}, csrf_from="/dashboard/instances")
    assert reply.status == 303 and cloud.row(server).task_state == "rebooting_hard"
    # no such action: refused before any call; a free-text notice is never echoed
    assert browser.post(path, {"action": "os-stop"}, csrf_from="/dashboard/instances").status == 400
    assert "hello" not in browser.get("/dashboard/instances?notice=hello").text
    reply = browser.post(path, {"action": "delete", "back": "detail"}, csrf_from="/dashboard/instances")
    assert reply.location == "/dashboard/instances?notice=delete"
    assert cloud.row(server).task_state == "deleting" or cloud.row(server).deleted != ""


def test_actions_offered_by_state() -> None:
    def names(vm_state: str, task_state: t.Optional[str] = None) -> list[str]:
        return [a["name"] for a in instances.offered({"name": "x", "OS-EXT-STS:vm_state": vm_state,
                                                      "OS-EXT-STS:task_state": task_state})]

    assert names("active") == ["stop", "reboot", "hard-reboot", "delete"]
    assert names("stopped") == ["start", "hard-reboot", "delete"]
    assert names("error") == ["stop", "hard-reboot", "delete"]
    assert names("resized") == ["confirm-resize", "revert-resize", "delete"]
    assert names("active", "rebooting") == ["hard-reboot", "delete"]
    assert names("building", "scheduling") == ["delete"]
    assert names("active", "deleting") == []


def test_the_detail_shows_the_overview_the_action_log_and_a_failed_builds_fault(cloud: Cloud) -> None:
    server = cloud.create("alice", "web<b>", metadata={"role": "<img src=x onerror=alert(1)>"})
    cloud.set_state(server, vm_state="error", task_state=None, power_state="nostate",
                    fault={"code": "NoValidHost", "message": "No valid host was found. There are not enough hosts",
                           "details": "secret detail"})
    page = browser_of(cloud, "alice").get("/dashboard/instances/" + server)
    assert page.status == 200
    assert 'id="instance-name">web&lt;b&gt;<' in page.text and "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text  # metadata, escaped
    assert 'id="fault-message">No valid host was found. There are not enough hosts<' in page.text
    assert re.search(r"Code \d{3}, at 20", page.text) and "secret detail" not in page.text  # details: an admin's
    assert "(1 vCPU, 256 MB RAM, 1 GB disk)" in page.text and ">cirros<" in page.text
    assert 'id="status">ERROR<' in page.text and 'id="power-state">NOSTATE<' in page.text
    assert re.search(r"<td>net1</td><td>10\.77\.0\.\d+</td>", page.text)
    log = page.text.split('id="action-log"')[1]
    assert 'data-action="create"' in log and 'class="event-name">conductor_schedule_and_build_instances<' in log
    assert 'href="/dashboard/instances/%s/console" id="console-link"' % server in page.text
    assert 'data-action="stop"' in page.text and 'name="back" value="detail"' in page.text
    assert 'id="host"' not in page.text


def test_another_projects_server_is_the_apis_404_and_nothing_of_it(cloud: Cloud) -> None:
    server = cloud.create("alice", "secret-web")
    cloud.set_state(server, vm_state="active", task_state=None, power_state="running")
    bob = browser_of(cloud, "bob")
    page = bob.get("/dashboard/instances/" + server)
    assert page.status == 404 and "could not be found" in page.text and "secret-web" not in page.text
    reply = bob.post("/dashboard/instances/%s/action" % server, {"action": "stop"}, csrf_from="/dashboard/instances")
    assert reply.status == 404 and cloud.row(server).task_state is None
    reply = bob.post("/dashboard/instances/%s/action" % server, {"action": "delete"}, csrf_from="/dashboard/instances")
    assert reply.status == 404 and cloud.row(server).deleted == ""
    assert "secret-web" not in bob.get("/dashboard/instances").text
    assert bob.get("/dashboard/instances/..%2F..%2Fos-keypairs").status == 404
    assert bob.get("/dashboard/instances/not:an:id").status == 404


def sent_actions(monkeypatch: pytest.MonkeyPatch) -> list[t.Any]:
    """The bodies the dashboard sends to POST /v2.1/servers/{id}/action, as they reach the API's application."""
    bodies: list[t.Any] = []
    real = client.call

    async def call(request: t.Any, method: str, path: str, *args: t.Any, **kw: t.Any) -> client.Reply:
        if method == "POST" and path.endswith("/action"):
            bodies.append(args[1] if len(args) > 1 else kw.get("body"))
        return await real(request, method, path, *args, **kw)

    monkeypatch.setattr(client, "call", call)
    return bodies


def active_server(cloud: Cloud, user: str, name: str) -> tuple[str, Browser, str]:
    """An ACTIVE server of the user's, the user's browser and the server's detail page."""
    server = cloud.create(user, name)
    cloud.set_state(server, vm_state="active", task_state=None, power_state="running", host="hv1")
    return server, browser_of(cloud, user), "/dashboard/instances/" + server


def changes_offered(page: str) -> list[str]:
    return re.findall(r'data-change="([a-z-]+)"', page)


def test_changes_offered_by_state_and_role() -> None:
    def names(vm_state: str, task_state: t.Optional[str] = None, admin: bool = False, **extra: t.Any) -> list[str]:
        return instances.offered_changes(dict({"OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:task_state": task_state},
                                              **extra), admin)

    assert names("active") == ["rebuild", "resize"]
    assert names("active", admin=True) == ["rebuild", "resize", "migrate", "live-migrate"]
    assert names("active", admin=True, host_status="DOWN") == ["rebuild", "resize", "migrate", "live-migrate",
                                                               "evacuate"]
    assert names("stopped", admin=True, host_status="UP") == ["rebuild", "resize", "migrate"]
    assert names("error") == ["rebuild"]
    assert names("resized", admin=True) == [] and names("active", "rebooting", admin=True) == []
    assert names("building", "scheduling") == []


def test_rebuild_and_resize_forms_send_the_apis_bodies_and_show_a_refusal_at_the_field(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    server, browser, detail = active_server(cloud, "alice", "web")
    path = detail + "/change"
    page = browser.get(detail)
    assert changes_offered(page.text) == ["rebuild", "resize"]
    resize_form = page.text.split('id="change-resize"')[1].split("</form>")[0]
    assert '<option value="2">m1.small</option>' in resize_form and "m1.tiny" not in resize_form  # not the current
    rebuild_form = page.text.split('id="change-rebuild"')[1].split("</form>")[0]
    assert ">cirros<" in rebuild_form and ">debian<" in rebuild_form and "data-confirm=" in page.text
    bodies = sent_actions(monkeypatch)
    # without the session's CSRF token: 403, nothing sent
    reply = browser.post(path, {"action": "rebuild", "image": OTHER_IMAGE})
    assert reply.status == 403 and "CSRF" in reply.text and bodies == [] and cloud.row(server).task_state is None
    # a wrong image or flavor id: the API's 400 at the field, the detail again, nothing changed
    before = len(cloud.launched)
    reply = browser.post(path, {"action": "rebuild", "image": "no-such-image"}, csrf_from=detail)
    assert reply.status == 400 and 'id="error-rebuild"' in reply.text
    assert 'id="change-rebuild-image" aria-invalid="true"' in reply.text and 'id="instance-name">web<' in reply.text
    reply = browser.post(path, {"action": "resize", "flavor": "99"}, csrf_from=detail)
    assert reply.status == 400 and re.search(r'id="error-resize" role="alert">Flavor 99 could not be found', reply.text)
    assert bodies == [{"rebuild": {"imageRef": "no-such-image"}}, {"resize": {"flavorRef": "99"}}]
    assert len(cloud.launched) == before and cloud.row(server).task_state is None
    # the rebuild: the API's body, the detail with its notice, the server rebuilding from the new image
    reply = browser.post(path, {"action": "rebuild", "image": OTHER_IMAGE}, csrf_from=detail)
    assert reply.status == 303 and reply.location == detail + "?notice=rebuild"
    assert bodies[-1] == {"rebuild": {"imageRef": OTHER_IMAGE}} and cloud.row(server).task_state == "rebuilding"
    recorded = cloud.launched[-1]["extravars"]["stratus_recorded_actions"][0]
    assert recorded["action"] == "rebuild" and recorded["server"]["image"] == OTHER_IMAGE
    page = browser.get(reply.location)
    assert 'id="notice">Rebuild requested.<' in page.text and changes_offered(page.text) == []  # rebuilding
    # the resize from a page shown before: the API's 409, at the resize's field... no longer offered: at the top
    reply = browser.post(path, {"action": "resize", "flavor": "2"}, csrf_from=detail)
    assert reply.status == 409 and 'id="change-error"' in reply.text and "Cannot" in reply.text
    cloud.set_state(server, vm_state="active", task_state=None)
    reply = browser.post(path, {"action": "resize", "flavor": "2"}, csrf_from=detail)
    assert reply.status == 303 and reply.location == detail + "?notice=resize"
    assert bodies[-1] == {"resize": {"flavorRef": "2"}} and cloud.row(server).task_state == "resize_prep"
    # no such change, and another project's server: refused, nothing sent
    assert browser.post(path, {"action": "resize-now", "flavor": "2"}, csrf_from=detail).status == 400
    bobs = cloud.create("bob", "bobs")
    reply = browser.post("/dashboard/instances/%s/change" % bobs, {"action": "resize", "flavor": "2"},
                         csrf_from=detail)
    assert reply.status == 404 and "bobs" not in reply.text and len(bodies) == 6  # the API's 404


def test_admin_changes_migrate_live_migrate_and_evacuate(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    server, admin, detail = active_server(cloud, "root", "ops1")
    path = detail + "/change"
    page = admin.get(detail)
    assert changes_offered(page.text) == ["rebuild", "resize", "migrate", "live-migrate"]  # hv1 is up: no evacuate
    migrate_form = page.text.split('id="change-migrate"')[1].split("</form>")[0]
    assert '<option value="">Chosen by the scheduler</option><option value="hv2">hv2</option>' in migrate_form
    assert ">hv1<" not in migrate_form  # not its own host
    bodies = sent_actions(monkeypatch)
    reply = admin.post(path, {"action": "live-migrate", "host": ""}, csrf_from=detail)
    assert reply.status == 303 and reply.location == detail + "?notice=live-migrate"
    assert bodies[-1] == {"os-migrateLive": {"host": None, "block_migration": "auto"}}
    assert cloud.row(server).task_state == "migrating"
    cloud.set_state(server, task_state=None)
    reply = admin.post(path, {"action": "migrate", "host": "hv2"}, csrf_from=detail)
    assert reply.status == 303 and bodies[-1] == {"migrate": {"host": "hv2"}}
    assert cloud.row(server).task_state == "resize_prep"
    cloud.set_state(server, task_state=None)
    reply = admin.post(path, {"action": "migrate", "host": ""}, csrf_from=detail)
    assert reply.status == 303 and bodies[-1] == {"migrate": None}
    # a host the API refuses: its 400 at the host field
    cloud.set_state(server, task_state=None)
    reply = admin.post(path, {"action": "live-migrate", "host": "hv2;rm"}, csrf_from=detail)
    assert reply.status == 400 and 'id="error-live-migrate"' in reply.text and "host" in reply.text
    # evacuate: offered once the server's host is forced down
    with store.transaction(cloud.store_url) as conn:
        compute_services.set_forced_down(conn, "hv1", True, "test")
    page = admin.get(detail)
    assert changes_offered(page.text)[-1] == "evacuate"
    reply = admin.post(path, {"action": "evacuate", "host": "hv2"}, csrf_from=detail)
    assert reply.status == 303 and reply.location == detail + "?notice=evacuate"
    assert bodies[-1] == {"evacuate": {"host": "hv2"}} and cloud.row(server).task_state == "rebuilding"
    assert 'id="notice">Evacuation requested.<' in admin.get(reply.location).text


def test_admin_changes_are_not_offered_to_a_member_and_the_apis_403_is_shown(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    server, member, detail = active_server(cloud, "alice", "web")
    page = member.get(detail)
    assert not {"migrate", "live-migrate", "evacuate"} & set(changes_offered(page.text))
    bodies = sent_actions(monkeypatch)
    for action, body in (("migrate", {"migrate": {"host": "hv2"}}),
                         ("live-migrate", {"os-migrateLive": {"host": "hv2", "block_migration": "auto"}}),
                         ("evacuate", {"evacuate": {"host": "hv2"}})):
        reply = member.post(detail + "/change", {"action": action, "host": "hv2"}, csrf_from=detail)
        assert reply.status == 403 and bodies[-1] == body
        assert re.search(r'id="change-error">Policy doesn&#39;t allow [a-z_:-]+ to be performed', reply.text)
    assert cloud.row(server).task_state is None
