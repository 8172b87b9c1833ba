"""The dashboard in a real browser: Debian's chromium, headless, driven by playwright (lab/stratus_lab/
browser.py), against a real `stratus api` process (test_api_openstack_clients.py's server and users: pa's
alice, pb's bob, the admin root). A user logs in, sees the overview's quota charts at desktop and phone
width, switches project, logs out; a form posted without its CSRF token is refused. Screenshots go to
tests/output/. The lab's builds in a browser: tests/e2e/test_dashboard_lab.py."""
from __future__ import annotations

import typing as t
import urllib.error
import urllib.parse
import urllib.request

import pytest

import test_api_openstack_clients as clients
from test_api_openstack_clients import PASSWORDS, Api
from stratus_lab import browser

api = clients.api  # the module's server (a fixture of its own here)


@pytest.fixture(scope="module")
def chromium() -> t.Iterator[t.Any]:
    with browser.chromium() as instance:
        yield instance


def log_in(page: t.Any, api: Api, user: str, project: str = "") -> None:
    page.goto(api.url + "/dashboard/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    if project:
        page.get_by_label("Project").fill(project)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(api.url + "/dashboard/")


def test_log_in_see_the_overview_switch_project_and_log_out(api: Api, chromium: t.Any) -> None:
    context = chromium.new_context(viewport=browser.DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # a script's error or a Content-Security-Policy violation (a refused page's status is no error here)
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    # the API's root sends a browser to the dashboard, and the dashboard to its login page
    page.goto(api.url + "/")
    assert page.url.startswith(api.url + "/dashboard/login")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_label("Project").fill("pa")
    page.get_by_role("button", name="Log in").click()
    assert page.locator("#login-error").inner_text() == "The user name, the password or the project is wrong."
    browser.screenshot(page, "dashboard-login-refused")
    log_in(page, api, "alice", "pa")
    assert page.locator("#current-project").inner_text() == "pa"
    rings = page.locator("#usage figure")
    assert rings.count() == 5 and "Instances" in rings.first.inner_text()
    session = [c for c in context.cookies() if c["name"] == "stratus_session"][0]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/dashboard"
    assert page.evaluate("document.cookie") == ""  # the token is out of the page's scripts' reach
    browser.screenshot(page, "dashboard-overview")
    # the keyboard reaches the menu: the skip link first
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.set_viewport_size(browser.PHONE)
    assert page.locator("#usage").is_visible()
    browser.screenshot(page, "dashboard-overview-phone")
    page.set_viewport_size(browser.DESKTOP)
    page.goto(api.url + "/dashboard/projects")
    assert page.locator("#projects tbody tr").count() >= 1
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(api.url + "/dashboard/login")
    page.goto(api.url + "/dashboard/")
    assert page.url.startswith(api.url + "/dashboard/login")
    assert errors == []
    context.close()


def test_a_form_posted_without_its_csrf_token_is_refused(api: Api, chromium: t.Any) -> None:
    context = chromium.new_context(viewport=browser.DESKTOP)
    page = context.new_page()
    log_in(page, api, "bob", "pb")
    cookie = [c for c in context.cookies() if c["name"] == "stratus_session"][0]["value"]
    # the logout form without its token, with the session's cookie (what a page on another site would send)
    req = urllib.request.Request(api.url + "/dashboard/logout", data=urllib.parse.urlencode({}).encode(),
                                 method="POST", headers={"Cookie": "stratus_session=" + cookie,
                                                         "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=60)
    assert refused.value.code == 403 and b"CSRF" in refused.value.read()
    page.reload()
    assert page.locator("#current-project").inner_text() == "pb"  # still logged in: nothing was done
    context.close()
