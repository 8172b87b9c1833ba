"""The dashboard reviewed as an attacker would (docs/trust-model.md, "The dashboard"), through `stratus api`'s
application in process: a login ends the browser's former session (session fixation) and uses up its form's
token, `next` never leaves the dashboard, every page and file carries its headers (CSP, no framing, nosniff,
no-store; HSTS over HTTPS), the CSRF compare is constant-time, forms are refused past their limits, and a
failed login is logged by user name (cleaned) and never with its password. The whole dashboard under attack:
reliability/scenarios/dashboard_hostile.py."""
from __future__ import annotations

import hmac
import logging
import typing as t
import urllib.parse

import pytest
from starlette.requests import Request

from stratus_cli.dashboard import pages, session as dashboard_session
from stratus_lab.asgi import Browser, request

import test_dashboard_session
from test_dashboard_session import PASSWORD

app = test_dashboard_session.app  # the fixture: a store, alice of pa and pb


def test_a_login_revokes_the_session_the_browser_had_and_uses_up_its_form_token(app: t.Any) -> None:
    planted = Browser(app)
    planted.log_in("nodefault", PASSWORD, "pb")  # an attacker's own session, planted in the victim's browser
    victim = Browser(app)
    form_token = victim.csrf("/dashboard/login")  # the victim opened the login form; then the cookie was planted
    victim.cookies["stratus_session"] = planted.cookies["stratus_session"]
    reply = victim.post("/dashboard/login", {"username": "alice", "password": PASSWORD, "csrf_token": form_token})
    assert reply.status == 303
    assert victim.cookies["stratus_session"] != planted.cookies["stratus_session"]
    assert request(app, "GET", "/v2.1/flavors", {"x-auth-token": planted.cookies["stratus_session"]}).status == 401
    assert any(c.startswith("stratus_login=") and "Max-Age=0" in c for c in reply.set_cookies)
    assert "stratus_login" not in victim.cookies
    assert 'id="current-project">pa<' in victim.get("/dashboard/").text
    # a cookie that cannot be a token is not sent to the API: the login still works
    odd = Browser(app)
    odd.cookies["stratus_session"] = "x" * 300
    odd.log_in("alice", PASSWORD)


@pytest.mark.parametrize("target", [
    "https://evil.test/", "//evil.test/", "/\\evil.test", "/dashboard/\\evil.test", "/dashboard//evil.test",
    "javascript:alert(1)", "/dashboard/\tx//evil.test", "/dashboard/\r\nSet-Cookie:x=1", " /dashboard/",
    "/dashboard/\u202e", "/v2.1/servers", "http:/dashboard/", "/dashboard/../..//evil.test"])
def test_next_never_leaves_the_dashboard(app: t.Any, target: str) -> None:
    browser = Browser(app)
    page = browser.get("/dashboard/login?next=" + urllib.parse.quote(target, safe=""))
    assert 'name="next" value="/dashboard/"' in page.text
    reply = browser.post("/dashboard/login", {"username": "alice", "password": PASSWORD, "next": target},
                         csrf_from="/dashboard/login")
    assert reply.status == 303 and reply.location == "/dashboard/"


def test_every_page_and_file_has_its_security_headers(app: t.Any) -> None:
    browser = Browser(app)
    browser.log_in("alice", PASSWORD)
    for path in ("/dashboard/", "/dashboard/projects", "/dashboard/no-such-page", "/dashboard/login"):
        reply = browser.get(path)
        if reply.status == 303:
            continue
        headers = reply.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src 'self'" in headers["content-security-policy"] and "unsafe" not in headers[
            "content-security-policy"], path
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff", path
        assert headers["cache-control"] == "no-store", path
        assert "strict-transport-security" not in headers  # plain HTTP: HSTS would mean nothing
    for path in ("/dashboard/static/stratus.js", "/dashboard/static/stratus.css"):
        reply = browser.get(path)
        assert reply.status == 200 and reply.headers["x-content-type-options"] == "nosniff", path


def test_over_https_pages_ask_for_https_only() -> None:
    scope = {"type": "http", "scheme": "https", "method": "GET", "path": "/dashboard/login", "root_path": "",
             "query_string": b"", "headers": [], "server": ("dashboard.test", 443)}
    reply = pages.render(Request(scope), "error.html", None, status=404, status_code=404, message="gone")
    assert reply.headers["strict-transport-security"] == "max-age=31536000"


def test_the_csrf_compare_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    constant_time = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(dashboard_session.hmac, "compare_digest", recording)
    expected = dashboard_session.csrf_for("a-token")
    dashboard_session.check_csrf({"csrf_token": [expected]}, expected)
    with pytest.raises(dashboard_session.FormRefused):
        dashboard_session.check_csrf({"csrf_token": [expected[:-1] + "0"]}, expected)
    assert len(compared) == 2 and compared[0] == (expected.encode(), expected.encode())


@pytest.mark.parametrize("body, status", [
    (b"a=" + b"x" * (dashboard_session.MAX_FORM + 1), 413), (b"a=1&" * 600, 400), (b"a=%FF", 400),
    (b"a=%00", 400), (b"\xff\xfe", 400)])
def test_forms_past_their_limits_are_refused_before_anything_runs(app: t.Any, body: bytes, status: int) -> None:
    browser = Browser(app)
    browser.log_in("alice", PASSWORD)
    headers = {"cookie": "stratus_session=" + browser.cookies["stratus_session"],
               "content-type": "application/x-www-form-urlencoded"}
    reply = request(app, "POST", "/dashboard/logout", headers, body)
    assert reply.status == status and "Traceback" not in reply.text
    reply = request(app, "POST", "/dashboard/logout", dict(headers, **{"content-type": "text/plain"}), b"x")
    assert reply.status == 415
    assert browser.get("/dashboard/").status == 200  # nothing was done: still logged in


def test_a_failed_login_is_logged_by_name_never_with_its_password(app: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "the-Secret-typed-by-mistake-42"
    for user in ("alice", "forged\r\nINFO token issued: user root", "<script>x</script>"):
        browser = Browser(app)
        reply = browser.post("/dashboard/login", {"username": user, "password": secret},
                             csrf_from="/dashboard/login")
        assert reply.status == 401 and secret not in reply.text
    assert secret not in caplog.text
    assert "bad credentials for user alice" in caplog.text
    assert "\r\nINFO token issued" not in caplog.text and "<script>" not in caplog.text  # no forged log lines
