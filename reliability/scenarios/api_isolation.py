"""API isolation: project A's token cannot reach project B's servers, quotas, limits, images, networks or tokens.

Through a real `stratus api` (two workers, a real store): bob (a member of pb) creates a server (its build runs
against libvirt's in-memory test:///default driver on this machine and ends in ERROR there, which is fine: the
server stays, with its row, action log and metadata). Then alice (a member of pa) and carol (a reader of pa)
try B's resources with their own tokens: show, delete and act on B's server (404: Nova hides existence),
list and detail with all_tenants (Nova's 403 for a non-admin), project_id / tenant_id filters (ignored: their
own project only), B's limits (403), B's quota set and its defaults when the route is served (403), B's
private flavor, image and network (404), a create on B's private network or flavor (400), B's token to
validate or revoke (403). Every refusal has its service's error body, no answer lists or names B's server,
and the store is the same before and after (its rows, and B's server as it was), but for the action log's
refusal entries of the refused creates. The admin sees B's server with all_tenants (the control).
"""
from __future__ import annotations

import json
import typing as t

from stratus_lab import ansible_run, api_server, scenario, store
from stratus_lab.api_server import Answer, User

NET_ID = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e99"
PB_NET = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4eb0"
ABSENT = "00000000-0000-4000-8000-00000000abcd"
PB_IMAGE = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2cb0"
CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1},
                        {"id": "9", "name": "pb.private", "vcpus": 1, "ram": 128, "disk": 1, "is_public": False,
                         "projects": ["pb"]}],
    "stratus_images": [{"id": ansible_run.IMAGE_ID, "name": "cirros", "disk_format": "qcow2"},
                       {"id": PB_IMAGE, "name": "pb-image", "disk_format": "qcow2", "visibility": "private",
                        "owner": "pb"}],
    "stratus_networks": [{"id": NET_ID, "name": "net1", "cidr": "10.77.0.0/24"},
                         {"id": PB_NET, "name": "pb-net", "cidr": "10.78.0.0/24", "shared": False,
                          "project_id": "pb"}],
    "stratus_quotas": {"defaults": {"instances": 10, "cores": 20, "ram": 51200}},
}
CAPACITY = {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 80}
USERS = {"alice": User("alice", "alice-Pa55-word!", "pa", "member"),
         "carol": User("carol", "carol-Pa55-word!", "pa", "reader"),
         "bob": User("bob", "bob-Pa55-word!", "pb", "member"),
         "root": User("root", "root-Pa55-word!", "ops", "admin")}


def fault_of(answer: Answer) -> t.Optional[dict[str, t.Any]]:
    body = answer.body
    if isinstance(body, dict) and len(body) == 1 and isinstance(next(iter(body.values())), dict):
        return next(iter(body.values()))
    return None


class Attempts:
    def __init__(self, sc: scenario.Scenario, url: str, secret_marks: list[str]) -> None:
        self.sc, self.url, self.marks = sc, url, secret_marks
        self.refused_creates = 0

    def expect(self, case: str, answer: Answer, allowed: set[int]) -> Answer:
        """The status Nova gives, its error body for a refusal, and nothing of B's in the body."""
        self.sc.count("attempts")
        self.sc.count("status_%d" % answer.status)
        raw = answer.raw.decode("utf-8", "replace")
        where = "%s: %s %s" % (case, answer.status, raw[:300])
        self.sc.check("refused_as_nova_refuses", answer.status in allowed, where)
        leaked = [m for m in self.marks if m in raw]
        self.sc.check("nothing_of_b_shown", not leaked, "%s (%s)" % (where, leaked))
        self.sc.check("no_traceback_in_answers", not api_server.tracebacks(raw), where)
        if answer.status >= 400:
            body = answer.body if isinstance(answer.body, dict) else {}
            code = (body.get("error") or body.get("NeutronError") or fault_of(answer) or body).get("code")
            self.sc.check("service_error_body", code in (answer.status, None) and answer.is_json and bool(body),
                          where)
        return answer

    def call(self, user: User, path: str, method: str = "GET", **kw: t.Any) -> Answer:
        return api_server.call(self.url, path, user.token, method, version=kw.pop("version", "2.61"), **kw)


def run_attempts(sc: scenario.Scenario, at: Attempts, b_id: str, routes: set[str]) -> None:
    alice, carol, bob = USERS["alice"], USERS["carol"], USERS["bob"]
    for user in (alice, carol):
        who = user.name
        for method in ("GET", "DELETE"):
            # Nova hides existence: B's server answers as an id no server has (the id is the caller's own text)
            seen = at.expect("%s %s B's server" % (who, method), at.call(user, "/v2.1/servers/" + b_id, method), {404})
            absent = at.call(user, "/v2.1/servers/" + ABSENT, method)
            sc.check("b_server_answers_as_an_absent_one", (seen.status, seen.raw.replace(b_id.encode(), b"ID")) ==
                     (absent.status, absent.raw.replace(ABSENT.encode(), b"ID")), "%s: %s / %s"
                     % (who, seen.raw[:200], absent.raw[:200]))
        if "/v2.1/servers/{server_id}/action" in routes:
            for action in ({"os-stop": None}, {"os-start": None}, {"reboot": {"type": "HARD"}},
                           {"resize": {"flavorRef": "1"}}, {"rebuild": {"imageRef": ansible_run.IMAGE_ID}}):
                at.expect("%s acts on B's server: %s" % (who, list(action)[0]),
                          at.call(user, "/v2.1/servers/%s/action" % b_id, "POST", body=action), {404})
        if "/v2.1/servers/{server_id}/os-instance-actions" in routes:
            at.expect("%s reads B's server's actions" % who,
                      at.call(user, "/v2.1/servers/%s/os-instance-actions" % b_id), {404})
        for path in ("/v2.1/servers?all_tenants=1", "/v2.1/servers/detail?all_tenants=True",
                     "/v2.1/servers?all_tenants", "/v2.1/servers/detail?all_tenants=1&project_id=pb"):
            at.expect("%s lists %s" % (who, path), at.call(user, path), {403})
        for path in ("/v2.1/servers?project_id=pb", "/v2.1/servers/detail?tenant_id=pb",
                     "/v2.1/servers/detail?name=b-srv", "/v2.1/servers/detail?all_tenants=0&project_id=pb"):
            listed = at.expect("%s lists %s (own project only)" % (who, path), at.call(user, path), {200})
            servers = (listed.body or {}).get("servers") if isinstance(listed.body, dict) else None
            sc.check("filters_list_own_project_only", servers == [], "%s %s: %s" % (who, path, servers))
        at.expect("%s reads B's limits" % who, at.call(user, "/v2.1/limits?tenant_id=pb"), {403})
        if "/v2.1/os-quota-sets/{tenant_id}" in routes:
            at.expect("%s reads B's quota set" % who, at.call(user, "/v2.1/os-quota-sets/pb"), {403})
            at.expect("%s changes B's quota set" % who, at.call(user, "/v2.1/os-quota-sets/pb", "PUT",
                                                                body={"quota_set": {"instances": 100}}), {403})
        if "/v2.1/os-quota-sets/{tenant_id}/detail" in routes:
            at.expect("%s reads B's quota usage" % who, at.call(user, "/v2.1/os-quota-sets/pb/detail"), {403})
        at.expect("%s shows B's private flavor" % who, at.call(user, "/v2.1/flavors/9"), {404})
        at.expect("%s reads B's flavor's extra specs" % who, at.call(user, "/v2.1/flavors/9/os-extra_specs"), {404})
        at.expect("%s shows B's image" % who, at.call(user, "/image/v2/images/" + PB_IMAGE), {404})
        at.expect("%s shows B's network" % who, at.call(user, "/network/v2.0/networks/" + PB_NET), {404})
        at.expect("%s validates B's token" % who, api_server.call(
            at.url, "/v3/auth/tokens", user.token, headers={"X-Subject-Token": bob.token}), {403})
        at.expect("%s revokes B's token" % who, api_server.call(
            at.url, "/v3/auth/tokens", user.token, "DELETE", headers={"X-Subject-Token": bob.token}), {403})
    # creates on B's private network and flavor (alice may create; carol, a reader, may not at all)
    for case, server in (("B's network", {"name": "a-on-b-net", "flavorRef": "1", "networks": [{"uuid": PB_NET}]}),
                         ("B's flavor", {"name": "a-on-b-flavor", "flavorRef": "9", "networks": [{"uuid": NET_ID}]}),
                         ("B's image", {"name": "a-on-b-image", "flavorRef": "1", "imageRef": PB_IMAGE,
                                        "networks": [{"uuid": NET_ID}]})):
        server.setdefault("imageRef", ansible_run.IMAGE_ID)
        answer = at.expect("alice creates on %s" % case, at.call(alice, "/v2.1/servers", "POST",
                                                                 body={"server": server}), {400, 403, 404})
        at.refused_creates += answer.status >= 400


def main(sc: scenario.Scenario) -> None:
    if not api_server.STRATUS.exists():
        raise scenario.CannotRun("the stratus command is not installed (make setup installs it)")
    sc.figures["backends"] = ["sqlite"]
    db_url = store.sqlite_url(sc.work / "store")
    inventory = ansible_run.write_yaml(sc.work / "hosts.yml", ansible_run.controller_inventory(
        CATALOG, {"hv1": {}, "hv2": {}}, CAPACITY, local_hypervisors=sc.work / "pools"))
    api_server.make_identity(db_url, list(USERS.values()), ["pa", "pb", "ops"])
    routes = {r.path for r in api_server.app_routes(inventory, db_url)}
    with api_server.api_processes(inventory, db_url, sc.work, count=1, workers=2) as (api,):
        for user in USERS.values():
            api_server.issue_token(api.url, user)
        made = api_server.call(api.url, "/v2.1/servers", USERS["bob"].token, "POST", version="2.61", body={
            "server": {"name": "b-srv", "flavorRef": "9", "imageRef": PB_IMAGE, "networks": [{"uuid": PB_NET}],
                       "metadata": {"owner": "b-secret-meta"}}})
        if made.status != 202:
            raise scenario.CannotRun("bob's create: %s %s" % (made.status, made.body))
        b_id = made.body["server"]["id"]
        # B's build ends (ERROR on the test driver) before the attempts, so that only they can change the store
        ended = api_server.wait_for(lambda: not api_server.running_runs([api]), 600, 2)
        sc.check("setup_build_ended", ended)
        before = api_server.row_counts(db_url)
        b_before = store.rows(db_url, "SELECT * FROM instances WHERE uuid = :u", u=b_id)
        # what alice must never see: B's server's name, its metadata, its address (its id only as her own text)
        at = Attempts(sc, api.url, ["b-srv", "b-secret-meta", "10.78.0."])
        run_attempts(sc, at, b_id, routes)
        after = api_server.row_counts(db_url)
        b_after = store.rows(db_url, "SELECT * FROM instances WHERE uuid = :u", u=b_id)
        changed = {k: (before[k], after.get(k)) for k in before
                   if before[k] != after.get(k) and k != "instance_actions"}
        sc.check("nothing_changed", not changed and [tuple(r) for r in b_before] == [tuple(r) for r in b_after],
                 "%s; B's row %s -> %s" % (changed, b_before, b_after))
        sc.check("only_refusal_entries_added", after["instance_actions"] - before["instance_actions"]
                 == at.refused_creates, "%d -> %d, %d refused creates" % (
                     before["instance_actions"], after["instance_actions"], at.refused_creates))
        # the control: B's server is there, for its owner and for an admin asking for every project
        own = api_server.call(api.url, "/v2.1/servers/" + b_id, USERS["bob"].token)
        sc.check("owner_still_sees_it", own.status == 200, json.dumps(own.body)[:300])
        every = api_server.call(api.url, "/v2.1/servers?all_tenants=1", USERS["root"].token)
        sc.check("admin_sees_it_with_all_tenants", b_id in every.raw.decode(), every.raw[:300].decode())
        gone = api_server.call(api.url, "/v2.1/servers/" + b_id, USERS["bob"].token, "DELETE")
        sc.check("owner_deletes_it", gone.status == 204, gone.raw[:300].decode())
        api_server.wait_for(lambda: not api_server.running_runs([api]), 600, 2)
    bugs = api_server.tracebacks(api.log_text())
    sc.check("no_traceback_in_api_log", not bugs, str(bugs[:5]))


if __name__ == "__main__":
    scenario.Scenario("api_isolation", __doc__ or "").run(main)
