"""The dashboard's Admin pages and the console log, with the API routes they need, through `stratus api`'s
application in process (no server, no lab): the hypervisor capacity extension, Ironic's node list and Nova's
os-getConsoleOutput (its run replaced, as test_api_servers.py replaces runs.launch), the module's console tail
on a temp file, and the pages as an admin, a member and another project's user see them. The real browser:
tests/integration/test_dashboard_admin_browser.py."""
from __future__ import annotations

import datetime as dt
import json
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

from stratus_cli.api import app as api_app, identity, runs
from stratus_lab.asgi import Browser, request

from ansible_collections.stratus.compute.plugins.module_utils.compute import steps
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_nodes

PASSWORD = "a-password-long-enough"
CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}],
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "net-1", "name": "demo", "cidr": "10.9.0.0/29", "gateway": "10.9.0.1"},
                         {"id": "net-prov", "name": "provisioning", "cidr": "10.10.0.0/24"}],
    "stratus_host_aggregates": [{"name": "fast-ssd", "hosts": ["hv1"], "metadata": {"ssd": "true"}}],
}
HOSTVARS = {"hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40,
                    "stratus_cpu_allocation_ratio": 4.0},
            "hv2": {"stratus_vcpus": 4, "stratus_memory_mb": 4096, "stratus_local_gb": 20},
            "n1": {"stratus_bm_driver": "ipmi", "stratus_bm_address": "10.0.0.6:6230", "stratus_bm_username": "admin",
                   "stratus_bm_password": "Bmc-S3cret-77f",
                   "stratus_bm_nics": [{"mac": "52:54:00:bb:00:01", "network": "provisioning"}],
                   "stratus_bm_resource_class": "baremetal.small",
                   "stratus_bm_properties": {"cpus": 8, "memory_mb": 32768, "local_gb": 400, "cpu_arch": "x86_64"}}}
USERS = {"alice": ("pa", "member"), "bob": ("pb", "member"), "root": ("ops", "admin")}


class Cloud(t.NamedTuple):
    app: t.Any
    web: str
    tokens: dict[str, str]


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    """alice (pa), bob (pb), root (admin); alice's ACTIVE server web on hv1; node n1 available."""
    url = "sqlite:///%s" % (tmp_path / "s.db")
    tokens = {}
    with store.transaction(url) as conn:
        for project in ("pa", "pb", "ops"):
            identity.create_project(conn, project, project)
        for user, (project, role) in USERS.items():
            identity.create_user(conn, user, PASSWORD, user_id=user, default_project=project)
            identity.add_role(conn, user, project, role)
            tokens[user] = str(identity.issue_token(conn, identity.find_user(conn, user),
                                                    identity.find_project(conn, project)).secret)
        conn.execute(sa.insert(baremetal_nodes).values(
            name="n1", provision_state="available", power_state="power off", maintenance=False,
            created_at=dt.datetime.now(dt.timezone.utc)))
    req = {"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}], "min_count": 1,
           "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    alice = Caller({"user_id": "alice", "project_id": "pa", "roles": ["member"]}, Enforcer(None))
    web = create_servers(req, alice, CATALOG, ["hv1"], HOSTVARS, url, False, "req-create").servers[0]["id"]
    with store.transaction(url) as conn:
        lifecycle.mark_active(conn, web)
    config = api_app.Config(store_url=url, variables=CATALOG, hypervisors=["hv1", "hv2"], baremetal_nodes=["n1"],
                            hostvars=HOSTVARS)
    return Cloud(api_app.build_app(config), web, tokens)


def ask(cloud: Cloud, user: str, method: str, path: str, body: t.Any = None,
        version: str = "2.61") -> tuple[int, t.Any]:
    headers = {"X-Auth-Token": cloud.tokens[user], "OpenStack-API-Version": "compute " + version}
    raw = b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        raw = json.dumps(body).encode()
    reply = request(cloud.app, method, path, headers, raw)
    return reply.status, reply.json() if reply.body else None


def browser(cloud: Cloud, user: str) -> Browser:
    b = Browser(cloud.app)
    b.log_in(user, PASSWORD)
    return b


@pytest.fixture
def consoles(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, t.Any]]:
    """runs.read_console replaced: each call recorded, a log with markup and a control character answered."""
    asked: list[dict[str, t.Any]] = []

    def read_console(inventories: list[str], store_url: str, caller: t.Any, host: str, uuid: str, lines: int,
                     timeout: int = runs.CONSOLE_TIMEOUT) -> t.Optional[str]:
        asked.append({"user": caller.user_id, "host": host, "uuid": uuid, "lines": lines})
        return "boot ok\x07\n<script>alert(1)</script>\nSTRATUS-GUEST ready\n"
    monkeypatch.setattr(runs, "read_console", read_console)
    return asked


# --- the API ---------------------------------------------------------------------------------------------

def test_the_capacity_extension_gives_ratios_and_capacity_to_admins_only(cloud: Cloud) -> None:
    assert ask(cloud, "alice", "GET", "/v2.1/os-stratus-hypervisor-capacity")[0] == 403
    status, body = ask(cloud, "root", "GET", "/v2.1/os-stratus-hypervisor-capacity")
    hv1 = {h["hypervisor_hostname"]: h for h in body["hypervisors"]}["hv1"]
    assert status == 200 and hv1["cpu_allocation_ratio"] == 4.0 and hv1["capacity"]["vcpus"] == 32
    detail = ask(cloud, "root", "GET", "/v2.1/os-hypervisors/detail")[1]["hypervisors"]
    assert hv1["id"] in [h["id"] for h in detail]


def test_baremetal_nodes_in_ironics_list_body_admin_only(cloud: Cloud) -> None:
    status, body = ask(cloud, "alice", "GET", "/baremetal/v1/nodes")
    assert status == 403 and "faultstring" in json.loads(body["error_message"])
    status, body = ask(cloud, "root", "GET", "/baremetal/v1/nodes")
    (node,) = body["nodes"]
    assert status == 200 and set(node) == {"uuid", "name", "instance_uuid", "power_state", "provision_state",
                                           "maintenance", "links"}
    assert (node["name"], node["provision_state"], node["power_state"], node["maintenance"]) == (
        "n1", "available", "power off", False)
    assert "Bmc-S3cret" not in json.dumps(body)


def test_console_output_for_the_owner_and_an_admin_with_novas_length(
        cloud: Cloud, consoles: list[dict[str, t.Any]]) -> None:
    path = "/v2.1/servers/%s/action" % cloud.web
    status, body = ask(cloud, "alice", "POST", path, {"os-getConsoleOutput": {"length": 20}})
    assert status == 200 and body["output"].startswith("boot ok\n<script>")  # the control character removed
    assert ask(cloud, "root", "POST", path, {"os-getConsoleOutput": {"length": "5"}})[0] == 200
    assert ask(cloud, "root", "POST", path, {"os-getConsoleOutput": None})[0] == 200
    assert [(c["user"], c["host"], c["uuid"], c["lines"]) for c in consoles] == [
        ("alice", "hv1", cloud.web, 20), ("root", "hv1", cloud.web, 5), ("root", "hv1", cloud.web, -1)]
    for bad in ({"length": -2}, {"length": "x"}, {"length": True}, {"length": 10001}, {"lines": 3}, []):
        assert ask(cloud, "alice", "POST", path, {"os-getConsoleOutput": bad})[0] == 400
    status, body = ask(cloud, "bob", "POST", path, {"os-getConsoleOutput": {}})
    assert status == 404 and "itemNotFound" in body
    assert len(consoles) == 3


def test_console_output_refuses_a_server_without_a_host_or_on_a_down_host(cloud: Cloud,
                                                                          consoles: list[dict[str, t.Any]]) -> None:
    path = "/v2.1/servers/%s/action" % cloud.web
    assert ask(cloud, "root", "PUT", "/v2.1/os-services/%s" % _service_id(cloud, "hv1"), {"forced_down": True},
               "2.53")[0] == 200
    status, body = ask(cloud, "alice", "POST", path, {"os-getConsoleOutput": {}})
    assert status == 409 and "down" in body["conflictingRequest"]["message"]
    with store.transaction(cloud.app.state.config.store_url) as conn:
        conn.execute(sa.text("UPDATE instances SET host = NULL WHERE uuid = :u"), {"u": cloud.web})
    status, body = ask(cloud, "alice", "POST", path, {"os-getConsoleOutput": {}})
    assert status == 409 and "no host yet" in body["conflictingRequest"]["message"]
    assert consoles == []


def test_an_unreadable_console_is_409_with_the_runs_message(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*_args: t.Any, **_kw: t.Any) -> str:
        raise runs.ConsoleUnavailable("The host hv1 did not answer within 60 seconds.")
    monkeypatch.setattr(runs, "read_console", unreachable)
    status, body = ask(cloud, "alice", "POST", "/v2.1/servers/%s/action" % cloud.web, {"os-getConsoleOutput": {}})
    assert status == 409 and "did not answer" in body["conflictingRequest"]["message"]


def test_the_modules_console_tail_reads_the_last_lines_within_its_byte_bound(tmp_path: Path) -> None:
    log = tmp_path / "x.console.log"
    assert steps.console_tail(str(log), 5) is None
    log.write_text("".join("line %d\n" % i for i in range(1, 101)))
    assert steps.console_tail(str(log), 2) == "line 99\nline 100\n"
    assert steps.console_tail(str(log), 0) == ""
    assert steps.console_tail(str(log), -1) == log.read_text()
    # past the byte bound: only the end is read, without the line it cuts
    assert steps.console_tail(str(log), -1, max_bytes=20) == "line 99\nline 100\n"
    with pytest.raises(Exception, match="not a server uuid"):
        steps._console_path("../../etc/passwd")
    uuid = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"
    assert steps._console_path(uuid).endswith(uuid + ".console.log")


# --- the pages -------------------------------------------------------------------------------------------

def _service_id(cloud: Cloud, host: str) -> str:
    services = ask(cloud, "root", "GET", "/v2.1/os-services", version="2.53")[1]["services"]
    return next(s["id"] for s in services if s["host"] == host)


def test_an_admin_sees_usage_bars_zones_and_aggregates(cloud: Cloud) -> None:
    root = browser(cloud, "root")
    page = root.get("/dashboard/admin/hypervisors")
    assert page.status == 200 and 'href="/dashboard/admin/hypervisors"' in page.text
    assert "vCPUs: 1 of 32" in page.text and "8 &times; ratio 4.0" in page.text  # used of (8 - 0) x 4.0
    assert "RAM: 512 MB of" in page.text and 'class="bar' in page.text
    assert "fast-ssd" in page.text and "ssd=true" in page.text and 'id="zones"' in page.text
    assert page.text.count('class="service-form"') == 2


def test_a_member_gets_the_apis_403_on_every_admin_page(cloud: Cloud) -> None:
    alice = browser(cloud, "alice")
    assert 'href="/dashboard/admin/hypervisors"' not in alice.get("/dashboard/").text  # not offered
    for path in ("/dashboard/admin/hypervisors", "/dashboard/admin/instances", "/dashboard/admin/nodes"):
        page = alice.get(path)
        assert page.status == 403 and 'id="page-error"' in page.text and "hv1" not in page.text
    form = {"action": "disable", "reason": "mine now"}
    reply = alice.post("/dashboard/admin/services/%s" % _service_id(cloud, "hv2"), form,
                       csrf_from="/dashboard/")
    assert reply.status == 403
    assert ask(cloud, "root", "GET", "/v2.1/os-hypervisors/detail")[1]["hypervisors"][1]["status"] == "enabled"


def test_disable_and_enable_a_compute_service_with_a_reason(cloud: Cloud) -> None:
    root = browser(cloud, "root")
    target = "/dashboard/admin/services/%s" % _service_id(cloud, "hv2")
    reply = root.post(target, {"action": "disable", "reason": "disk <swap>"}, csrf_from="/dashboard/admin/hypervisors")
    assert reply.status == 303 and reply.location == "/dashboard/admin/hypervisors"
    page = root.get("/dashboard/admin/hypervisors")
    assert "disk &lt;swap&gt;" in page.text and "<swap>" not in page.text
    services = {s["host"]: s for s in ask(cloud, "root", "GET", "/v2.1/os-services", version="2.53")[1]["services"]}
    assert (services["hv2"]["status"], services["hv2"]["disabled_reason"]) == ("disabled", "disk <swap>")
    assert root.post(target, {"action": "enable"}, csrf_from="/dashboard/admin/hypervisors").status == 303
    services = {s["host"]: s for s in ask(cloud, "root", "GET", "/v2.1/os-services", version="2.53")[1]["services"]}
    assert services["hv2"]["status"] == "enabled"


def test_a_bad_reason_is_shown_at_its_field_and_a_form_without_csrf_is_refused(cloud: Cloud) -> None:
    root = browser(cloud, "root")
    target = "/dashboard/admin/services/%s" % _service_id(cloud, "hv2")
    page = root.post(target, {"action": "disable", "reason": "x" * 300}, csrf_from="/dashboard/admin/hypervisors")
    assert page.status == 400 and 'id="reason-error-hv2"' in page.text and "disabled_reason" in page.text
    assert 'aria-invalid="true"' in page.text
    made_up = root.post("/dashboard/admin/services/not-a-uuid", {"action": "disable"},
                        csrf_from="/dashboard/admin/hypervisors")
    assert made_up.status == 400 and "Invalid uuid" in made_up.text and 'id="page-error"' in made_up.text
    assert root.post(target, {"action": "disable", "reason": "no token"}).status == 403
    assert root.post(target, {"action": "disable", "csrf_token": "0" * 64}).status == 403
    services = ask(cloud, "root", "GET", "/v2.1/os-services", version="2.53")[1]["services"]
    assert all(s["status"] == "enabled" for s in services)


def test_all_projects_instances_and_the_nodes_for_an_admin(cloud: Cloud) -> None:
    root = browser(cloud, "root")
    page = root.get("/dashboard/admin/instances")
    assert page.status == 200 and 'data-id="%s"' % cloud.web in page.text
    assert "<td>pa</td><td>hv1</td>" in page.text and "ACTIVE" in page.text
    nodes = root.get("/dashboard/admin/nodes")
    assert nodes.status == 200 and 'data-node="n1"' in nodes.text and ">available<" in nodes.text


def test_the_console_page_for_the_owner_and_an_admin_and_404_for_another_project(
        cloud: Cloud, consoles: list[dict[str, t.Any]]) -> None:
    path = "/dashboard/instances/%s/console" % cloud.web
    page = browser(cloud, "alice").get(path)
    assert page.status == 200 and '<pre class="console" id="console-output"' in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    assert browser(cloud, "root").get(path + "?length=1000").status == 200
    assert browser(cloud, "root").get(path + "?length=7").status == 200  # not offered: the default
    assert [c["lines"] for c in consoles] == [50, 1000, 50]
    other = browser(cloud, "bob").get(path)
    assert other.status == 404 and "STRATUS-GUEST" not in other.text
    assert browser(cloud, "alice").get("/dashboard/instances/detail/console").status == 404
    assert len(consoles) == 3
