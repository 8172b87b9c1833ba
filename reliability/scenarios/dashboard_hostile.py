"""Dashboard hostile input: every form of the dashboard, found by crawling it, attacked; nothing executes,
nothing leaks, nothing is written.

Against a real `stratus api` (two workers, a real SQLite store) with a member (alice, of pa, a reader of pc
too so that the project switcher has a form), another project's member (bob, of pb) and an admin (root).
Seeded first: bob's server and key pair (what alice must never see: their name, metadata, public key), and
alice's server with markup in its name and metadata (stored input that every page must show as text) and her
key pair; the servers ACTIVE on hv1 through the collection's own create path in process (no build to wait
for), the key pairs through the API.

The dashboard is mapped, not listed: as alice and as root, every /dashboard page reachable by links from the
overview (same origin; log out left for the end), and every <form> on them with its fields (inputs, hidden
ones, selects, textareas); the login form from an anonymous visit. Pages added later are covered without a
change here (stratus_lab.dashboard_crawl). Then:

- CSRF: every POST form without its token, with an empty, a wrong one, another session's of the same user,
  another user's, the login cookie's value, and a wrong one before the right one: 403, the store's rows
  unchanged, the session's cookie the same and still valid; the login form without its double-submit token,
  with another browser's, with a session's: 403, no session set;
- another project's ids: every crawled URL and every form field that holds one of alice's ids (her server's,
  her key pair's name, her project) with bob's instead, GET and POST (and guessed pages: a server's detail,
  console, log, actions; a key pair; the admin pages as a member): 403/404/405 (400 for a form's field),
  nothing of bob's in the answer, nothing written, bob's server row the same;
- every page with each payload in its query (its GET forms' fields, and names list pages read: marker,
  limit, sort_key, ...): never a 5xx, never a payload unescaped;
- hostile values, one field at a time, the others as the page filled them (script tags, attribute breakouts,
  `"><svg onload=...>`, `javascript:` URLs, template syntax, SQL, 70,000 characters, bidi and control
  characters, another project's ids; and as raw bodies: NUL, bad UTF-8 percent-encodings, a body over the
  form limit): never a 5xx, never a traceback, never a payload unescaped, no redirect off the dashboard;
- every page crawled again and checked (no payload unescaped, no script of its own, no inline handler, no
  javascript: URL), then opened in a real chromium (stratus_lab.browser) as each user, with listeners for
  dialogs, page errors and console errors (a Content-Security-Policy refusal is one), and each form with a
  visible text field submitted there with a payload whose execution would show (it sets document.title or
  calls alert): nothing runs;
- log out through the form: the token is revoked. The API's log: no traceback, no password.
"""
from __future__ import annotations

import http.client
import typing as t
import urllib.parse

from stratus_lab import ansible_run, api_server, scenario, store
from stratus_lab import browser as real_browser
from stratus_lab.api_server import User
from stratus_lab.asgi import Reply
from stratus_lab.dashboard_crawl import Crawl, Form, HttpBrowser, crawl, local, parse

# api_isolation's catalog (reliability/scenarios is the script's own directory, first on sys.path): pb's private
# flavor, image and network; its users but carol
from api_isolation import CAPACITY, CATALOG, USERS as ISOLATION_USERS

USERS = {name: ISOLATION_USERS[name] for name in ("alice", "bob", "root")}
SESSION = "stratus_session"
PWNED = "pwned-by-payload"  # what an executed payload sets document.title to, or says in an alert
# (name, value, tell): the tell is what only an unescaped copy of the value would put in a page; a payload
# without one is caught by the page parse (an on* attribute, a javascript: URL) or only must not break anything
PAYLOADS: list[tuple[str, str, t.Optional[str]]] = [
    ("script", "<script>document.title='%s'</script>" % PWNED, "<script>document.title"),
    ("svg_onload", "\"><svg onload=alert('%s')>" % PWNED, "<svg onload"),
    ("attribute_breakout", "\" autofocus onfocus=\"alert('%s')" % PWNED, None),
    ("javascript_url", "javascript:alert('%s')" % PWNED, None),
    ("long", "A" * 70000, None),
    ("img_onerror", "'><img src=x onerror=alert('%s')>" % PWNED, "<img src=x onerror"),
    ("textarea_breakout", "</textarea><script>alert('%s')</script>" % PWNED, "</textarea><script>"),
    ("template", "{{ 'tpl' ~ 'EXEC' }}{% print 'tpl' ~ 'EXEC' %}", "tplEXEC"),  # rendered, not shown: tplEXEC
    ("sql", "' OR '1'='1'; DROP TABLE instances; --", None),
    ("bidi_control", "\u202e\x1b[31mevil\x07\r\nSet-Cookie: x=1", None),
    ("unicode", "\u03a9\u2248\u00e7 \U0001d54f \u65e5\u672c\u8a9e", None),
]
# quick (make test): an element, an attribute breakout and the long value; the full run has every payload
QUICK_PAYLOADS = ("script", "attribute_breakout", "long")
# (name, raw urlencoded value, the statuses it may get): bodies a browser would not send
RAW_VALUES = [("nul", b"a%00b", {400}), ("bad_utf8", b"%FF%FE%C0%AF", {400}),
              ("over_the_limit", b"A" * (200 * 1024), {413})]
# Pages and actions another helper's pages may serve (a 404 now): B's ids in them must find nothing either
GUESSED_PAGES = ["/dashboard/instances/{server}", "/dashboard/instances/{server}/console",
                 "/dashboard/instances/{server}/log", "/dashboard/instances/{server}/actions",
                 "/dashboard/keypairs/{key}", "/dashboard/admin/hypervisors", "/dashboard/admin/instances",
                 "/dashboard/admin/instances/{server}"]
GUESSED_ACTIONS = ["/dashboard/instances/{server}/delete", "/dashboard/instances/{server}/action",
                   "/dashboard/instances/{server}/stop", "/dashboard/keypairs/{key}/delete"]
REDIRECTS = (301, 302, 303, 307, 308)
MISTYPED = "a-mistyped-Pa55word-9f3b"  # a failed login's password: never in a page or the log


def csrf_of(browser: HttpBrowser) -> str:
    from stratus_cli.dashboard.session import csrf_for
    return csrf_for(browser.cookies.get(SESSION, ""))


class Attack:
    """One scenario's requests and the checks every answer gets."""

    def __init__(self, sc: scenario.Scenario, url: str, db_url: str, b_marks: list[str],
                 payloads: list[tuple[str, str, t.Optional[str]]]) -> None:
        self.sc, self.url, self.db_url, self.b_marks, self.payloads = sc, url, db_url, b_marks, payloads
        # what no page may ever hold: a session's token (the cookie is HttpOnly for that), a password
        self.secrets: set[str] = {u.password for u in USERS.values()} | {MISTYPED}

    def judge(self, case: str, reply: Reply, allowed: t.Optional[set[int]] = None, as_member: bool = False) -> None:
        sc = self.sc
        sc.count("requests")
        sc.count("status_%d" % reply.status)
        text = reply.text
        where = "%s: %s %s" % (case[:200], reply.status, text[:300])
        sc.check("no_5xx", reply.status < 500, where)
        sc.check("no_traceback_in_answers", not api_server.tracebacks(text), where)
        shown = [tell for _n, _v, tell in PAYLOADS if tell and tell in text]
        sc.check("no_payload_unescaped", not shown, "%s (%s)" % (where, shown))
        if reply.headers.get("content-type", "").startswith("text/html"):
            dangers = parse("/dashboard/", text, self.url).dangers
            sc.check("no_script_handler_or_javascript_url_in_pages", not dangers, "%s (%s)" % (where, dangers[:3]))
        if reply.status in REDIRECTS:
            target = urllib.parse.urlsplit(reply.location)
            sc.check("redirects_stay_on_the_dashboard", not target.scheme and not target.netloc
                     and target.path.startswith("/dashboard"), "%s -> %s" % (case, reply.location))
        secrets = [secret[:6] + "..." for secret in self.secrets if secret in text]
        sc.check("no_token_or_password_in_pages", not secrets, "%s (%s)" % (where, secrets))
        if as_member:
            leaked = [m for m in self.b_marks if m in text]
            sc.check("nothing_of_another_project_shown", not leaked, "%s (%s)" % (where, leaked))
        if allowed is not None:
            sc.check("refused_with_the_expected_status", reply.status in allowed, "%s, expected %s" % (
                where, sorted(allowed)))

    def session_intact(self, who: str, browser: HttpBrowser, cookie: str) -> None:
        home = browser.get("/dashboard/")
        self.sc.check("session_intact_after_refusals", browser.cookies.get(SESSION) == cookie and home.status == 200,
                      "%s: %s" % (who, home.status))


def log_in(url: str, user: User, secrets: set[str]) -> HttpBrowser:
    browser = HttpBrowser(url)
    browser.log_in(user.name, user.password, user.project)
    secrets.add(browser.cookies[SESSION])
    return browser


# --- CSRF ---------------------------------------------------------------------------------------------------

def csrf_attacks(at: Attack, sessions: dict[str, HttpBrowser], forms: dict[str, dict[str, Form]],
                 strangers: dict[str, str]) -> None:
    """Every session's POST form with every wrong token; then the login form's."""
    before = api_server.row_counts(at.db_url)
    for who, browser in sessions.items():
        cookie = browser.cookies[SESSION]
        for form in (f for f in forms[who].values() if f.method == "post" and not f.action.startswith(
                "/dashboard/login")):
            plain = [(n, v) for n, v in form.pairs() if n != "csrf_token"]
            cases: list[tuple[str, list[tuple[str, str]]]] = [
                ("absent", plain), ("empty", plain + [("csrf_token", "")]),
                ("wrong", plain + [("csrf_token", "0" * 64)]), ("short", plain + [("csrf_token", "x")]),
                ("wrong before the right one", plain + [("csrf_token", "0" * 64), ("csrf_token", csrf_of(browser))]),
                ("the login cookie's", plain + [("csrf_token", strangers["login_cookie"])])]
            cases += [("%s's session's" % name, plain + [("csrf_token", token)])
                      for name, token in strangers.items() if name != "login_cookie"]
            for case, pairs in cases:
                reply = browser.post(form.action, pairs)
                at.judge("csrf %s as %s: %s" % (case, who, form.key), reply, {403}, who == "alice")
                at.sc.check("csrf_refusal_says_why", "CSRF" in reply.text, "%s %s" % (case, form.key))
                at.sc.count("csrf_refusals", reply.status == 403)
        at.session_intact(who, browser, cookie)
    # the login form: a double-submit token (cookie and field); a page on another site can set neither
    anonymous, other = HttpBrowser(at.url), HttpBrowser(at.url)
    anonymous.get("/dashboard/login")
    other.get("/dashboard/login")
    alice = USERS["alice"]
    fields = [("username", alice.name), ("password", alice.password), ("project", ""), ("next", "/dashboard/")]
    for case, token in (("absent", None), ("wrong", "0" * 43), ("another browser's", other.cookies["stratus_login"]),
                        ("a session's", strangers.get("alice's other", "x"))):
        pairs = fields + ([("csrf_token", token)] if token is not None else [])
        reply = anonymous.post("/dashboard/login", pairs)
        at.judge("login csrf %s" % case, reply, {403})
        at.sc.check("refused_login_sets_no_session", SESSION not in anonymous.cookies, case)
        at.sc.count("csrf_refusals", reply.status == 403)
    after = api_server.row_counts(at.db_url)
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    at.sc.check("nothing_written_by_refused_forms", not changed, str(changed))


# --- another project's ids ----------------------------------------------------------------------------------

def swapped(text: str, swaps: dict[str, str]) -> str:
    """`text` with each of alice's ids (a whole path segment, or the whole value) as bob's."""
    if text in swaps:
        return swaps[text]
    path, sep, query = text.partition("?")
    return "/".join(swaps.get(s, s) for s in path.split("/")) + sep + query


def cross_project(at: Attack, alice: HttpBrowser, pages: Crawl, swaps: dict[str, str], b_ids: dict[str, str],
                  b_row: t.Callable[[], t.Any]) -> None:
    before, row_before = api_server.row_counts(at.db_url), b_row()
    cookie = alice.cookies[SESSION]
    targets = {swapped(p, swaps) for p in pages.pages} - set(pages.pages)
    targets |= {g.format(**b_ids) for g in GUESSED_PAGES}
    for path in sorted(targets):
        at.judge("alice GET %s" % path, alice.get(path), {403, 404}, True)
        at.sc.count("cross_project_attempts")
    posts: list[tuple[str, list[tuple[str, str]]]] = []
    for form in (f for f in pages.forms.values() if f.method == "post"):
        action, pairs = swapped(form.action, swaps), [(n, swapped(v, swaps) if n != "csrf_token" else csrf_of(alice))
                                                      for n, v in form.pairs()]
        if action != form.action or pairs != [(n, v if n != "csrf_token" else csrf_of(alice))
                                              for n, v in form.pairs()]:
            posts.append((action, pairs))
    posts += [(g.format(**b_ids), [("csrf_token", csrf_of(alice)), ("action", "stop"), ("confirm", "yes")])
              for g in GUESSED_ACTIONS]
    for action, pairs in posts:
        at.judge("alice POST %s %s" % (action, pairs), alice.post(action, pairs), {400, 403, 404, 405}, True)
        at.sc.count("cross_project_attempts")
    after, row_after = api_server.row_counts(at.db_url), b_row()
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    at.sc.check("nothing_written_by_another_projects_ids", not changed and row_before == row_after,
                "%s; B's row %s -> %s" % (changed, row_before, row_after))
    at.session_intact("alice", alice, cookie)


# --- hostile values -----------------------------------------------------------------------------------------

def hostile_values(at: Attack, who: str, browser: t.Optional[HttpBrowser], forms: dict[str, Form],
                   user: User) -> None:
    """Each field of each POST form, one at a time, with each payload; the others as the page filled them (the
    login form: alice's good credentials, so a hostile `next` gets as far as the redirect)."""
    for form in (f for f in forms.values() if f.method == "post"):
        login = form.action.startswith("/dashboard/login")
        if login:
            browser = HttpBrowser(at.url)
            browser.get("/dashboard/login")
        assert browser is not None
        base = (dict(form.pairs(), username=user.name, password=user.password, project=user.project) if login
                else dict(form.pairs()))
        for name in [n for n in base if n != "csrf_token"]:
            for case, value, _tell in at.payloads:
                pairs = list(dict(base, **{name: value}, csrf_token=token(browser, login)).items())
                reply = browser.post(form.action, pairs)
                where = "%s=%s as %s: %s" % (name, case, who, form.key)
                at.judge(where, reply, None, who == "alice")
                at.sc.count("hostile_posts")
                at.sc.count("hostile_accepted" if reply.status in REDIRECTS else "hostile_refused")
                if reply.status in REDIRECTS:  # which fields take any text: the report lists them
                    accepted = at.sc.figures.setdefault("hostile_accepted_by_field", {})
                    accepted["%s %s" % (form.action, name)] = accepted.get("%s %s" % (form.action, name), 0) + 1
                follow(at, browser, reply, where, who == "alice")
                if login:
                    at.sc.check("password_never_shown", user.password not in reply.text, where)
                    if name == "next":  # good credentials: in, and on to the overview whatever `next` said
                        at.sc.check("a_hostile_next_lands_on_the_overview", reply.status == 303 and
                                    reply.location == "/dashboard/", "%s: %s" % (where, reply.location))
                    browser.cookies.pop(SESSION, None)  # the next attempt starts logged out again, on a new form
                    browser.get("/dashboard/login")  # (a login uses up its form's token)
            # the raw bodies are refused before any form's own work: quick, once per form is enough
            for case, raw, allowed in RAW_VALUES if not at.sc.quick or name == first_field(base) else []:
                body = urllib.parse.urlencode(list(dict(base, **{name: "RAW"}, csrf_token=token(
                    browser, login)).items())).encode().replace(b"=RAW", b"=" + raw)
                at.judge("raw %s=%s as %s: %s" % (name, case, who, form.key), browser.post_raw(form.action, body),
                         allowed, who == "alice")
                at.sc.count("hostile_posts")
        at.sc.count("forms_attacked")
        if not login and browser.get("/dashboard/").status != 200:  # an accepted form may end a session: again
            at.sc.count("logins_again")
            browser.cookies.clear()
            browser.log_in(user.name, user.password, user.project)
            at.secrets.add(browser.cookies[SESSION])


def hostile_queries(at: Attack, who: str, browser: HttpBrowser, pages: Crawl) -> None:
    """Every crawled page with each payload in its GET forms' fields (filters, searches) and in the query
    names list pages commonly read (marker, limit, sort, ...)."""
    names = {"name", "marker", "limit", "sort_key", "sort_dir", "q", "status", "page", "next"}
    names |= {f.name for form in pages.forms.values() if form.method == "get" for f in form.fields}
    for path, first in pages.pages.items():
        if first.status != 200 or path.startswith("/dashboard/login"):
            continue
        for case, value, _tell in at.payloads[:2] if at.sc.quick else at.payloads:
            # a URL is kept short (the server's request line has a limit of its own: tried once below)
            query = urllib.parse.urlencode({name: value[:1000] for name in sorted(names)})
            joined = path + ("&" if "?" in path else "?") + query
            reply = browser.get(joined)
            at.judge("query %s as %s: %s" % (case, who, path), reply, None, who == "alice")
            at.sc.count("hostile_queries")
    try:  # a request line past the server's limit: a 4xx or the connection closed, and the server still up
        at.judge("an overlong URL as %s" % who, browser.get("/dashboard/?q=" + "A" * 100000), None, who == "alice")
    except (ConnectionError, http.client.HTTPException):
        at.sc.count("overlong_urls_closed")
    at.sc.check("the_server_answers_after_an_overlong_url", browser.get("/dashboard/").status == 200, who)


def first_field(base: dict[str, str]) -> str:
    return next((n for n in base if n != "csrf_token"), "")


def token(browser: HttpBrowser, login: bool) -> str:
    return browser.cookies.get("stratus_login", "") if login else csrf_of(browser)


def follow(at: Attack, browser: HttpBrowser, reply: Reply, where: str, as_member: bool) -> None:
    """Where an accepted form sends the browser: that page shows what was stored."""
    if reply.status in REDIRECTS:
        target = local("/dashboard/", reply.location, at.url)
        if target is not None:
            at.judge("after " + where, browser.get(target), None, as_member)


# --- a real browser -----------------------------------------------------------------------------------------


def _listen(at: t.Any, page: t.Any) -> list[str]:
    """The list a page's dialogs (but data-confirm's questions, accepted), script errors and console errors
    (a Content-Security-Policy refusal is one) are added to: a payload that ran shows there."""
    events: list[str] = []

    def on_dialog(dialog: t.Any) -> None:
        if dialog.type == "confirm":  # stratus.js's data-confirm: a question, not a payload
            at.sc.count("chromium_confirms")
            dialog.accept()
        else:
            events.append("dialog %s: %s" % (dialog.type, dialog.message))
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: events.append("pageerror: %s" % exc))
    page.on("console", lambda msg: events.append("console: " + msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    return events


def in_chromium(at: Attack, users: list[User], crawls: dict[str, Crawl], submit: bool) -> None:
    """Every crawled page of each user opened in chromium, and each form with a visible text field submitted
    there with the script payload: no dialog (but data-confirm's questions), no page error, no console error,
    the title never the payload's."""
    hostile_urls = ["/dashboard/login?next=javascript:alert('%s')" % PWNED,
                    "/dashboard/%3Cscript%3Ealert('" + PWNED + "')%3C/script%3E",
                    "/dashboard/%22%3E%3Csvg%20onload=alert('" + PWNED + "')%3E",
                    "/dashboard/projects?x=%3Cscript%3Ealert(1)%3C/script%3E"]
    with real_browser.chromium() as chrome:
        for user in users:
            context = chrome.new_context(viewport=real_browser.DESKTOP)
            page = context.new_page()
            page.set_default_timeout(30000)
            events = _listen(at, page)
            page.goto(at.url + "/dashboard/login")  # a refused login shows the name typed: as text
            page.fill("#username", "<script>document.title='%s'</script>\"><svg onload=alert('%s')>" % (PWNED, PWNED))
            page.fill("#password", MISTYPED)
            with page.expect_navigation():
                page.click("button[type=submit]")
            watch(at, page, events, "a refused login with markup in the name")
            page.fill("#username", user.name)
            page.fill("#password", user.password)
            page.fill("#project", user.project)
            page.click("button[type=submit]")
            page.wait_for_url(at.url + "/dashboard/")
            paths = [p for p, r in crawls[user.name].pages.items() if r.headers.get("content-type", "").startswith(
                "text/html")] + hostile_urls
            for path in paths:
                page.goto(at.url + path)
                watch(at, page, events, "%s opens %s" % (user.name, path))
            if submit:
                for form in crawls[user.name].forms.values():
                    submit_in_chromium(at, page, form, events, user.name)
            real_browser.screenshot(page, "dashboard-hostile-%s" % user.name)
            context.close()


def watch(at: Attack, page: t.Any, events: list[str], case: str) -> None:
    at.sc.count("chromium_pages")
    title = page.title()
    at.sc.check("nothing_executes_in_chromium", title != PWNED and not events, "%s: title %r, %s" % (
        case, title[:80], events[:5]))
    events.clear()


def submit_in_chromium(at: Attack, page: t.Any, form: Form, events: list[str], who: str) -> None:
    texts = [f for f in form.fields if f.kind in ("text", "textarea", "search", "email", "url", "tel", "")]
    if form.method != "post" or not texts or form.action.startswith("/dashboard/login"):
        return
    page.goto(at.url + form.page)
    found = page.locator('form[action="%s"]' % form.action)
    if found.count() == 0:
        return
    target = found.first
    payload = "<script>document.title='%s'</script>\"><svg onload=alert('%s')>" % (PWNED, PWNED)
    for f in texts:
        target.locator('[name="%s"]' % f.name).first.fill(payload)
    with page.expect_navigation():
        target.evaluate("f => f.requestSubmit()")
    at.sc.count("chromium_forms_submitted")
    watch(at, page, events, "%s submits %s" % (who, form.key))


# --- the run ------------------------------------------------------------------------------------------------

def make_server(db_url: str, user: User, name: str, metadata: dict[str, str], flavor: str, image: str,
                network: str) -> str:
    """An ACTIVE server of `user`'s project on hv1, made by the collection's own create path in process (what
    the provision play's first part does; no build to wait for), as tests/integration/
    test_api_resources_clients.py makes one; its uuid."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    caller = Caller({"user_id": user.user_id, "project_id": user.project, "roles": ["member"]}, Enforcer(None))
    request = {"name": name, "flavor": flavor, "image": image, "networks": [{"name": network}], "min_count": 1,
               "max_count": 1, "metadata": metadata, "tags": [], "config_drive": True}
    made = create_servers(request, caller, CATALOG, ["hv1"], {"hv1": CAPACITY}, db_url, False, "req-seed-" + user.name)
    uuid = str(made.servers[0]["id"])
    with engine.transaction(db_url) as conn:
        lifecycle.mark_active(conn, uuid)
    return uuid


def seed(url: str, db_url: str) -> dict[str, t.Any]:
    """bob's server and key pair (B's secrets), alice's with markup in their names and metadata; the ids."""
    alice, bob = USERS["alice"], USERS["bob"]
    b_server = make_server(db_url, bob, "b-srv-secret", {"owner": "b-meta-secret"}, "pb.private", "pb-image",
                           "pb-net")
    a_server = make_server(db_url, alice, "<script>document.title='%s'</script>" % PWNED, {
        "note": "\"><svg onload=alert('%s')>" % PWNED, "link": "javascript:alert(1)"}, "m1.tiny", "cirros", "net1")
    b_key = api_server.call(url, "/v2.1/os-keypairs", bob.token, "POST", version="2.10",
                            body={"keypair": {"name": "b-key"}})
    mine = api_server.call(url, "/v2.1/os-keypairs", alice.token, "POST", version="2.10",
                           body={"keypair": {"name": "a-key"}})
    if b_key.status not in (200, 201) or mine.status not in (200, 201):
        raise scenario.CannotRun("seeding: %s %s / %s %s" % (b_key.status, b_key.body, mine.status, mine.body))
    public = b_key.body["keypair"]["public_key"].split()
    return {"b_server": b_server, "a_server": a_server, "b_key_body": public[1][20:60]}


def main(sc: scenario.Scenario) -> None:
    if not api_server.STRATUS.exists():
        raise scenario.CannotRun("the stratus command is not installed (make setup installs it)")
    if not real_browser.CHROMIUM.exists():
        raise scenario.CannotRun("no %s (setup/apt-packages.txt installs chromium)" % real_browser.CHROMIUM)
    sc.figures["backends"] = ["sqlite"]
    payloads = [p for p in PAYLOADS if not sc.quick or p[0] in QUICK_PAYLOADS]
    db_url = store.sqlite_url(sc.work / "store")
    inventory = ansible_run.write_yaml(sc.work / "hosts.yml", ansible_run.controller_inventory(
        CATALOG, {"hv1": {}, "hv2": {}}, CAPACITY, local_hypervisors=sc.work / "pools"))
    api_server.make_identity(db_url, list(USERS.values()), ["pa", "pb", "pc", "ops"])
    from stratus_cli.api import identity
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine
    with engine.transaction(db_url) as conn:
        identity.add_role(conn, "alice", "pc", "reader")  # a second project: the switcher's form
    with api_server.api_processes(inventory, db_url, sc.work, count=1, workers=2) as (api,):
        for user in USERS.values():
            api_server.issue_token(api.url, user)
        ids = seed(api.url, db_url)
        # another project's ids as values too: a form must find nothing of B's with them
        payloads += [("another_projects_server", ids["b_server"], None), ("another_project", "pb", None)]
        at = Attack(sc, api.url, db_url, ["b-srv-secret", "b-meta-secret", ids["b_key_body"], "10.78.0."], payloads)
        sessions = {name: log_in(api.url, USERS[name], at.secrets) for name in ("alice", "root")}
        strangers = {"alice's other": csrf_of(log_in(api.url, USERS["alice"], at.secrets)),
                     "bob's": csrf_of(log_in(api.url, USERS["bob"], at.secrets))}
        anonymous = HttpBrowser(api.url)
        strangers["login_cookie"] = (anonymous.get("/dashboard/login"), anonymous.cookies["stratus_login"])[1]
        at.judge("a mistyped password", anonymous.post("/dashboard/login", {
            "username": "alice", "password": MISTYPED, "csrf_token": strangers["login_cookie"]}), {401})
        crawls = {who: crawl(b, limit=60 if sc.quick else 300) for who, b in sessions.items()}
        crawls["anonymous"] = crawl(HttpBrowser(api.url), "/dashboard/login")
        forms = {who: c.forms for who, c in crawls.items()}
        sc.figures["forms_found"] = sorted({key for c in crawls.values() for key in c.forms})
        sc.figures["pages_crawled"] = {who: len(c.pages) for who, c in crawls.items()}
        for who, c in crawls.items():
            for path, reply in c.pages.items():
                at.judge("crawl as %s: %s" % (who, path), reply, None, who == "alice")
            sc.check("no_form_posts_off_site", not c.off_site_forms, str(c.off_site_forms[:5]))
        sc.check("login_form_found", any(f.action.startswith("/dashboard/login") for f in forms["anonymous"].values()))
        csrf_attacks(at, sessions, {"alice": forms["alice"], "root": forms["root"]}, strangers)

        def b_row() -> t.Any:
            return [tuple(r) for r in store.rows(db_url, "SELECT * FROM instances WHERE uuid = :u", u=ids["b_server"])]

        swaps = {ids["a_server"]: ids["b_server"], "a-key": "b-key", "pa": "pb", "pc": "pb"}
        cross_project(at, sessions["alice"], crawls["alice"], swaps, {"server": ids["b_server"], "key": "b-key"}, b_row)
        for who in ("alice", "root"):
            hostile_queries(at, who, sessions[who], crawls[who])
            hostile_values(at, who, sessions[who], forms[who], USERS[who])
        hostile_values(at, "anonymous", None, forms["anonymous"], USERS["alice"])
        api_server.wait_for(lambda: not api_server.running_runs([api]), 600, 2)
        again = {who: crawl(b, limit=60 if sc.quick else 300) for who, b in sessions.items()}
        for who, c in again.items():
            for path, reply in c.pages.items():
                at.judge("crawl again as %s: %s" % (who, path), reply, None, who == "alice")
        in_chromium(at, [USERS["alice"]] if sc.quick else [USERS["alice"], USERS["root"]], again, True)
        for who, b in sessions.items():
            session_token = b.cookies[SESSION]
            logout = next((f for f in again[who].forms.values() if f.action == "/dashboard/logout"), None)
            sc.check("logout_form_found", logout is not None, who)
            reply = b.post("/dashboard/logout", [("csrf_token", csrf_of(b))])
            at.judge("log out " + who, reply, {303}, who == "alice")
            revoked = api_server.call(api.url, "/v2.1/flavors", session_token)
            sc.check("log_out_revokes_the_token", revoked.status == 401 and b.get("/dashboard/").status == 303, who)
        api_server.wait_for(lambda: not api_server.running_runs([api]), 600, 2)
    log = api.log_text()
    sc.check("no_failed_login_password_in_api_log", MISTYPED not in log)
    sc.check("no_traceback_in_api_log", not api_server.tracebacks(log), str(api_server.tracebacks(log)[:5]))
    sc.check("no_password_in_api_log", not [u.name for u in USERS.values() if u.password in log])


if __name__ == "__main__":
    scenario.Scenario("dashboard_hostile", __doc__ or "").run(main)
