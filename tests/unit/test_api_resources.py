"""`stratus api`'s quota sets, hypervisors, compute services, aggregates and instance actions through the ASGI
app (no server) on a real store (SQLite and PostgreSQL): Nova's bodies per microversion, its policy (another
project's server is 404, its quota 403, hypervisors and services admin only), nothing written on a refusal."""
from __future__ import annotations

import datetime as dt
import json
import typing as t

import pytest
import sqlalchemy as sa

from stratus_cli.api import app as api_app, identity
from stratus_cli.api import resource_views as rviews

from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions as rules
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import compute_services, instances

from test_api_views import _call

CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}],
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "net-1", "name": "demo", "cidr": "10.9.0.0/29", "gateway": "10.9.0.1"}],
    "stratus_quotas": {"defaults": {"instances": 4}, "projects": {"p1": {"cores": 6}}},
    "stratus_host_aggregates": [{"name": "fast", "hosts": ["hv1"], "metadata": {"ssd": "true"}}],
}
HOSTVARS = {"hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40},
            "hv2": {"stratus_vcpus": 4, "stratus_memory_mb": 4096, "stratus_local_gb": 20,
                    "stratus_cpu_info": {"arch": "x86_64"}}}
USERS = {"alice": ("p1", "member"), "carol": ("p1", "reader"), "bob": ("p2", "member"), "root": ("ops", "admin")}


class Cloud(t.NamedTuple):
    app: t.Any
    db_url: str
    tokens: dict[str, str]
    web: str


def _caller(user: str) -> Caller:
    project, role = USERS[user]
    return Caller({"user_id": user, "project_id": project, "roles": [role]}, Enforcer(None))


@pytest.fixture
def cloud(db_url: str) -> Cloud:
    """Four users of three projects with a token each, and alice's ACTIVE server web on hv1."""
    tokens = {}
    with store.transaction(db_url) as conn:
        for project in ("p1", "p2", "ops"):
            identity.create_project(conn, project, project)
        for user, (project, role) in USERS.items():
            identity.create_user(conn, user, "pw-" + user, user_id=user)
            identity.add_role(conn, user, project, role)
            tokens[user] = str(identity.issue_token(conn, identity.find_user(conn, user),
                                                    identity.find_project(conn, project)).secret)
    req = {"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}], "min_count": 1,
           "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    out = create_servers(req, _caller("alice"), CATALOG, ["hv1"], HOSTVARS, db_url, False, "req-create")
    web = out.servers[0]["id"]
    with store.transaction(db_url) as conn:
        lifecycle.mark_active(conn, web)
    config = api_app.Config(store_url=db_url, variables=CATALOG, hypervisors=["hv1", "hv2"], hostvars=HOSTVARS)
    return Cloud(api_app.build_app(config), db_url, tokens, web)


def ask(cloud: Cloud, user: str, path: str, version: str = "2.1", method: str = "GET",
        body: t.Optional[dict[str, t.Any]] = None) -> tuple[int, t.Any]:
    headers = {"X-Auth-Token": cloud.tokens[user], "OpenStack-API-Version": "compute " + version}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return _call(cloud.app, method, path, headers, json.dumps(body).encode() if body is not None else b"")


# --- quota sets -----------------------------------------------------------------------------------------

def test_quota_sets_follow_the_microversion_and_the_inventory(cloud: Cloud) -> None:
    status, body = ask(cloud, "carol", "/v2.1/os-quota-sets/p1")
    assert status == 200
    old = body["quota_set"]
    assert (old["id"], old["instances"], old["cores"], old["ram"]) == ("p1", 4, 6, 51200)
    assert old["fixed_ips"] == -1 and old["injected_files"] == 5
    mid = ask(cloud, "carol", "/v2.1/os-quota-sets/p1", "2.36")[1]["quota_set"]
    assert "fixed_ips" not in mid and "security_groups" not in mid and mid["injected_files"] == 5
    new = ask(cloud, "carol", "/v2.1/os-quota-sets/p1", "2.57")[1]["quota_set"]
    assert set(new) == {"id", "instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups",
                        "server_group_members"}
    detail = ask(cloud, "alice", "/v2.1/os-quota-sets/p1/detail", "2.61")[1]["quota_set"]
    assert detail["instances"] == {"limit": 4, "in_use": 1, "reserved": 0}
    assert detail["cores"] == {"limit": 6, "in_use": 1, "reserved": 0} and "injected_files" not in detail
    assert ask(cloud, "alice", "/v2.1/os-quota-sets/p1/detail")[1]["quota_set"]["floating_ips"]["in_use"] == 0
    defaults = ask(cloud, "bob", "/v2.1/os-quota-sets/p2/defaults", "2.61")[1]["quota_set"]
    assert (defaults["id"], defaults["instances"], defaults["cores"]) == ("p2", 4, 20)


def test_another_projects_quota_is_forbidden_and_updates_are_refused(cloud: Cloud) -> None:
    for path in ("/v2.1/os-quota-sets/p1", "/v2.1/os-quota-sets/p1/detail"):
        status, body = ask(cloud, "bob", path)
        assert status == 403 and set(body) == {"forbidden"}
    assert ask(cloud, "root", "/v2.1/os-quota-sets/p1/detail")[0] == 200
    status, body = ask(cloud, "root", "/v2.1/os-quota-sets/nope")
    assert status == 400 and body["badRequest"]["message"] == "Project ID nope is not a valid project."
    assert ask(cloud, "alice", "/v2.1/os-quota-sets/p1", method="PUT", body={"quota_set": {"cores": 99}})[0] == 403
    for method, body in (("PUT", {"quota_set": {"cores": 99}}), ("DELETE", None)):
        status, answer = ask(cloud, "root", "/v2.1/os-quota-sets/p1", method=method, body=body)
        assert status == 501 and "set in the inventory" in answer["notImplemented"]["message"]
    assert ask(cloud, "alice", "/v2.1/os-quota-sets/p1")[1]["quota_set"]["cores"] == 6


def test_neutrons_quotas_for_the_openstack_command(cloud: Cloud) -> None:
    status, body = ask(cloud, "carol", "/network/v2.0/quotas/p1")
    assert status == 200 and body["quota"]["port"] == -1 and body["quota"]["floatingip"] == -1
    detail = ask(cloud, "alice", "/network/v2.0/quotas/p1/details")[1]["quota"]
    assert detail["port"] == {"limit": -1, "used": 1, "reserved": 0} and detail["network"]["used"] == 0
    assert ask(cloud, "bob", "/network/v2.0/quotas/p2/default")[1]["quota"]["security_group"] == -1
    status, body = ask(cloud, "bob", "/network/v2.0/quotas/p1/details")
    assert status == 403 and set(body) == {"NeutronError"}


# --- hypervisors, aggregates ----------------------------------------------------------------------------

def test_hypervisors_are_admin_only_with_integer_ids_before_2_53_and_uuids_after(cloud: Cloud) -> None:
    for path in ("/v2.1/os-hypervisors", "/v2.1/os-hypervisors/detail", "/v2.1/os-hypervisors/statistics",
                 "/v2.1/os-aggregates"):
        assert ask(cloud, "alice", path)[0] == 403
    old = ask(cloud, "root", "/v2.1/os-hypervisors")[1]["hypervisors"]
    assert [(h["hypervisor_hostname"], h["state"], h["status"]) for h in old] == [
        ("hv1", "up", "enabled"), ("hv2", "up", "enabled")]
    assert all(isinstance(h["id"], int) for h in old)
    assert ask(cloud, "root", "/v2.1/os-hypervisors/%d" % old[0]["id"])[1]["hypervisor"]["hypervisor_hostname"] == "hv1"
    detail = {h["hypervisor_hostname"]: h for h in ask(cloud, "root", "/v2.1/os-hypervisors/detail", "2.53")[1][
        "hypervisors"]}
    hv1 = detail["hv1"]
    assert (hv1["vcpus"], hv1["vcpus_used"], hv1["memory_mb_used"], hv1["running_vms"]) == (8, 1, 512, 1)
    assert hv1["id"] == rviews.derived_uuid("hypervisor", "hv1") and hv1["service"]["host"] == "hv1"
    assert detail["hv2"]["cpu_info"] == {"arch": "x86_64"}
    assert isinstance(ask(cloud, "root", "/v2.1/os-hypervisors/detail", "2.27")[1]["hypervisors"][1]["cpu_info"], str)
    shown = ask(cloud, "root", "/v2.1/os-hypervisors/%s?with_servers=true" % hv1["id"], "2.53")[1]["hypervisor"]
    assert shown["servers"] == [{"name": "web", "uuid": cloud.web}]
    assert ask(cloud, "root", "/v2.1/os-hypervisors/1", "2.53")[0] == 400
    assert ask(cloud, "root", "/v2.1/os-hypervisors/%s/uptime" % hv1["id"], "2.53")[0] == 501
    stats = ask(cloud, "root", "/v2.1/os-hypervisors/statistics")[1]["hypervisor_statistics"]
    assert (stats["count"], stats["vcpus"], stats["running_vms"]) == (2, 12, 1)
    found = ask(cloud, "root", "/v2.1/os-hypervisors?hypervisor_hostname_pattern=hv2", "2.53")[1]["hypervisors"]
    assert [h["hypervisor_hostname"] for h in found] == ["hv2"]
    assert ask(cloud, "root", "/v2.1/os-hypervisors?hypervisor_hostname_pattern=zz", "2.53")[0] == 404
    assert [h["hypervisor_hostname"] for h in ask(cloud, "root", "/v2.1/os-hypervisors/hv/search")[1][
        "hypervisors"]] == ["hv1", "hv2"]
    on = ask(cloud, "root", "/v2.1/os-hypervisors/hv1/servers")[1]["hypervisors"]
    assert [(h["hypervisor_hostname"], h["servers"]) for h in on] == [("hv1", [{"name": "web", "uuid": cloud.web}])]
    assert ask(cloud, "root", "/v2.1/os-hypervisors/hv1/servers", "2.53")[0] == 404
    assert ask(cloud, "alice", "/v2.1/os-hypervisors/hv1/servers")[0] == 403
    page = ask(cloud, "root", "/v2.1/os-hypervisors?limit=1", "2.53")[1]
    assert len(page["hypervisors"]) == 1 and "marker=%s" % hv1["id"] in page["hypervisors_links"][0]["href"]
    aggs = ask(cloud, "root", "/v2.1/os-aggregates", "2.41")[1]["aggregates"]
    assert [(a["name"], a["hosts"], a["metadata"]) for a in aggs] == [("fast", ["hv1"], {"ssd": "true"})]


# --- compute services -----------------------------------------------------------------------------------

def _service_rows(db_url: str) -> list[t.Any]:
    with store.transaction(db_url) as conn:
        return list(conn.execute(sa.select(compute_services)))


def test_services_list_and_update_as_the_conductor_does(cloud: Cloud) -> None:
    assert ask(cloud, "alice", "/v2.1/os-services")[0] == 403
    listed = ask(cloud, "root", "/v2.1/os-services", "2.53")[1]["services"]
    assert [(s["host"], s["binary"], s["status"], s["state"], s["forced_down"]) for s in listed] == [
        ("hv1", "nova-compute", "enabled", "up", False), ("hv2", "nova-compute", "enabled", "up", False)]
    hv2 = listed[1]["id"]
    assert "forced_down" not in ask(cloud, "root", "/v2.1/os-services?host=hv2", "2.10")[1]["services"][0]
    refused = (("alice", {"status": "disabled"}, 403), ("root", {"status": "enabled", "disabled_reason": "x"}, 400),
               ("root", {}, 400), ("root", {"status": "off"}, 400), ("root", {"bogus": 1}, 400),
               ("root", {"forced_down": "yes"}, 400), ("root", {"status": "disabled", "disabled_reason": "a\nb"}, 400))
    for user, body, status in refused:
        assert ask(cloud, user, "/v2.1/os-services/" + hv2, "2.53", "PUT", body)[0] == status, body
    assert ask(cloud, "root", "/v2.1/os-services/" + rviews.derived_uuid("service", "hvX"), "2.53", "PUT",
               {"status": "disabled"})[0] == 404
    for version, action, body, status in (("2.52", "disable", {"host": "hv2"}, 400),
                                          ("2.52", "disable", {"host": "hvX", "binary": "nova-compute"}, 404),
                                          ("2.52", "halt", {"host": "hv2", "binary": "nova-compute"}, 404),
                                          ("2.10", "force-down", {"host": "hv2", "binary": "nova-compute",
                                                                  "forced_down": True}, 404)):
        assert ask(cloud, "root", "/v2.1/os-services/" + action, version, "PUT", body)[0] == status, (action, body)
    assert _service_rows(cloud.db_url) == []  # nothing written by any refusal
    status, body = ask(cloud, "root", "/v2.1/os-services/" + hv2, "2.53", "PUT",
                       {"status": "disabled", "disabled_reason": "disk swap", "forced_down": True})
    assert status == 200
    assert (body["service"]["status"], body["service"]["disabled_reason"], body["service"]["state"],
            body["service"]["forced_down"]) == ("disabled", "disk swap", "down", True)
    assert body["service"]["updated_at"] is not None
    shown = ask(cloud, "root", "/v2.1/os-hypervisors/detail", "2.53")[1]["hypervisors"][1]
    assert (shown["status"], shown["state"], shown["service"]["disabled_reason"]) == ("disabled", "down", "disk swap")
    enable = {"status": "enabled", "forced_down": False}
    back = ask(cloud, "root", "/v2.1/os-services/" + hv2, "2.53", "PUT", enable)[1]["service"]
    assert (back["status"], back["disabled_reason"], back["state"]) == ("enabled", None, "up")


def test_services_actions_before_2_53(cloud: Cloud) -> None:
    hv1 = {"host": "hv1", "binary": "nova-compute"}
    status, body = ask(cloud, "root", "/v2.1/os-services/disable-log-reason", "2.11", "PUT",
                       dict(hv1, disabled_reason="fan"))
    assert (status, body) == (200, {"service": dict(hv1, disabled_reason="fan", status="disabled")})
    assert ask(cloud, "root", "/v2.1/os-services/force-down", "2.11", "PUT", dict(hv1, forced_down=True))[1] == {
        "service": dict(hv1, forced_down=True)}
    listed = ask(cloud, "root", "/v2.1/os-services?host=hv1", "2.11")[1]["services"][0]
    assert (listed["status"], listed["disabled_reason"], listed["state"], listed["forced_down"]) == (
        "disabled", "fan", "down", True)
    assert ask(cloud, "alice", "/v2.1/os-services/enable", "2.1", "PUT", hv1)[0] == 403
    assert ask(cloud, "root", "/v2.1/os-services/enable", "2.1", "PUT", hv1)[1] == {
        "service": dict(hv1, status="enabled")}
    assert ask(cloud, "root", "/v2.1/os-services?host=hv1")[1]["services"][0]["status"] == "enabled"


# --- instance actions -----------------------------------------------------------------------------------

def _stop(cloud: Cloud) -> None:
    server_actions.request_action(cloud.web, rules.action_of("stop", None), _caller("alice"), cloud.db_url, False,
                                  "req-stop")


def test_instance_actions_and_events_per_policy_and_version(cloud: Cloud) -> None:
    _stop(cloud)
    path = "/v2.1/servers/%s/os-instance-actions" % cloud.web
    listed = ask(cloud, "carol", path)[1]["instanceActions"]
    assert [(a["action"], a["request_id"], a["project_id"], a["user_id"]) for a in listed] == [
        ("stop", "req-stop", "p1", "alice"), ("create", "req-create", "p1", "alice")]
    assert "updated_at" not in listed[0] and listed[0]["instance_uuid"] == cloud.web
    old = ask(cloud, "alice", path + "/req-create")[1]["instanceAction"]
    assert old["action"] == "create" and "events" not in old
    new = ask(cloud, "alice", path + "/req-create", "2.51")[1]["instanceAction"]
    assert new["events"] and all("traceback" not in e for e in new["events"])
    admin = ask(cloud, "root", path + "/req-create")[1]["instanceAction"]
    assert admin["events"][0]["event"] == "conductor_schedule_and_build_instances"
    assert all(e["traceback"] is None for e in admin["events"])
    status, body = ask(cloud, "alice", path + "/req-nope")
    assert status == 404 and "req-nope" in body["itemNotFound"]["message"]


def test_another_projects_server_is_not_found(cloud: Cloud) -> None:
    path = "/v2.1/servers/%s/os-instance-actions" % cloud.web
    for sub in ("", "/req-create"):
        status, body = ask(cloud, "bob", path + sub)
        message = "Instance %s could not be found." % cloud.web
        assert status == 404 and body == {"itemNotFound": {"code": 404, "message": message}}
    assert ask(cloud, "alice", "/v2.1/servers/web/os-instance-actions")[0] == 404  # a name is no server id


def test_paging_from_2_58_and_a_deleted_servers_actions_from_2_21(cloud: Cloud) -> None:
    _stop(cloud)
    path = "/v2.1/servers/%s/os-instance-actions" % cloud.web
    first = ask(cloud, "alice", path + "?limit=1", "2.58")[1]
    assert [a["action"] for a in first["instanceActions"]] == ["stop"] and first["instanceActions"][0]["updated_at"]
    assert "marker=req-stop" in first["links"][0]["href"]
    rest = ask(cloud, "alice", path + "?marker=req-stop", "2.58")[1]
    assert [a["action"] for a in rest["instanceActions"]] == ["create"] and "links" not in rest
    assert ask(cloud, "alice", path + "?marker=req-nope", "2.58")[0] == 400
    assert ask(cloud, "alice", path + "?limit=x", "2.58")[0] == 400
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ask(cloud, "alice", path + "?changes-since=" + future, "2.58")[1]["instanceActions"] == []
    assert ask(cloud, "alice", path + "?changes-since=yesterday", "2.58")[0] == 400
    with store.transaction(cloud.db_url) as conn:
        conn.execute(instances.update().where(instances.c.uuid == cloud.web).values(
            deleted=cloud.web, deleted_at=dt.datetime.now(dt.timezone.utc), vm_state="deleted"))
    assert ask(cloud, "alice", path, "2.20")[0] == 404
    assert [a["action"] for a in ask(cloud, "alice", path, "2.21")[1]["instanceActions"]] == ["stop", "create"]
    assert ask(cloud, "bob", path, "2.21")[0] == 404
