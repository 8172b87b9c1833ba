"""API hostile input: a batch of bad requests against every route `stratus api` serves.

The routes are read from the application build_app makes (stratus_lab.api_server.app_routes), so a route
module added to build_app is covered without a change here; each route is probed first (no token: 401 means
it takes one; compute 2.999: 406 means it negotiates microversions). Then, against a real `stratus api`
(two workers, a real store), as a member and as an admin where a token is taken:

- forged, expired, revoked, overlong, non-ASCII and missing tokens: 401 with Keystone's body;
- malformed, out-of-range and overlong microversions: 400 / 406;
- overlong, non-printable, markup, traversal and NUL path ids: 400/403/404, the service's error body;
- hostile query values (overlong, non-printable, markup, negative and huge numbers): no 5xx;
- for the routes that take a body: malformed JSON, deep nesting, a wrong content type, a body over the
  limit, wrong types and unknown fields, markup in names: 400 / 413 / 415 (or 403/404 when the route's
  policy or resource refuses first);
- a method the route does not serve: 405; paths no route serves: 404.

Every answer must carry its service's error body (Keystone's, Nova's fault, Glance's, Neutron's) whose code is
the status, as JSON, with no traceback and no markup echoed; the API's log no traceback; and the store's rows
the same after the batch, but for the action log's one refusal entry per request the pipeline refused.
"""
from __future__ import annotations

import json
import typing as t
import urllib.parse
import uuid

from stratus_lab import ansible_run, api_server, scenario, store
from stratus_lab.api_server import Answer, RouteInfo, User

NET_ID = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e99"
CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1,
                         "extra_specs": {"hw:cpu_policy": "shared"}}],
    "stratus_images": [{"id": ansible_run.IMAGE_ID, "name": "cirros", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": NET_ID, "name": "net1", "cidr": "10.77.0.0/24"}],
    "stratus_quotas": {"defaults": {"instances": 10, "cores": 20, "ram": 51200}},
}
CAPACITY = {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 80}
USERS = [User("alice", "alice-Pa55-word!", "pa", "member"), User("root", "root-Pa55-word!", "ops", "admin")]
MARKUP = ("<script", "<img", "<b>")  # a tag: the edge writes <, > and & as \u escapes
ABSENT = str(uuid.UUID(int=0x5EED))
# a well-formed value of each path parameter (found or not): the route's own checks run past the edge
FILL = {"flavor_id": "1", "key": "hw:cpu_policy", "image_id": ansible_run.IMAGE_ID, "ident": NET_ID}
HOSTILE_IDS = {"overlong": "a" * 300, "non_printable": "%01%7F%1B", "markup": "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
               "traversal": "..%2F..%2Fetc%2Fpasswd", "nul": "abc%00def", "unicode_bidi": "%E2%80%AEevil",
               "spaces": "%20%20%20"}
HOSTILE_QUERIES = ["name=%3Cscript%3E", "name=" + "a" * 2000, "limit=-1", "limit=99999999999999999999",
                   "marker=%01%02", "marker=" + "m" * 500, "all_tenants=%00", "minRam=abc", "minDisk=-5",
                   "is_public=%3Cimg%3E", "status=%1B%5B31m", "tenant_id=%3Cb%3E", "fields=%3Cscript%3E",
                   "sort_key=%27%3B%20DROP%20TABLE%20instances%3B--", "tenant_id=a%00b", "project_id=%00",
                   "name=%00", "all_tenants=1&project_id=%00", "user_id=%00", "host=%00", "changes-since=not-a-date",
                   "name=(a%2B)%2B%24", "name=.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*!"]
BAD_VERSIONS = {"compute abc": 400, "compute 2.1.1": 400, "compute 2": 400, "compute 2.999": 406,
                "compute 3.0": 406, "compute 1.0": 406, "compute 99999999999999999999.1": 406,
                "compute " + "9" * 40: 400, "compute 2." + "9" * 40: 406}
WRITES = ("POST", "PUT", "PATCH")


def service_of(path: str) -> str:
    for prefix, service in (("/v3", "identity"), ("/image", "image"), ("/network", "network"),
                            ("/baremetal", "baremetal")):
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return "compute"


def error_shape(service: str, answer: Answer) -> bool:
    """The service's own error body (keystonemiddleware's for every 401), its code the status."""
    body = answer.body
    if not answer.is_json or not isinstance(body, dict):
        return False
    if service == "identity" or answer.status == 401:
        err = body.get("error")
        return isinstance(err, dict) and err.get("code") == answer.status and isinstance(err.get("message"), str)
    if service == "network":
        err = body.get("NeutronError")
        return isinstance(err, dict) and isinstance(err.get("type"), str) and isinstance(err.get("message"), str)
    if service == "image":
        return body.get("code") == answer.status and isinstance(body.get("message"), str)
    if service == "baremetal":  # Ironic's: {"error_message": "<its fault as a JSON string>"}
        try:
            fault = json.loads(body.get("error_message") or "")
        except (TypeError, ValueError):
            return False
        return len(body) == 1 and isinstance(fault, dict) and isinstance(fault.get("faultstring"), str)
    if len(body) != 1:
        return False
    fault = next(iter(body.values()))
    return isinstance(fault, dict) and fault.get("code") == answer.status and isinstance(fault.get("message"), str)


def filled(route: RouteInfo, values: t.Optional[dict[str, str]] = None) -> str:
    path = route.path
    for param in route.params:
        value = (values or {}).get(param, FILL.get(param, ABSENT))
        path = path.replace("{%s}" % param, value).replace("{%s:str}" % param, value)
    return path


class Batch:
    def __init__(self, sc: scenario.Scenario, url: str, db_url: str, stale: dict[str, str]) -> None:
        self.sc, self.url, self.db_url, self.stale = sc, url, db_url, stale
        self.cases: list[tuple[str, str, str, set[int], Answer]] = []

    def send(self, case: str, path: str, allowed: set[int], method: str = "GET", **kw: t.Any) -> Answer:
        answer = api_server.call(self.url, path, method=method, timeout=60, **kw)
        self.cases.append((case, method, path, allowed, answer))
        return answer

    def probe(self, route: RouteInfo, method: str, token: str) -> tuple[bool, bool, bool]:
        """(takes a token, negotiates microversions, answers Nova's 501 by design): asked of the running server,
        not assumed. A 501 route (the quota sets' update, say: quotas are the inventory's) refuses whatever
        comes past its token and policy with 501, never reading a body."""
        path, body = filled(route), b"{}" if method in WRITES else None
        authenticated = api_server.call(self.url, path, method=method, body=body,
                                        headers=api_server.JSON).status == 401
        versioned = api_server.call(self.url, path, token=token, method=method, version="2.999", body=body,
                                    headers=api_server.JSON).status == 406
        unimplemented = api_server.call(self.url, path, token=token, method=method, body=body,
                                        headers=api_server.JSON).status == 501
        return authenticated, versioned, unimplemented

    def route(self, route: RouteInfo, tokens: dict[str, str]) -> None:
        for method in route.methods:
            body = b"{}" if method in WRITES else None
            hdrs = api_server.JSON if body is not None else None
            authenticated, versioned, unimplemented = self.probe(route, method, tokens["root"])
            by_design = {403, 501} if unimplemented else set()
            self.sc.count("routes_x_methods")
            self.sc.count("authenticated" if authenticated else "open")
            base = filled(route)
            what = "%s %s" % (method, route.path)
            if authenticated:
                forged = {"missing": None, "forged": "gAAAAAB" + uuid.uuid4().hex * 2, "expired": self.stale["expired"],
                          "revoked": self.stale["revoked"], "overlong": "t" * 5000, "non_ascii": "t\u00f6k\u00e9n",
                          "control": "tok\x01en"}
                for kind, token in forged.items():
                    self.send("token %s: %s" % (kind, what), base, {401}, method, token=token, body=body,
                              headers=hdrs)
            if versioned:
                for version, status in BAD_VERSIONS.items():
                    self.send("version %r: %s" % (version, what), base, {status}, method, token=tokens["root"],
                              body=body, headers=dict(hdrs or {}, **{"OpenStack-API-Version": version}))
                self.send("legacy version header: " + what, base, {400}, method, token=tokens["root"], body=body,
                          headers=dict(hdrs or {}, **{"X-OpenStack-Nova-API-Version": "x.y"}))
            for who, token in tokens.items():
                token_or_none = token if authenticated else None
                for param in route.params:
                    for kind, value in HOSTILE_IDS.items():
                        # a read of any project's quotas answers its defaults (as Nova and Neutron do): 200
                        self.send("id %s %s as %s: %s" % (param, kind, who, what), filled(route, {param: value}),
                                  {400, 403, 404} | ({200} if method == "GET" else set()) | by_design, method,
                                  token=token_or_none, body=body, headers=hdrs)
                if method == "GET":
                    for query in HOSTILE_QUERIES:
                        self.send("query %s as %s: %s" % (query[:40], who, what), base + "?" + query,
                                  {200, 400, 403, 404}, method, token=token_or_none)
                if method in WRITES:
                    self.bodies(route, method, base, token_or_none, who, by_design)
            # a method this path is not served with
            self.send("method not served: PATCH " + route.path, base, {405}, "PATCH", token=tokens["root"])

    def bodies(self, route: RouteInfo, method: str, path: str, token: t.Optional[str], who: str,
               by_design: set[int]) -> None:
        what = "%s %s as %s" % (method, route.path, who)
        refused = {400, 403, 404} if route.params else {400, 403}
        plain = {"Content-Type": "application/json"}
        cases: list[tuple[str, bytes, dict[str, str], set[int]]] = [
            ("malformed JSON", b'{"server": {"name": ', plain, {400}),
            ("not UTF-8", b'{"name": "\xff\xfe"}', plain, {400}),
            ("deep nesting", b"[" * 50000 + b"]" * 50000, plain, {400, 413}),
            ("wrong content type", b"{}", {"Content-Type": "text/plain"}, {415}),
            ("form content type", b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}, {415}),
            ("xml content type", b"<a/>", {"Content-Type": "application/xml"}, {415}),
            ("over the limit", b'{"pad": "' + b"x" * (200 * 1024) + b'"}', plain, {413}),
            ("content-length over the limit", b"{}", dict(plain, **{"Content-Length": "99999999999"}), {413}),
            ("a list", b"[]", plain, refused), ("a string", b'"x"', plain, refused),
            ("a number", b"1", plain, refused), ("null", b"null", plain, refused),
            ("unknown fields", json.dumps({"bogus": 1, "<script>": "<script>"}).encode(), plain, refused),
            ("wrong nested types", json.dumps({"server": [], "auth": 1, "quota_set": "x", "keypair": 2,
                                               "server_group": None}).encode(), plain, refused),
            ("markup in a name, unknown field", json.dumps({"server": {
                "name": "<script>alert(1)</script>", "flavorRef": "1", "imageRef": ansible_run.IMAGE_ID,
                "networks": [{"uuid": NET_ID}], "bogus": "<img src=x onerror=alert(1)>"}}).encode(), plain, refused),
            ("markup in refs", json.dumps({"server": {
                "name": "<img src=x onerror=alert(1)>", "flavorRef": "<img src=x onerror=alert(1)>",
                "imageRef": "<script>", "networks": [{"uuid": "<script>"}]}}).encode(), plain, refused),
            ("wrong types in a server", json.dumps({"server": {
                "name": 5, "flavorRef": [], "imageRef": {}, "networks": "auto-but-not", "min_count": "x",
                "max_count": -1, "metadata": [1]}}).encode(), plain, refused),
            ("NUL characters", json.dumps({"server": {
                "name": "a\x00b", "flavorRef": "1\x00", "imageRef": ansible_run.IMAGE_ID,
                "networks": [{"uuid": NET_ID}], "metadata": {"k\x00": "v\x00"}},
                "keypair": {"name": "k\x00", "public_key": "\x00"},
                "quota_set": {"instances": "\x00"}, "server_group": {"name": "g\x00", "policy": "\x00"},
                "auth": {"identity": {"methods": ["password\x00"]}}}).encode(), plain, refused),
            ("overlong and non-printable name", json.dumps({"server": {
                "name": "\x01" + "n" * 300, "flavorRef": "1", "imageRef": ansible_run.IMAGE_ID,
                "networks": [{"uuid": NET_ID}]}}).encode(), plain, refused),
        ]
        for case, raw, headers, allowed in cases:
            self.send("body %s: %s" % (case, what), path, allowed | by_design, method, token=token, body=raw,
                      headers=headers)

    def unknown_paths(self, token: str) -> None:
        for path in ("/v2.1/%3Cscript%3E", "/v2.1/servers/a/b/c/d", "/v3/%00", "/image/v2/x/y/z",
                     "/network/v2.0/%3Cimg%3E", "/" + "p" * 4000, "/v2.1/servers/%2e%2e/%2e%2e/"):
            self.send("unknown path " + path[:40], path, {404}, token=token)

    def judge(self) -> None:
        for case, method, path, allowed, answer in self.cases:
            self.sc.count("requests")
            self.sc.count("status_%d" % answer.status)
            raw = answer.raw.decode("utf-8", "replace")
            where = "%s (%s %s): %s %s" % (case, method, path[:80], answer.status, raw[:200])
            self.sc.check("status_as_expected", answer.status in allowed, where)
            self.sc.check("no_5xx", answer.status < 500 or answer.status == 501 and 501 in allowed, where)
            self.sc.check("no_traceback_in_answers", not api_server.tracebacks(raw), where)
            self.sc.check("no_markup_echoed", not any(m in raw for m in MARKUP), where)
            if answer.status >= 400:
                service = service_of(urllib.parse.unquote(path.split("?")[0]))
                self.sc.check("service_error_body", error_shape(service, answer), where)
            if answer.status == 401:
                self.sc.check("401_says_how_to_authenticate", "keystone uri=" in answer.headers.get(
                    "www-authenticate", "").lower(), where)


def refusal_entries(db_url: str) -> int:
    return int(store.rows(db_url, "SELECT count(*) AS n FROM instance_actions WHERE instance_uuid = ''")[0].n)


def run_backend(sc: scenario.Scenario, name: str, db_url: str) -> None:
    work = sc.work / name
    work.mkdir(parents=True, exist_ok=True)
    inventory = ansible_run.write_yaml(work / "hosts.yml", ansible_run.controller_inventory(
        CATALOG, {"hv1": {}, "hv2": {}}, CAPACITY, local_hypervisors=work / "pools"))
    users = [User(u.name, u.password, u.project, u.role) for u in USERS]
    api_server.make_identity(db_url, users, ["pa", "ops"])
    stale = api_server.stale_tokens(db_url, users[0])
    routes = api_server.app_routes(inventory, db_url)
    sc.figures["routes"] = sorted("%s %s" % (",".join(r.methods), r.path) for r in routes)
    with api_server.api_processes(inventory, db_url, work, count=1, workers=2) as (api,):
        tokens = {u.name: api_server.issue_token(api.url, u) for u in users}
        before, refusals_before = api_server.row_counts(db_url), refusal_entries(db_url)
        batch = Batch(sc, api.url, db_url, stale)
        for route in routes:
            batch.route(route, tokens)
        batch.unknown_paths(tokens["root"])
        batch.judge()
        after, refusals_after = api_server.row_counts(db_url), refusal_entries(db_url)
        changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                   if before.get(k) != after.get(k) and k != "instance_actions"}
        sc.check("nothing_written", not changed, "%s: %s" % (name, changed))
        # the one trace a refused create leaves (conductor/create.py record_refusal): an action-log entry
        sc.check("only_refusal_entries_in_the_action_log",
                 after["instance_actions"] - before["instance_actions"] == refusals_after - refusals_before,
                 "%s: %s -> %s rows, refusals %d -> %d" % (name, before["instance_actions"],
                                                           after["instance_actions"], refusals_before, refusals_after))
        sc.count("refusal_entries", refusals_after - refusals_before)
        live = store.rows(db_url, "SELECT count(*) AS n FROM instances")[0].n
        sc.check("no_server_made", live == 0, "%s: %d instance rows" % (name, live))
    bugs = api_server.tracebacks(api.log_text())
    sc.check("no_traceback_in_api_log", not bugs, "%s: %s" % (name, bugs[:5]))


def main(sc: scenario.Scenario) -> None:
    if not api_server.STRATUS.exists():
        raise scenario.CannotRun("the stratus command is not installed (make setup installs it)")
    sc.figures["backends"] = ["sqlite"] if sc.quick else ["sqlite", "postgresql"]
    run_backend(sc, "sqlite", store.sqlite_url(sc.work / "sqlite-store"))
    if not sc.quick:
        with scenario.postgresql() as fresh:
            run_backend(sc, "postgresql", fresh("api_hostile"))


if __name__ == "__main__":
    scenario.Scenario("api_hostile_input", __doc__ or "").run(main)
