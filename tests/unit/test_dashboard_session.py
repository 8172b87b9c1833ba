"""The dashboard's sessions through `stratus api`'s application in process (no server, no browser): log in
(the cookie's flags, the login form's CSRF double submit, one message for every bad credential), pages only
with a session, every form refused without its CSRF token, the project switcher, log out (the token revoked),
the API's root sending a browser to the dashboard and a client to Nova's versions. The real browser:
tests/integration/test_dashboard_browser.py."""
from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from stratus_cli.api import app as api_app, identity
from stratus_lab.asgi import Browser, hidden_inputs, request

from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

VARIABLES = {"stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1}],
             "stratus_quotas": {"defaults": {"instances": 3, "cores": 8, "ram": 2048}}}
PASSWORD = "a-password-long-enough"


@pytest.fixture
def app(tmp_path: Path) -> t.Any:
    store_url = "sqlite:///%s" % (tmp_path / "s.db")
    with store.transaction(store_url) as conn:
        for project in ("pa", "pb", "ops"):
            identity.create_project(conn, project, project)
        identity.create_user(conn, "alice", PASSWORD, default_project="pa")
        identity.add_role(conn, "alice", "pa", "member")
        identity.add_role(conn, "alice", "pb", "reader")
        identity.create_user(conn, "nodefault", PASSWORD)
        identity.add_role(conn, "nodefault", "pb", "member")
    return api_app.build_app(api_app.Config(store_url=store_url, variables=VARIABLES))


def test_pages_need_a_session_and_the_login_sets_a_strict_httponly_cookie(app: t.Any) -> None:
    browser = Browser(app)
    reply = browser.get("/dashboard/")
    assert reply.status == 303 and reply.location == "/dashboard/login?next=%2Fdashboard%2F"
    login = browser.get("/dashboard/login")
    assert login.status == 200 and 'name="password"' in login.text
    assert any("stratus_login=" in c and "HttpOnly" in c and "SameSite=strict" in c for c in login.set_cookies)
    assert "script-src 'self'" in login.headers["content-security-policy"]
    assert login.headers["x-frame-options"] == "DENY"
    reply = browser.log_in("alice", PASSWORD)  # blank project: the user's default project
    (cookie,) = [c for c in reply.set_cookies if c.startswith("stratus_session=")]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    overview = browser.get("/dashboard/")
    assert overview.status == 200 and 'id="current-project">pa<' in overview.text
    assert 'data-quota="Instances"' in overview.text and ">Used <span class=\"used-value\">0</span>" in overview.text


@pytest.mark.parametrize("user, password, project", [
    ("alice", "wrong-password-here", ""), ("nobody", PASSWORD, ""), ("alice", PASSWORD, "ops"),
    ("nodefault", PASSWORD, ""), ("alice", PASSWORD, "no-such-project")])
def test_every_bad_login_gets_one_message_and_no_session(app: t.Any, user: str, password: str,
                                                         project: str) -> None:
    browser = Browser(app)
    reply = browser.post("/dashboard/login", {"username": user, "password": password, "project": project},
                         csrf_from="/dashboard/login")
    assert reply.status == 401 and "The user name, the password or the project is wrong." in reply.text
    assert "stratus_session" not in browser.cookies and password not in reply.text


def test_the_login_form_needs_its_csrf_token(app: t.Any) -> None:
    browser = Browser(app)
    browser.get("/dashboard/login")
    reply = browser.post("/dashboard/login", {"username": "alice", "password": PASSWORD})
    assert reply.status == 403 and "CSRF" in reply.text and "stratus_session" not in browser.cookies
    # a token of the form's but not the cookie's (a page on another site): refused alike
    stranger = Browser(app)
    reply = stranger.post("/dashboard/login", {"username": "alice", "password": PASSWORD,
                                               "csrf_token": browser.cookies["stratus_login"]})
    assert reply.status == 403 and "stratus_session" not in stranger.cookies


def test_a_form_without_the_sessions_csrf_token_changes_nothing(app: t.Any) -> None:
    browser = Browser(app)
    browser.log_in("alice", PASSWORD)
    token = browser.cookies["stratus_session"]
    for csrf in (None, "", "0" * 64):
        form = {} if csrf is None else {"csrf_token": csrf}
        reply = browser.post("/dashboard/logout", form)
        assert reply.status == 403 and "CSRF" in reply.text
    assert browser.get("/dashboard/").status == 200 and browser.cookies["stratus_session"] == token
    # another session's token is not this one's
    other = Browser(app)
    other.log_in("alice", PASSWORD)
    reply = browser.post("/dashboard/logout", {"csrf_token": other.csrf("/dashboard/")})
    assert reply.status == 403


def test_log_out_revokes_the_token(app: t.Any) -> None:
    browser = Browser(app)
    browser.log_in("alice", PASSWORD)
    token = browser.cookies["stratus_session"]
    reply = browser.post("/dashboard/logout", {}, csrf_from="/dashboard/")
    assert reply.status == 303 and reply.location == "/dashboard/login"
    assert "stratus_session" not in browser.cookies
    assert request(app, "GET", "/v2.1/flavors", {"x-auth-token": token}).status == 401
    browser.cookies["stratus_session"] = token  # a copied cookie after log out: no session
    assert browser.get("/dashboard/").status == 303


def test_the_project_switcher_lists_the_users_projects_and_rescopes(app: t.Any) -> None:
    browser = Browser(app)
    browser.log_in("alice", PASSWORD)
    old = browser.cookies["stratus_session"]
    page = browser.get("/dashboard/projects")
    assert page.status == 200 and ">pa<" in page.text and ">pb<" in page.text and ">ops<" not in page.text
    pb_id = [v for k, v in hidden_inputs(page.text).items() if k == "project_id"][0]
    reply = browser.post("/dashboard/projects/switch", {"project_id": pb_id}, csrf_from="/dashboard/projects")
    assert reply.status == 303 and browser.cookies["stratus_session"] != old
    assert 'id="current-project">pb<' in browser.get("/dashboard/").text
    assert request(app, "GET", "/v2.1/flavors", {"x-auth-token": old}).status == 401
    # a project the user has no role on: the API's refusal, the session unchanged
    now = browser.cookies["stratus_session"]
    reply = browser.post("/dashboard/projects/switch", {"project_id": "ops"}, csrf_from="/dashboard/projects")
    assert reply.status == 403 and "no role on that project" in reply.text
    assert browser.cookies["stratus_session"] == now and browser.get("/dashboard/").status == 200


def test_the_api_root_sends_a_browser_to_the_dashboard_and_a_client_to_the_versions(app: t.Any) -> None:
    reply = request(app, "GET", "/", {"accept": "text/html,application/xhtml+xml"})
    assert reply.status == 303 and reply.location == "/dashboard/"
    reply = request(app, "GET", "/", {"accept": "application/json"})
    assert reply.status == 200 and reply.json()["versions"][0]["id"] == "v2.1"
    assert request(app, "GET", "/").json()["versions"][0]["id"] == "v2.1"


def test_the_login_goes_back_only_to_a_dashboard_page(app: t.Any) -> None:
    for target, expected in (("/dashboard/projects", "/dashboard/projects"), ("https://evil.test/", "/dashboard/"),
                             ("//evil.test/dashboard/", "/dashboard/"), ("/dashboard//evil.test", "/dashboard/")):
        browser = Browser(app)
        reply = browser.post("/dashboard/login", {"username": "alice", "password": PASSWORD, "next": target},
                             csrf_from="/dashboard/login")
        assert reply.status == 303 and reply.location == expected, target
