"""The Instances pages in a real browser (Debian's chromium through playwright, lab/stratus_lab/browser.py)
against a real `stratus api` process (test_api_openstack_clients.py's server and users), with servers put in
its store by the collection's conductor (no lab): the table shows them and follows a build to ACTIVE by
itself (instances.js polls its tbody), a detail opens, and a stop through the row action, its confirm dialog
accepted, is recorded by the API (the stop's run has no lab to act on: the action log shows the request), and
so is a rebuild through the detail's change form. Screenshots: dashboard-instances, dashboard-instance-detail,
dashboard-instance-changes."""
from __future__ import annotations

import typing as t

import pytest

import test_api_openstack_clients as clients
from test_api_openstack_clients import Api
from test_dashboard_browser import log_in
from stratus_lab import browser

api = clients.api  # the module's server (a fixture of its own here)
WAIT_MS = 30000
HOSTVARS = {"hv1": {"stratus_vcpus": 4, "stratus_memory_mb": 4096, "stratus_local_gb": 40,
                    "stratus_availability_zone": "az1"}}


@pytest.fixture(scope="module")
def chromium() -> t.Iterator[t.Any]:
    with browser.chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def servers(api: Api) -> dict[str, str]:
    """alice's app1 (ACTIVE) and app2 (still BUILD), claimed by the conductor's create as POST /servers does."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from test_api_openstack_clients import _catalog, _identity_users

    alice = {u["name"]: u["id"] for u in _identity_users(api)}["alice"]
    caller = Caller({"user_id": alice, "project_id": "pa", "roles": ["member"]}, Enforcer(None))
    made = {}
    for name in ("app1", "app2"):
        req = {"name": name, "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}], "min_count": 1,
               "max_count": 1, "metadata": {"tier": "web"}, "tags": [], "config_drive": True}
        made[name] = create_servers(req, caller, _catalog(), ["hv1"], HOSTVARS, api.store_url, False,
                                    "req-create-" + name).servers[0]["id"]
    with store.transaction(api.store_url) as conn:
        lifecycle.mark_active(conn, made["app1"])
    return made


def test_the_table_follows_a_build_opens_a_detail_and_stops_a_server(
        api: Api, chromium: t.Any, servers: dict[str, str]) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from playwright.sync_api import expect

    context, page, errors = browser.watched_page(chromium, browser.DESKTOP)
    log_in(page, api, "alice", "pa")
    page.get_by_role("link", name="Instances").click()
    page.wait_for_url(api.url + "/dashboard/instances")
    app1, app2 = page.locator("#instance-" + servers["app1"]), page.locator("#instance-" + servers["app2"])
    expect(app1.locator(".status")).to_have_text("ACTIVE", timeout=WAIT_MS)
    expect(app1.locator(".power")).to_have_text("Running")
    expect(app2.locator(".status")).to_have_text("BUILD")
    assert page.locator("#instance-rows").get_attribute("data-transitional") == "true"
    # the build ends in the store: the table shows it without a reload, and stops polling
    with store.transaction(api.store_url) as conn:
        lifecycle.mark_active(conn, servers["app2"])
    expect(app2.locator(".status")).to_have_text("ACTIVE", timeout=WAIT_MS)
    expect(page.locator("#instance-rows")).to_have_attribute("data-transitional", "false", timeout=WAIT_MS)
    browser.screenshot(page, "dashboard-instances")
    # the row action: its menu, Stop, the confirm dialog accepted
    dialogs: list[str] = []

    def accept(dialog: t.Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    app1.locator("summary").click()
    app1.get_by_role("button", name="Stop").click()
    page.wait_for_url(api.url + "/dashboard/instances?notice=stop", timeout=WAIT_MS)
    assert dialogs == ["Stop instance app1?"]
    expect(page.locator("#notice")).to_have_text("Stop requested.")
    # the detail: the overview, and the stop in the action log (recorded by the API with its request id)
    app1 = page.locator("#instance-" + servers["app1"])
    app1.get_by_role("link", name="app1").click()
    page.wait_for_url(api.url + "/dashboard/instances/" + servers["app1"])
    expect(page.locator("#instance-name")).to_have_text("app1")
    assert "1 vCPU" in page.locator("#flavor").inner_text()
    actions = page.locator("#action-log tbody tr")
    expect(actions.first).to_have_attribute("data-action", "stop", timeout=WAIT_MS)
    assert actions.last.get_attribute("data-action") == "create"
    assert page.locator("#console-link").get_attribute("href") == "/dashboard/instances/%s/console" % servers["app1"]
    browser.screenshot(page, "dashboard-instance-detail")
    page.set_viewport_size(browser.PHONE)
    page.goto(api.url + "/dashboard/instances")
    assert page.locator("#instances").is_visible()
    # a day-2 change on app2's detail (ACTIVE): Rebuild from an image of the list, its confirm dialog accepted
    page.set_viewport_size(browser.DESKTOP)
    page.goto(api.url + "/dashboard/instances/" + servers["app2"])
    rebuild = page.locator("#change-rebuild")
    rebuild.locator("select").select_option(label="cirros")
    browser.screenshot(page, "dashboard-instance-changes")
    page.once("dialog", accept)
    rebuild.get_by_role("button", name="Rebuild").click()
    page.wait_for_url(api.url + "/dashboard/instances/%s?notice=rebuild" % servers["app2"], timeout=WAIT_MS)
    assert dialogs[-1] == "Rebuild instance app2 from the chosen image? Its root disk is replaced."
    expect(page.locator("#notice")).to_have_text("Rebuild requested.")
    expect(page.locator("#action-log tbody tr").first).to_have_attribute("data-action", "rebuild", timeout=WAIT_MS)
    assert errors == []
    context.close()


def test_another_projects_server_is_a_404_page(api: Api, chromium: t.Any, servers: dict[str, str]) -> None:
    context = chromium.new_context(viewport=browser.DESKTOP)
    page = context.new_page()
    log_in(page, api, "bob", "pb")
    reply = page.goto(api.url + "/dashboard/instances/" + servers["app1"])
    assert reply is not None and reply.status == 404
    assert "could not be found" in page.locator("#page-error").inner_text()
    assert "app1" not in page.content()
    page.goto(api.url + "/dashboard/instances")
    assert "app1" not in page.content() and "No instances yet." in page.content()
    context.close()
