"""The dashboard's Admin pages in a real browser (Debian's chromium, headless, through playwright) against a
real `stratus api` process (test_api_openstack_clients.py's server: root is admin; alice's server web from
test_api_resources_clients.py): the hypervisors' usage bars, a compute service disabled with a reason and
enabled again through its form (confirmed), and every project's instances. Screenshots go to tests/output/.
The fast checks (a member's 403, CSRF, the console page): tests/unit/test_dashboard_admin.py."""
from __future__ import annotations

import typing as t

import pytest

import test_api_openstack_clients as clients
import test_api_resources_clients as resources
from test_api_openstack_clients import PASSWORDS, Api
from stratus_lab import browser

api = clients.api  # the module's server (a fixture of its own here)
web = resources.web
WAIT_MS = 30000


@pytest.fixture(scope="module")
def chromium() -> t.Iterator[t.Any]:
    with browser.chromium() as instance:
        yield instance


def test_an_admin_sees_hypervisor_usage_disables_and_enables_a_service(api: Api, web: str, chromium: t.Any) -> None:
    context = chromium.new_context(viewport=browser.DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.goto(api.url + "/dashboard/login")
    page.get_by_label("User name").fill("root")
    page.get_by_label("Password").fill(PASSWORDS["root"])
    page.get_by_label("Project").fill("ops")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(api.url + "/dashboard/", timeout=WAIT_MS)
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(api.url + "/dashboard/admin/hypervisors", timeout=WAIT_MS)
    hv1, hv2 = page.locator('tr[data-host="hv1"]'), page.locator('tr[data-host="hv2"]')
    assert hv1.locator(".bar").count() == 3 and "vCPUs: 1 of 4" in hv1.inner_text()
    assert "az2" in hv2.inner_text() and hv2.locator(".status").inner_text().strip() == "enabled"
    browser.screenshot(page, "dashboard-admin-hypervisors")

    page.get_by_label("Reason").nth(1).fill("disk swap")
    hv2.get_by_role("button", name="Disable").click()
    hv2.locator(".status", has_text="disabled").wait_for(timeout=WAIT_MS)
    assert "disk swap" in hv2.locator(".status").inner_text() and "Disable the compute service of hv2" in questions[0]
    hv2.get_by_role("button", name="Enable").click()
    hv2.get_by_role("button", name="Disable").wait_for(timeout=WAIT_MS)
    assert hv2.locator(".status").inner_text().strip() == "enabled" and len(questions) == 2

    page.get_by_role("link", name="All instances").click()
    page.wait_for_url(api.url + "/dashboard/admin/instances", timeout=WAIT_MS)
    row = page.locator('tr[data-id="%s"]' % web)
    assert "pa" in row.inner_text() and "hv1" in row.inner_text()
    browser.screenshot(page, "dashboard-admin-instances")
    assert errors == []
    context.close()
