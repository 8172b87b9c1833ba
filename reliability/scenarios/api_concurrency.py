"""API concurrency: many `POST /servers` at once through several `stratus api` processes on one store.

Two `stratus api` processes (each `--workers 2`: four uvicorn workers, as two hosts behind a load balancer)
share one store, a real SQLite file and then a real PostgreSQL database. Three projects, each with one tight
quota (instances, cores, ram), send their creates at the same moment (a barrier), spread over both
processes: 50 in the full run (some asking min_count = max_count = 2), 9 in the quick one. Each answer is
202, or Nova's 403 `forbidden` for the quota, with no traceback. Right after the answers the store is
checked with SQL: usage within every quota and no refused request that would have fit, as many live
servers as accepted, each placed one claimed, no host past its capacity, no duplicate IP, MAC or name.

The accepted creates launch their real builds (provision.yml through ansible-runner, from the API workers)
against hypervisors that run their step modules on this machine against libvirt's in-memory
`test:///default` driver, so nothing leaves the machine; the builds end in ERROR there (that driver has no
network XML), which releases the claims and the addresses as Nova does. Once every build has ended the store
is checked again; then every server is deleted through the API at once, and the store must hold no live
server, claim, address or leftover. The API logs must show no traceback.
"""
from __future__ import annotations

import ipaddress
import itertools
import time
import typing as t

from stratus_lab import ansible_run, api_server, scenario, store
from stratus_lab.api_server import Answer, ApiProcess, User

NET_ID = "5b2f0c1e-3333-4a57-8a8f-0d5b6c2f4e03"
FLAVORS = {"1": {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1},
           "2": {"id": "2", "name": "m1.duo", "vcpus": 2, "ram": 256, "disk": 1}}
HOSTS = {"hv1": {}, "hv2": {}}
CAPACITY = {"stratus_vcpus": 8, "stratus_memory_mb": 4096, "stratus_local_gb": 40,
            "stratus_cpu_allocation_ratio": 1.0, "stratus_ram_allocation_ratio": 1.0,
            "stratus_disk_allocation_ratio": 1.0}
BIG = {"instances": 1000, "cores": 1000, "ram": 1024000}
# project: (the quota that binds, the flavor its creates ask for)
PROJECTS = {"qi": ("instances", "1"), "qc": ("cores", "2"), "qr": ("ram", "1")}


def quotas(quick: bool) -> dict[str, dict[str, int]]:
    tight = {"instances": 2, "cores": 2, "ram": 256} if quick else {"instances": 5, "cores": 6, "ram": 1024}
    return {p: dict(BIG, **{resource: tight[resource]}) for p, (resource, _f) in PROJECTS.items()}


def catalog(quick: bool) -> dict[str, t.Any]:
    return {"stratus_flavors": list(FLAVORS.values()),
            "stratus_images": [{"id": ansible_run.IMAGE_ID, "name": "cirros", "disk_format": "qcow2"}],
            "stratus_networks": [{"id": NET_ID, "name": "net", "cidr": "10.81.0.0/24"}],
            "stratus_quotas": {"defaults": dict(BIG), "projects": quotas(quick)}}


def users() -> list[User]:
    return [User("u-" + p, "u-%s-Pa55-word!" % p, p, "member") for p in PROJECTS]


def workload(quick: bool) -> list[tuple[str, dict[str, t.Any]]]:
    """(project, create body) for every create of the round: 3 or 50, round robin over the projects; in qi
    every third asks for two servers at once (all or nothing: min_count = max_count = 2)."""
    out = []
    for i in range(9 if quick else 50):
        project = list(PROJECTS)[i % 3]
        server: dict[str, t.Any] = {"name": "%s-%02d" % (project, i), "flavorRef": PROJECTS[project][1],
                                    "imageRef": ansible_run.IMAGE_ID, "networks": [{"uuid": NET_ID}]}
        if project == "qi" and i % 9 == 0:
            server.update(min_count=2, max_count=2)
        out.append((project, {"server": server}))
    return out


def size(body: dict[str, t.Any]) -> int:
    return int(body["server"].get("max_count", 1))


def usage(rows: list[t.Any]) -> dict[str, int]:
    flavors = [store.as_json(r.flavor, {}) for r in rows]
    return {"instances": len(rows), "cores": sum(int(f["vcpus"]) for f in flavors),
            "ram": sum(int(f["ram"]) for f in flavors)}


class Backend:
    def __init__(self, sc: scenario.Scenario, name: str, db_url: str) -> None:
        self.sc, self.name, self.db_url = sc, name, db_url
        self.work = sc.work / name
        self.work.mkdir(parents=True, exist_ok=True)
        self.inventory = ansible_run.write_yaml(self.work / "hosts.yml", ansible_run.controller_inventory(
            catalog(sc.quick), HOSTS, CAPACITY, local_hypervisors=self.work / "pools"))
        self.users = {u.project: u for u in users()}
        self.limits = quotas(sc.quick)

    def figure(self, key: str, by: int = 1) -> None:
        self.sc.count(key, by)
        self.sc.count("%s.%s" % (self.name, key), by)

    def q(self, sql: str) -> list[t.Any]:
        return store.rows(self.db_url, sql)

    def live(self) -> list[t.Any]:
        return self.q("SELECT uuid, name, project_id, host, vm_state, flavor FROM instances WHERE deleted = ''")

    def run(self) -> None:
        api_server.make_identity(self.db_url, list(self.users.values()), list(PROJECTS))
        with api_server.api_processes(self.inventory, self.db_url, self.work, count=2, workers=2) as apis:
            for i, user in enumerate(self.users.values()):
                api_server.issue_token(apis[i % len(apis)].url, user)
            t0 = time.monotonic()
            work = workload(self.sc.quick)
            answers = self.create_all(apis, work)
            self.sc.figures["%s.create_seconds" % self.name] = round(time.monotonic() - t0, 1)
            self.check_answers(work, answers)
            self.check_store("after_create", work, answers)
            settled = api_server.wait_for(lambda: not [r for r in self.live() if r.vm_state == "building"],
                                          900, 3)
            self.sc.check("builds_end", settled, "%s: servers still building after 900 s" % self.name)
            self.figure("builds_in_error", len([r for r in self.live() if r.vm_state == "error"]))
            self.check_store("after_builds", work, answers)
            self.delete_all(apis)
            self.check_store("after_delete", [], [])
            self.wait_runs(apis)
            for api in apis:
                bugs = api_server.tracebacks(api.log_text())
                self.sc.check("no_traceback_in_api_logs", not bugs, "%s %s: %s" % (self.name, api.log.name, bugs[:5]))

    def create_all(self, apis: list[ApiProcess], work: list[tuple[str, dict[str, t.Any]]]) -> list[Answer]:
        urls = itertools.cycle([a.url for a in apis])
        calls = [(lambda url=next(urls), p=p, b=b: api_server.call(url, "/v2.1/servers", self.users[p].token,
                                                                   "POST", body=b, version="2.61"))
                 for p, b in work]
        return api_server.at_once(calls)

    def check_answers(self, work: list[tuple[str, dict[str, t.Any]]], answers: list[Answer]) -> None:
        for (_project, body), answer in zip(work, answers):
            self.figure("creates")
            raw = answer.raw.decode("utf-8", "replace")
            self.sc.check("no_traceback_in_answers", not api_server.tracebacks(raw), raw[:300])
            if answer.status == 202:
                self.figure("accepted")
                self.figure("servers_accepted", size(body))
                continue
            fault = (answer.body or {}).get("forbidden") if isinstance(answer.body, dict) else None
            quota_refusal = answer.status == 403 and isinstance(fault, dict) and fault.get("code") == 403 \
                and "uota" in str(fault.get("message"))
            self.figure("refused_403_quota" if quota_refusal else "refused_other")
            self.sc.check("every_refusal_is_novas_quota_403", quota_refusal,
                          "%s %s: %s %s" % (self.name, body["server"]["name"], answer.status, raw[:300]))

    def check_store(self, when: str, work: list[tuple[str, dict[str, t.Any]]], answers: list[Answer]) -> None:
        tag = "%s %s" % (self.name, when)
        live = self.live()
        accepted = sum(size(b) for (_p, b), a in zip(work, answers) if a.status == 202)
        self.sc.check("store_matches_answers", len(live) == accepted,
                      "%s: %d live servers, %d accepted" % (tag, len(live), accepted))
        for project, limit in self.limits.items():
            used = usage([r for r in live if r.project_id == project])
            self.sc.check("usage_within_quota", all(used[k] <= limit[k] for k in used),
                          "%s: %s uses %s of %s" % (tag, project, used, limit))
            if when == "after_create":
                # usage only grows during the round: a refusal means the request did not fit then, nor now
                flavor = FLAVORS[PROJECTS[project][1]]
                for (p, b), a in zip(work, answers):
                    if p == project and a.status != 202:
                        n = size(b)
                        wanted = {"instances": n, "cores": n * flavor["vcpus"], "ram": n * flavor["ram"]}
                        self.sc.check("no_refusal_with_room", any(used[k] + wanted[k] > limit[k] for k in used),
                                      "%s: %s refused with %s used of %s" % (tag, b["server"]["name"], used, limit))
                one = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["ram"]}
                self.sc.check("quota_reached", any(used[k] + one[k] > limit[k] for k in used),
                              "%s: %s used %s of %s" % (tag, project, used, limit))
        claims = self.q("SELECT host, sum(vcpus) AS vcpus, sum(memory_mb) AS ram, sum(disk_gb) AS disk FROM "
                        "(SELECT host, vcpus, memory_mb, disk_gb FROM resource_claims UNION ALL "
                        " SELECT host, vcpus, memory_mb, disk_gb FROM leftovers) u GROUP BY host")
        for row in claims:
            self.sc.check("claims_within_host_capacity", row.vcpus <= CAPACITY["stratus_vcpus"]
                          and row.ram <= CAPACITY["stratus_memory_mb"] and row.disk <= CAPACITY["stratus_local_gb"],
                          "%s: %s claims %s vcpus, %s MB, %s GB" % (tag, row.host, row.vcpus, row.ram, row.disk))
        unclaimed = self.q("SELECT i.uuid FROM instances i LEFT JOIN resource_claims c ON c.instance_uuid = i.uuid "
                           "WHERE i.deleted = '' AND i.host IS NOT NULL AND i.vm_state = 'building' "
                           "AND c.instance_uuid IS NULL")
        self.sc.check("every_placed_building_server_claimed", not unclaimed, "%s: %s" % (tag, unclaimed))
        orphans = self.q("SELECT c.instance_uuid FROM resource_claims c LEFT JOIN instances i ON "
                         "i.uuid = c.instance_uuid AND i.deleted = '' WHERE i.uuid IS NULL")
        self.sc.check("every_claim_of_a_live_server", not orphans, "%s: %s" % (tag, orphans))
        dup_ip = self.q("SELECT network_id, address FROM ip_allocations GROUP BY network_id, address "
                        "HAVING count(*) > 1")
        dup_mac = self.q("SELECT mac FROM ip_allocations GROUP BY mac HAVING count(*) > 1")
        self.sc.check("ip_allocations_unique", not dup_ip and not dup_mac, "%s: %s %s" % (tag, dup_ip, dup_mac))
        net = ipaddress.ip_network("10.81.0.0/24")
        bad = [r.address for r in self.q("SELECT address FROM ip_allocations")
               if ipaddress.ip_address(r.address) not in net]
        self.sc.check("addresses_in_the_network", not bad, "%s: %s" % (tag, bad))
        orphan_ips = self.q("SELECT a.address FROM ip_allocations a LEFT JOIN instances i ON "
                            "i.uuid = a.instance_uuid AND i.deleted = '' WHERE i.uuid IS NULL")
        self.sc.check("every_address_of_a_live_server", not orphan_ips, "%s: %s" % (tag, orphan_ips))
        if when == "after_create":
            ips = self.q("SELECT count(*) AS n FROM ip_allocations")[0].n
            self.figure("addresses_allocated", ips)
            self.sc.check("every_accepted_server_has_its_address", ips == accepted, "%s: %d addresses, %d servers"
                          % (tag, ips, accepted))
        dup_names = self.q("SELECT project_id, name FROM instances WHERE deleted = '' GROUP BY project_id, name "
                           "HAVING count(*) > 1")
        self.sc.check("no_duplicate_server_names", not dup_names, "%s: %s" % (tag, dup_names))
        if when == "after_delete":
            left = {table: self.q("SELECT count(*) AS n FROM %s" % table)[0].n
                    for table in ("resource_claims", "ip_allocations", "leftovers")}
            self.sc.check("delete_releases_everything", not any(left.values()), "%s: %s" % (tag, left))

    def delete_all(self, apis: list[ApiProcess]) -> None:
        live = self.live()
        urls = itertools.cycle([a.url for a in apis])
        calls = [(lambda url=next(urls), r=r: api_server.call(url, "/v2.1/servers/" + r.uuid,
                                                              self.users[r.project_id].token, "DELETE"))
                 for r in live]
        answers = api_server.at_once(calls) if calls else []
        for row, answer in zip(live, answers):
            self.figure("deletes")
            self.sc.check("deletes_accepted", answer.status == 204, "%s %s: %s %s"
                          % (self.name, row.name, answer.status, answer.raw[:300]))
        gone = api_server.wait_for(lambda: not self.live(), 600, 2)
        self.sc.check("deletes_end", gone, "%s: %s still live" % (self.name, [r.name for r in self.live()]))

    def wait_runs(self, apis: list[ApiProcess]) -> None:
        """Every build or delete run the workers started has ended before the API processes stop."""
        ended = api_server.wait_for(lambda: not api_server.running_runs(apis), 600, 2)
        self.sc.check("every_run_ended", ended, "%s: %s" % (self.name, api_server.running_runs(apis)))


def main(sc: scenario.Scenario) -> None:
    if not api_server.STRATUS.exists():
        raise scenario.CannotRun("the stratus command is not installed (make setup installs it)")
    sc.figures["backends"] = ["sqlite"] if sc.quick else ["sqlite", "postgresql"]
    sc.figures["api_processes"], sc.figures["workers_each"] = 2, 2
    for key in ("creates", "accepted", "servers_accepted", "refused_403_quota", "refused_other"):
        sc.figures[key] = 0
    Backend(sc, "sqlite", store.sqlite_url(sc.work / "sqlite-store")).run()
    if not sc.quick:
        with scenario.postgresql() as fresh:
            Backend(sc, "postgresql", fresh("api_concurrency")).run()
    # the workload is built to hit every quota: a run that refused nothing did not test them
    sc.check("quotas_refused_some", sc.figures["refused_403_quota"] > 0)
    sc.check("some_accepted", sc.figures["accepted"] > 0)


if __name__ == "__main__":
    scenario.Scenario("api_concurrency", __doc__ or "").run(main)
