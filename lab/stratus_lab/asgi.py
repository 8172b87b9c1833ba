# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`stratus api`'s ASGI application driven in process, as a browser would (cookies kept, forms posted) or as
a client would (JSON): the unit tests of the API and the dashboard, with no server and no lab."""
from __future__ import annotations

import asyncio
import html.parser
import http.cookies
import json
import typing as t
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    set_cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> t.Any:
        return json.loads(self.body)

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


def request(app: t.Any, method: str, path: str, headers: t.Optional[t.Mapping[str, str]] = None,
            body: bytes = b"") -> Reply:
    """One request through the app; every status comes back (no redirect is followed)."""
    path, _sep, query = path.partition("?")
    sent = {"host": "dashboard.test"}
    sent.update(headers or {})
    if body:
        sent["content-length"] = str(len(body))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": query.encode(), "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 8774), "client": ("127.0.0.1", 50000),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in sent.items()]}
    messages: list[dict[str, t.Any]] = []
    given = False

    async def receive() -> dict[str, t.Any]:
        nonlocal given
        if given:
            return {"type": "http.disconnect"}
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    raw_headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in start["headers"]]
    return Reply(start["status"], dict(raw_headers),
                 b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"),
                 [v for k, v in raw_headers if k == "set-cookie"])


class _Inputs(html.parser.HTMLParser):
    """The hidden inputs of a page's forms (CSRF tokens, ids), by name: the last one of each name."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, t.Optional[str]]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.values[str(found["name"])] = found.get("value") or ""


def hidden_inputs(page: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(page)
    return parser.values


class Browser:
    """A cookie-keeping client of the dashboard in process: get pages, post forms (with the page's CSRF token
    unless told not to), log in."""

    url = "http://dashboard.test"  # the origin its pages are at (request()'s Host)

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    def _keep(self, reply: Reply) -> Reply:
        for header in reply.set_cookies:
            jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value in ("", '""'):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return reply

    def send(self, method: str, path: str, headers: t.Mapping[str, str], body: bytes = b"") -> Reply:
        """One request, as this browser's transport carries it (in process here; over HTTP in a subclass)."""
        return request(self.app, method, path, headers, body)

    def _cookie_header(self) -> dict[str, str]:
        return {"cookie": "; ".join("%s=%s" % kv for kv in self.cookies.items())} if self.cookies else {}

    def get(self, path: str, headers: t.Optional[t.Mapping[str, str]] = None) -> Reply:
        return self._keep(self.send("GET", path, dict(self._cookie_header(), accept="text/html", **(headers or {}))))

    def post(self, path: str, form: t.Union[t.Mapping[str, t.Any], list[tuple[str, str]]],
             csrf_from: t.Optional[str] = None) -> Reply:
        """POST a form; ``csrf_from``: a page whose csrf_token to send with it."""
        pairs = list(form.items()) if isinstance(form, t.Mapping) else list(form)
        if csrf_from is not None:
            pairs.append(("csrf_token", self.csrf(csrf_from)))
        body = urllib.parse.urlencode(pairs, doseq=True).encode()
        headers = dict(self._cookie_header(), **{"content-type": "application/x-www-form-urlencoded"})
        return self._keep(self.send("POST", path, headers, body))

    def csrf(self, path: str) -> str:
        return hidden_inputs(self.get(path).text)["csrf_token"]

    def log_in(self, user: str, password: str, project: str = "") -> Reply:
        reply = self.post("/dashboard/login", {"username": user, "password": password, "project": project,
                                               "next": "/dashboard/"}, csrf_from="/dashboard/login")
        assert reply.status == 303 and reply.location == "/dashboard/", (reply.status, reply.text[:500])
        return reply
