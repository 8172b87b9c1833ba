"""Launch Instance and Key pairs in a real browser (Debian's chromium, headless, through playwright) against a
real `stratus api` process (test_api_openstack_clients.py's server: pa's alice, quota 50 instances, hypervisors
never contacted): the form refuses an over-quota count at the count field with the values kept, "Will it
fit?" shows the scheduler's verdict per host, a launch is accepted by the API (it is in /v2.1/servers; with no
lab its build ends in ERROR or stays BUILD), and a key pair is imported and deleted with confirmation.
Screenshots: dashboard-launch, dashboard-launch-refused, dashboard-explain, dashboard-keypairs."""
from __future__ import annotations

import typing as t

import test_api_openstack_clients as clients
from test_api_openstack_clients import Api, http, token
import test_dashboard_browser
from test_dashboard_browser import log_in
from stratus_lab import browser

api = clients.api  # the module's server (a fixture of its own here)
chromium = test_dashboard_browser.chromium  # the module's browser (a fixture)
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx3xqwIhXqUo8h2mXTb0DdF0kYQ6cTHyQKcG3SJPW8F alice@laptop"
WAIT = 60_000  # ms: generous, never a fixed sleep


def test_launch_refused_explained_accepted_and_key_pairs(api: Api, chromium: t.Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    context, page, errors = browser.watched_page(chromium, browser.DESKTOP)
    log_in(page, api, "alice", "pa")

    # key pairs: import one (it is then offered by the launch form), see it listed
    page.goto(api.url + "/dashboard/keypairs")
    page.locator("#import-name").fill("laptop")
    page.get_by_label("Public key").fill(PUBLIC_KEY)
    page.get_by_role("button", name="Import key pair").click()
    expect(page.locator('tr[data-keypair="laptop"]')).to_be_visible(timeout=WAIT)
    assert "ssh" in page.locator('tr[data-keypair="laptop"]').inner_text()
    browser.screenshot(page, "dashboard-keypairs")

    # the form, filled as a person would
    page.goto(api.url + "/dashboard/launch")
    page.get_by_label("Instance name").fill("dash")
    page.get_by_label("Count").fill("60")
    page.get_by_label("Image", exact=True).select_option(label="cirros")
    page.get_by_role("radio", name="m1.tiny").check()
    page.get_by_role("checkbox", name="net1").check()
    page.get_by_label("Key pair").select_option("laptop")
    page.get_by_label("User data").fill("#cloud-config\nruncmd: [echo secret-user-data]\n")
    page.get_by_label("Metadata").fill("role=web")
    browser.screenshot(page, "dashboard-launch")
    # 60 > the 50 instances of the quota: Nova's 403, at the count field, the values kept but the user data
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#error-count")).to_contain_text("Quota exceeded for instances: Requested 60", timeout=WAIT)
    kept = [page.get_by_label(label).input_value() for label in ("Instance name", "Count", "Metadata", "User data")]
    assert kept == ["dash", "60", "role=web", ""]
    assert page.locator("#user-data-note").is_visible()
    browser.screenshot(page, "dashboard-launch-refused")

    # Will it fit? for one: per host the verdict, nothing created
    page.get_by_label("Count").fill("1")
    page.get_by_role("button", name="Will it fit?").click()
    expect(page.locator("#explain-verdict")).to_contain_text("Yes: 1 instance would be placed", timeout=WAIT)
    assert page.locator("#explain-hosts tbody tr").count() == 2
    browser.screenshot(page, "dashboard-explain")
    status, body, _h = http(api, "/v2.1/servers", token(api, "alice"))
    assert status == 200 and all(s["name"] != "dash" for s in body["servers"])

    # launched: the API accepted it, and it is in the project's servers
    page.get_by_label("User data").fill("#cloud-config\n")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#launched")).to_contain_text("dash", timeout=WAIT)
    status, body, _h = http(api, "/v2.1/servers", token(api, "alice"))
    assert status == 200 and [s["name"] for s in body["servers"]].count("dash") == 1

    # the key pair deleted, after the confirmation
    page.goto(api.url + "/dashboard/keypairs")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete key pair laptop").click()
    expect(page.locator('tr[data-keypair="laptop"]')).to_have_count(0, timeout=WAIT)
    assert errors == []
    context.close()
