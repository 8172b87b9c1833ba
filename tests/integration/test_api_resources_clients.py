"""Quota sets, hypervisors, compute services and instance actions through `stratus api`, driven by the real
`openstack` command and openstacksdk (test_api_openstack_clients.py's server and users: pa's alice and carol,
pb's bob, the admin root). alice's server is made by the collection's own create path in process, on the
server's SQLite store; another project's user gets 404 or 403, never its data."""
from __future__ import annotations

import typing as t

import pytest

import test_api_openstack_clients as clients
from test_api_openstack_clients import PASSWORDS, Api, http, openstack, token

api = clients.api  # the module's server (a fixture of its own here)

HOSTVARS = {"hv1": {"stratus_vcpus": 4, "stratus_memory_mb": 4096, "stratus_local_gb": 40,
                    "stratus_availability_zone": "az1"}}


@pytest.fixture(scope="module")
def web(api: Api) -> str:
    """alice's ACTIVE server web on hv1, through the conductor's create (what the provision play's first part
    does), stopped once so that it has two actions; its uuid."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions as rules
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, server_actions
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from test_api_openstack_clients import _catalog, _identity_users

    alice = {u["name"]: u["id"] for u in _identity_users(api)}["alice"]
    caller = Caller({"user_id": alice, "project_id": "pa", "roles": ["member"]}, Enforcer(None))
    req = {"name": "web", "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}], "min_count": 1,
           "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    made = create_servers(req, caller, _catalog(), ["hv1"], HOSTVARS, api.store_url, False, "req-create-web")
    uuid = made.servers[0]["id"]
    with store.transaction(api.store_url) as conn:
        lifecycle.mark_active(conn, uuid)
    server_actions.request_action(uuid, rules.action_of("stop", None), caller, api.store_url, False, "req-stop-web")
    return uuid


def test_quota_show_with_usage_and_defaults(api: Api, web: str) -> None:
    quota = {row["Resource"]: row for row in openstack(api, "carol", "quota", "show", "--compute", "--usage")}
    # the catalog's defaults (frontend_helpers.CATALOG's stratus_quotas) and alice's server
    assert (quota["instances"]["Limit"], quota["instances"]["In Use"]) == (50, 1)
    assert (quota["cores"]["Limit"], quota["cores"]["In Use"]) == (100, 1)
    plain = {row["Resource"]: row["Limit"] for row in openstack(api, "alice", "quota", "show", "--compute")}
    assert plain["instances"] == 50 and plain["ram"] == 512000
    # every service's quotas: Neutron's too (none enforced but what stratus_quotas says), alice's one port
    both = {row["Resource"]: row for row in openstack(api, "alice", "quota", "show", "--usage")}
    assert both["instances"]["In Use"] == 1 and (both["ports"]["Limit"], both["ports"]["In Use"]) == (-1, 1)
    shown = openstack(api, "bob", "quota", "show", "--compute", "--default")
    defaults = {row["Resource"]: row["Limit"] for row in shown}
    assert defaults["instances"] == 50
    bob = token(api, "bob")
    status, body, _h = http(api, "/v2.1/os-quota-sets/pa/detail", bob)
    assert status == 403 and set(body) == {"forbidden"}
    root = token(api, "root")
    status, body, _h = http(api, "/v2.1/os-quota-sets/pa", root, method="PUT", body=b'{"quota_set": {"cores": 1}}',
                            headers={"Content-Type": "application/json"})
    assert status == 501 and "inventory" in body["notImplemented"]["message"]


def test_hypervisor_list_and_show_as_the_admin_and_refused_to_a_member(api: Api, web: str) -> None:
    listed = {h["Hypervisor Hostname"]: h for h in openstack(api, "root", "hypervisor", "list", "--long")}
    assert set(listed) == {"hv1", "hv2"} and listed["hv1"]["State"] == "up"
    assert (listed["hv1"]["vCPUs Used"], listed["hv1"]["vCPUs"]) == (1, 4)
    shown = openstack(api, "root", "hypervisor", "show", "hv1")
    assert shown["hypervisor_hostname"] == "hv1" and shown["running_vms"] == 1 and shown["service_host"] == "hv1"
    assert shown["id"] == listed["hv1"]["ID"] and shown["status"] == "enabled"
    refused = openstack(api, "alice", "hypervisor", "list", rc=1)
    assert "403" in refused.stderr


def test_compute_service_list_and_set_disable(api: Api, web: str) -> None:
    services = {s["Host"]: s for s in openstack(api, "root", "compute", "service", "list")}
    assert set(services) == {"hv1", "hv2"} and services["hv2"]["Status"] == "enabled"
    assert services["hv2"]["Binary"] == "nova-compute" and services["hv2"]["Zone"] == "az2"
    openstack(api, "root", "compute", "service", "set", "--disable", "--disable-reason", "maintenance", "hv2",
              "nova-compute", output=False)
    after = {s["Host"]: s for s in openstack(api, "root", "compute", "service", "list", "--long")}
    assert (after["hv2"]["Status"], after["hv2"]["Disabled Reason"]) == ("disabled", "maintenance")
    hv2 = {h["Hypervisor Hostname"]: h for h in openstack(api, "root", "hypervisor", "list")}["hv2"]
    assert hv2["State"] == "up"
    openstack(api, "root", "compute", "service", "set", "--enable", "hv2", "nova-compute", output=False)
    assert {s["Host"]: s for s in openstack(api, "root", "compute", "service", "list")}["hv2"]["Status"] == "enabled"
    assert "403" in openstack(api, "alice", "compute", "service", "list", rc=1).stderr


def test_server_event_list_by_uuid_and_name_and_show(api: Api, web: str) -> None:
    events = openstack(api, "alice", "server", "event", "list", web)
    assert [(e["Action"], e["Request ID"]) for e in events] == [("stop", "req-stop-web"),
                                                                ("create", "req-create-web")]
    by_name = openstack(api, "alice", "server", "event", "list", "web")  # the name through GET /servers?name=
    assert [e["Request ID"] for e in by_name] == ["req-stop-web", "req-create-web"]
    shown = openstack(api, "carol", "server", "event", "show", web, "req-create-web")
    assert shown["action"] == "create" and shown["project_id"] == "pa"
    assert [e["event"] for e in shown["events"]][0] == "conductor_schedule_and_build_instances"
    assert all(e.get("traceback") is None for e in shown["events"])
    refused = openstack(api, "bob", "server", "event", "list", web, rc=1)
    assert "404" in refused.stderr or "No server" in refused.stderr
    assert web not in refused.stdout


def test_openstacksdk_server_actions_and_hypervisors(api: Api, web: str) -> None:
    import openstack as sdk

    def connect(user: str, project: str) -> t.Any:
        return sdk.connect(auth_url=api.url + "/v3", username=user, password=PASSWORDS[user], project_name=project,
                           user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
                           identity_api_version="3", load_yaml_config=False, load_envvars=False)

    alice, bob, root = connect("alice", "pa"), connect("bob", "pb"), connect("root", "ops")
    try:
        actions = list(alice.compute.server_actions(web))
        assert [(a.action, a.request_id, a.project_id) for a in actions] == [("stop", "req-stop-web", "pa"),
                                                                             ("create", "req-create-web", "pa")]
        event = root.compute.get_server_action("req-create-web", web).events[0]
        assert event.event == "conductor_schedule_and_build_instances" and event.traceback is None
        with pytest.raises(sdk.exceptions.NotFoundException):
            list(bob.compute.server_actions(web))
        assert sorted(h.name for h in root.compute.hypervisors(details=True)) == ["hv1", "hv2"]
        quota = alice.compute.get_quota_set("pa", usage=True)
        assert quota.usage["instances"] == 1 and quota.instances == 50
        with pytest.raises(sdk.exceptions.ForbiddenException):
            bob.compute.get_quota_set("pa")
    finally:
        for conn in (alice, bob, root):
            conn.close()


def test_the_servers_log_has_no_traceback(api: Api) -> None:
    # after every other test of this module: the log of all their requests, refusals included
    text = api.log.read_text()
    assert "os-instance-actions" in text and "Traceback" not in text and "internal error" not in text
