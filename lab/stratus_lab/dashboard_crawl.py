# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dashboard as an attacker maps it: every /dashboard page reachable by links from a start page (same
origin only), every form on them with its fields, and what a page must never hold (a script of its own, an
inline handler, a javascript: URL). Nothing here knows the dashboard's pages: a page added later is crawled
and its forms are found without a change here (reliability/scenarios/dashboard_hostile.py)."""
from __future__ import annotations

import html.parser
import http.client
import re
import typing as t
import urllib.parse
from dataclasses import dataclass, field

from stratus_lab.asgi import Browser, Reply

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
# Attributes whose value a browser may follow or run as a URL
URL_ATTRS = ("href", "src", "action", "formaction", "xlink:href", "data", "poster")
# Fields whose value a user (or an attacker) chooses; buttons and files are not sent as text here
DATA_KINDS = ("text", "hidden", "textarea", "select", "search", "email", "number", "url", "tel", "password",
              "checkbox", "radio", "")


class HttpBrowser(Browser):
    """stratus_lab.asgi.Browser over real HTTP to a running `stratus api` (cookies kept, no redirect followed)."""

    def __init__(self, url: str) -> None:
        super().__init__(None)
        parsed = urllib.parse.urlsplit(url)
        self.url, self.host, self.port = url, parsed.hostname or "127.0.0.1", parsed.port or 80

    def send(self, method: str, path: str, headers: t.Mapping[str, str], body: bytes = b"") -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            sent = dict(headers)
            if body or method == "POST":
                sent["content-length"] = str(len(body))
            conn.request(method, path, body=body or None, headers=sent)
            resp = conn.getresponse()
            data = resp.read()
            raw = [(k.lower(), v) for k, v in resp.getheaders()]
        finally:
            conn.close()
        return Reply(resp.status, dict(raw), data, [v for k, v in raw if k == "set-cookie"])

    def post_raw(self, path: str, body: bytes) -> Reply:
        """A form's body as given (bad percent-encodings, sizes past the limit): the cookies sent, none kept."""
        headers = dict(self._cookie_header(), **{"content-type": "application/x-www-form-urlencoded"})
        return self._keep(self.send("POST", path, headers, body))


@dataclass
class Field:
    name: str
    kind: str  # the input's type, or textarea / select
    value: str  # what the page fills in (a select: its selected or first option)


@dataclass
class Form:
    page: str  # the page it was found on
    action: str  # a /dashboard path (its query kept)
    method: str
    fields: list[Field] = field(default_factory=list)

    @property
    def key(self) -> str:
        """One key per kind of form: its method, its action with ids as {id}, its field names."""
        return "%s %s [%s]" % (self.method, pattern(self.action), ",".join(sorted({f.name for f in self.fields})))

    def pairs(self, **override: str) -> list[tuple[str, str]]:
        """The fields as a browser would send them, with some values replaced."""
        out, seen = [], set()
        for f in self.fields:
            if f.kind in ("checkbox", "radio") and f.name in seen:
                continue
            seen.add(f.name)
            out.append((f.name, override.get(f.name, f.value)))
        return out


@dataclass
class PageMap:
    """What one parse of a page found."""

    links: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    off_site_forms: list[str] = field(default_factory=list)
    dangers: list[str] = field(default_factory=list)  # inline scripts, handlers, javascript: URLs


def pattern(path: str) -> str:
    return UUID.sub("{id}", urllib.parse.urlsplit(path).path)


def local(base: str, target: str, origin: str) -> t.Optional[str]:
    """A link's or an action's /dashboard path (with its query), or None when it leaves the dashboard."""
    joined = urllib.parse.urljoin(origin + base, target.strip())
    parts = urllib.parse.urlsplit(joined)
    if parts.scheme + "://" + parts.netloc != origin or not parts.path.startswith("/dashboard"):
        return None
    return parts.path + ("?" + parts.query if parts.query else "")


class _Parser(html.parser.HTMLParser):
    def __init__(self, base: str, origin: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base, self.origin, self.found = base, origin, PageMap()
        self.form: t.Optional[Form] = None
        self.select: t.Optional[Field] = None
        self.textarea: t.Optional[Field] = None
        self.script_has_src = False
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, t.Optional[str]]]) -> None:
        given = {k.lower(): (v or "") for k, v in attrs}
        for name, value in given.items():
            if name.startswith("on"):
                self.found.dangers.append("<%s %s=...> on %s" % (tag, name, self.base))
            if name in URL_ATTRS and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(
                    ("javascript:", "vbscript:", "data:text/html")):
                self.found.dangers.append("<%s %s=%r> on %s" % (tag, name, value[:60], self.base))
        for name, value in given.items():  # a URL the page's script fetches (a live table's rows): a page too
            if name.startswith("data-") and name.endswith("-url") and value:
                target = local(self.base, value, self.origin)
                if target is not None:
                    self.found.links.append(target)
        if tag == "script":
            self.in_script, self.script_has_src = True, bool(given.get("src"))
            if not self.script_has_src:
                self.found.dangers.append("inline <script> on %s" % self.base)
        elif tag == "a" and given.get("href"):
            target = local(self.base, given["href"], self.origin)
            if target is not None:
                self.found.links.append(target)
        elif tag == "form":
            method = (given.get("method") or "get").lower()
            action = local(self.base, given.get("action") or self.base, self.origin)
            if action is None:
                self.found.off_site_forms.append("%s -> %s" % (self.base, given.get("action")))
                self.form = None
            else:
                self.form = Form(self.base, action, method)
        elif self.form is not None and tag == "input" and given.get("name"):
            kind = given.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in given:
                return
            if kind in DATA_KINDS:
                default = "on" if kind == "checkbox" else ""
                self.form.fields.append(Field(given["name"], kind, given.get("value", default)))
        elif self.form is not None and tag == "select" and given.get("name"):
            self.select = Field(given["name"], "select", "")
            self.form.fields.append(self.select)
        elif self.select is not None and tag == "option":
            if not self.select.value or "selected" in given:
                self.select.value = given.get("value", "")
        elif self.form is not None and tag == "textarea" and given.get("name"):
            self.textarea = Field(given["name"], "textarea", "")
            self.form.fields.append(self.textarea)

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea.value += data
        if self.in_script and not self.script_has_src and data.strip():
            self.found.dangers.append("script text on %s: %r" % (self.base, data[:60]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.form is not None:
            self.found.forms.append(self.form)
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "script":
            self.in_script = False


def parse(path: str, text: str, origin: str) -> PageMap:
    parser = _Parser(path, origin)
    parser.feed(text)
    parser.close()
    return parser.found


@dataclass
class Crawl:
    pages: dict[str, Reply] = field(default_factory=dict)  # every page fetched, by path
    forms: dict[str, Form] = field(default_factory=dict)  # one of each kind (Form.key), the first found
    off_site_forms: list[str] = field(default_factory=list)
    dangers: list[str] = field(default_factory=list)


def crawl(browser: Browser, start: str = "/dashboard/", limit: int = 300, per_pattern: int = 3,
          skip: t.Sequence[str] = ("/dashboard/logout", "/dashboard/static")) -> Crawl:
    """Every /dashboard page reachable by links from `start` (breadth first, GET only), at most `per_pattern`
    pages of each path pattern (ids as {id}: three servers' pages stand for all of them) and `limit` in all."""
    out, queue, seen_patterns = Crawl(), [start], {}  # type: ignore[var-annotated]
    while queue and len(out.pages) < limit:
        path = queue.pop(0)
        if path in out.pages or any(path.startswith(s) for s in skip):
            continue
        shape = pattern(path) + ("?" if "?" in path else "")
        if seen_patterns.get(shape, 0) >= per_pattern:
            continue
        seen_patterns[shape] = seen_patterns.get(shape, 0) + 1
        reply = browser.get(path)
        out.pages[path] = reply
        if reply.status in (301, 302, 303, 307, 308):
            target = local(path, reply.location, browser.url)
            queue += [target] if target is not None else []
        if not reply.headers.get("content-type", "").startswith("text/html"):
            continue
        found = parse(path, reply.text, browser.url)
        out.dangers += found.dangers
        out.off_site_forms += found.off_site_forms
        for form in found.forms:
            out.forms.setdefault(form.key, form)
        queue += [link for link in found.links if link not in out.pages]
    return out
