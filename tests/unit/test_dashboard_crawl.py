"""stratus_lab.dashboard_crawl, the map reliability/scenarios/dashboard_hostile.py attacks: the links and forms
of a page (every kind of field, as a browser would send them), what leaves the site, and what a page must never
hold (inline scripts, handlers, javascript: URLs); and a crawl of the real dashboard in process."""
from __future__ import annotations

import typing as t

from stratus_lab.asgi import Browser
from stratus_lab.dashboard_crawl import crawl, parse, pattern

import test_dashboard_session
from test_dashboard_session import PASSWORD

app = test_dashboard_session.app  # the fixture: a store, alice of pa and pb

ORIGIN = Browser.url
PAGE = """
<a href="/dashboard/instances">x</a> <a href="https://evil.test/dashboard/">off</a> <a href="keypairs">rel</a>
<a href="/v2.1/servers">api</a> <tbody data-rows-url="/dashboard/instances/rows?x=1"></tbody>
<form method="post" action="/dashboard/instances/0b8a5b8e-3c1d-4b55-9c1e-6d0f0b1a2cb0/action">
  <input type="hidden" name="csrf_token" value="abc"><input name="name" value="a &amp; b">
  <select name="action"><option value="stop">Stop</option><option value="reboot" selected>Reboot</option></select>
  <textarea name="user_data">#!/bin/sh</textarea><input type="checkbox" name="force">
  <input type="checkbox" name="confirm" value="yes" checked><button type="submit" name="go" value="1">Go</button>
</form>
<form action="/dashboard/instances"><input type="search" name="q"></form>
<form method="post" action="https://evil.test/steal"><input name="x"></form>
"""


def test_a_page_gives_its_links_and_forms_as_a_browser_would_send_them() -> None:
    found = parse("/dashboard/", PAGE, ORIGIN)
    assert found.links == ["/dashboard/instances", "/dashboard/keypairs", "/dashboard/instances/rows?x=1"]
    post, get = found.forms
    assert post.method == "post" and post.pairs() == [("csrf_token", "abc"), ("name", "a & b"), ("action", "reboot"),
                                                      ("user_data", "#!/bin/sh"), ("confirm", "yes")]
    assert post.key == "post /dashboard/instances/{id}/action [action,confirm,csrf_token,name,user_data]"
    assert get.method == "get" and get.pairs(q="x") == [("q", "x")]
    assert found.off_site_forms == ["/dashboard/ -> https://evil.test/steal"] and found.dangers == []
    assert pattern("/dashboard/instances/0B8A5B8E-3C1D-4B55-9C1E-6D0F0B1A2CB0?x=1") == "/dashboard/instances/{id}"


def test_what_no_page_may_hold_is_found() -> None:
    page = ('<script>alert(1)</script><script src="/dashboard/static/stratus.js"></script>'
            '<img src=x onerror="alert(1)"><a href=" JaVa\tScript:alert(1)">x</a><svg onload=alert(1)></svg>'
            '<iframe src="data:text/html,x"></iframe>')
    dangers = parse("/dashboard/", page, ORIGIN).dangers
    assert len(dangers) == 6, dangers  # the inline script (tag and text), onerror, the URL, onload, data:


def test_the_dashboard_crawled_in_process(app: t.Any) -> None:  # noqa: F811
    browser = Browser(app)
    browser.log_in("alice", PASSWORD)
    found = crawl(browser)
    assert {"/dashboard/", "/dashboard/projects"} <= set(found.pages) and not found.dangers
    assert {"post /dashboard/logout [csrf_token]",
            "post /dashboard/projects/switch [csrf_token,project_id]"} <= set(found.forms)
