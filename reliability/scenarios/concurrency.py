"""Concurrency: several ansible-playbook runs and stratus CLI calls at once, near every limit.

Each round starts, at the same moment, ansible-playbook runs of play 1 of provision.yml (the
decision: checks, quota, schedule, claims, IPs, store rows) and `stratus server create` calls, for
one project near its instance quota, one network near exhaustion (a /29) and hosts near their
capacity, on a real SQLite file and on a real PostgreSQL server. After the round the store is
checked with SQL (usage <= quota, no duplicate IP or MAC, no host past (total - reserved) x ratio,
every claim of a live instance); then everything is deleted by concurrent `state: absent` runs of
the real provision.yml (its hypervisor play against libvirt's in-memory test driver, so the delete
walk really runs) and `stratus server delete` calls, and the store is checked to be empty again.
"""
from __future__ import annotations

import ipaddress
import json
import subprocess
import time
import typing as t
from pathlib import Path

from stratus_lab import ansible_run, scenario, store
from stratus_lab.paths import ROOT, VENV_BIN

import sqlalchemy as sa

QUOTA_PROJECT, NET_PROJECT, CAP_PROJECT, CLI_PROJECT = "pq", "pn", "ph", "pc"
QUOTA_INSTANCES = 5
SMALL_NET_ID = "5b2f0c1e-1111-4a57-8a8f-0d5b6c2f4e01"
BIG_NET_ID = "5b2f0c1e-2222-4a57-8a8f-0d5b6c2f4e02"
EXPECTED_CODES = ("QuotaExceeded", "NoValidHost", "NoMoreFixedIps")
HOSTS = {"hv1": {"stratus_reserved_host_cpus": 1, "stratus_reserved_host_memory_mb": 512,
                 "stratus_cpu_allocation_ratio": 2.0},
         "hv2": {"stratus_reserved_host_disk_mb": 5120}}
# RAM binds the big flavor (3 GiB: one per host), so tiny servers always find a host and the small
# network, not the hosts, is what refuses them.
CAPACITY = {"stratus_vcpus": 8, "stratus_memory_mb": 4608, "stratus_local_gb": 30,
            "stratus_cpu_allocation_ratio": 1.0, "stratus_ram_allocation_ratio": 1.0,
            "stratus_disk_allocation_ratio": 1.0}
CATALOG = {
    "stratus_context": {"user_id": "u-" + QUOTA_PROJECT, "project_id": QUOTA_PROJECT, "roles": ["member"]},
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 128, "disk": 1},
                        {"id": "2", "name": "m1.big", "vcpus": 2, "ram": 3072, "disk": 6}],
    "stratus_images": [{"id": ansible_run.IMAGE_ID, "name": "cirros", "disk_format": "qcow2"}],
    "stratus_networks": [
        # 10.78.0.0/29: .1 gateway, .6 the DHCP placeholder, so .2 - .5: four addresses
        {"id": SMALL_NET_ID, "name": "small", "cidr": "10.78.0.0/29"},
        {"id": BIG_NET_ID, "name": "big", "cidr": "10.79.0.0/22"},
    ],
    "stratus_quotas": {"defaults": {"instances": 50, "cores": 100, "ram": 512000},
                       "projects": {QUOTA_PROJECT: {"instances": QUOTA_INSTANCES}}},
}

DECIDE = """---
- name: Decide (play 1 of provision.yml), keeping every item's answer
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Request servers
      stratus.compute.server:
        request: "{{ item }}"
      loop: "{{ stratus_servers }}"
      loop_control:
        label: "{{ item.name }}"
      register: stratus_requests
      ignore_errors: true

    - name: Write the answers
      ansible.builtin.copy:
        dest: "{{ answers_file }}"
        mode: "0600"
        content: "{{ stratus_requests.results | map('dict2items')
                     | map('selectattr', 'key', 'in', ['item', 'failed', 'error', 'server_uuids', 'exception'])
                     | map('items2dict') | list | to_json }}"
"""


def ctx(project: str) -> dict[str, t.Any]:
    return {"user_id": "u-" + project, "project_id": project, "roles": ["member"]}


Run = tuple[dict[str, t.Any], list[dict[str, t.Any]]]  # (the caller, its requests)


def round_workload(rnd: int, quick: bool) -> tuple[list[Run], list[list[str]]]:
    """The requests of one round: per ansible-playbook run its caller and requests, per CLI call its arguments."""
    tiny = {"flavor": "m1.tiny", "image": "cirros"}
    runs: list[Run] = []
    # 1. the project near its quota: 3 runs x (2 + 1) servers for a quota of 5
    for i in range(2 if quick else 3):  # quick: 2 x 3 for a quota of 5, plus the CLI's one
        pair = [dict(tiny, name="q%d-%da" % (rnd, i), min_count=2, networks=[{"name": "big"}]),
                dict(tiny, name="q%d-%db" % (rnd, i), networks=[{"name": "big"}])]
        runs.append((ctx(QUOTA_PROJECT), pair))
    # 2. the network near exhaustion: 1 or 2 runs x 3 servers for 4 addresses
    for i in range(1 if quick else 2):
        runs.append((ctx(NET_PROJECT), [dict(tiny, name="n%d-%d-%d" % (rnd, i, j), networks=[{"name": "small"}])
                                        for j in range(5 if quick else 3)]))
    # 3. the hosts near capacity: big servers (3 GiB of RAM: one fits a host) until no host fits one
    for i in range(1 if quick else 2):
        runs.append((ctx(CAP_PROJECT), [dict(name="h%d-%d" % (rnd, i), flavor="m1.big", image="cirros",
                                             networks=[{"name": "big"}], min_count=2),
                                        dict(name="h%d-%d-x" % (rnd, i), flavor="m1.big", image="cirros",
                                             networks=[{"name": "big"}])]))
    # 4. stratus CLI calls racing the runs for the same quota and hosts
    cli = [["--project", QUOTA_PROJECT, "--user", "u-" + QUOTA_PROJECT, "--role", "member", "server", "create",
            "--name", "cq%d" % rnd, "--flavor", "m1.tiny", "--image", "cirros", "--network", "big"]]
    if not quick:
        cli.append(["--project", CLI_PROJECT, "--user", "u-" + CLI_PROJECT, "--role", "member", "server", "create",
                    "--name", "cb%d" % rnd, "--flavor", "m1.big", "--image", "cirros", "--network", "big",
                    "--count", "2"])
    return runs, cli


class Backend:
    def __init__(self, sc: scenario.Scenario, name: str, db_url: str, work: Path) -> None:
        self.sc, self.name, self.db_url, self.work = sc, name, db_url, work
        work.mkdir(parents=True, exist_ok=True)
        self.inventory = ansible_run.write_yaml(work / "hosts.yml", ansible_run.controller_inventory(
            CATALOG, HOSTS, CAPACITY, local_hypervisors=work / "pools"))
        (work / "decide.yml").write_text(DECIDE)
        self.decide_dir = work / "cli-playbooks"
        self.decide_dir.mkdir(exist_ok=True)
        # the CLI's provision.yml: play 1 as the collection runs it (a refusal fails the run)
        cli_play = DECIDE.replace("ignore_errors: true", "ignore_errors: false")
        (self.decide_dir / "provision.yml").write_text(
            cli_play.split("\n    - name: Write the answers", maxsplit=1)[0] + "\n")
        self.engine = store.open_engine(db_url)
        self.seq = 0
        self.logs: list[Path] = []

    def figure(self, key: str, by: int = 1) -> None:
        self.sc.count(key, by)
        self.sc.count("%s.%s" % (self.name, key), by)

    # --- starting processes ---------------------------------------------------------------------------------

    def start_playbook(self, playbook: Path, run: Run, answers: t.Optional[Path]) -> subprocess.Popen:
        caller, servers = run
        self.seq += 1
        extra: dict[str, t.Any] = {"stratus_servers": servers}
        if answers is not None:
            extra["answers_file"] = str(answers)
        vars_file = self.work / ("vars-%d.json" % self.seq)
        vars_file.write_text(json.dumps(extra))
        self.logs.append(self.work / ("run-%d.log" % self.seq))
        log = open(self.logs[-1], "w")
        return subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook),
                                 "-e", "@%s" % vars_file], stdout=log, stderr=subprocess.STDOUT,
                                env=ansible_run.env(STRATUS_DB_URL=self.db_url, **ansible_run.caller_env(caller)), cwd=str(self.work))

    def start_cli(self, args: list[str], playbook_dir: t.Optional[Path]) -> subprocess.Popen:
        extra = {"STRATUS_INVENTORY": str(self.inventory), "STRATUS_DB_URL": self.db_url}
        if playbook_dir is not None:
            extra["STRATUS_PLAYBOOK_DIR"] = str(playbook_dir)
        return subprocess.Popen([str(VENV_BIN / "stratus"), "-q", *args, "--output", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ansible_run.env(**extra),
                                cwd=str(self.work))

    # --- one round ------------------------------------------------------------------------------------------

    def create_round(self, rnd: int) -> None:
        runs, cli = round_workload(rnd, self.sc.quick)
        answers = [self.work / ("answers-%d-%d.json" % (rnd, i)) for i in range(len(runs))]
        procs = [self.start_playbook(self.work / "decide.yml", run, ans) for run, ans in zip(runs, answers)]
        clis = [self.start_cli(args, self.decide_dir) for args in cli]
        for proc in procs:
            proc.wait(timeout=900)
            self.figure("runs")
        requested = created = 0
        for ans in answers:
            try:
                results = json.loads(ans.read_text())
            except (OSError, ValueError) as exc:
                self.sc.check("every_run_answered", False, "%s: %s" % (ans.name, exc))
                continue
            for res in results:
                want = int(res["item"].get("max_count") or res["item"].get("min_count") or 1)
                requested += want
                # Ansible puts "(traceback unavailable)" into every failed item; a real one says Traceback
                self.tally(res.get("failed"), res.get("error"), len(res.get("server_uuids") or []),
                           "Traceback" in str(res.get("exception") or ""))
                created += len(res.get("server_uuids") or [])
        for args, proc in zip(cli, clis):
            out, err = proc.communicate(timeout=900)
            self.figure("runs")
            self.figure("cli_calls")
            want = int(args[args.index("--count") + 1]) if "--count" in args else 1
            requested += want
            self.sc.check("cli_no_traceback", "Traceback" not in err, err[-500:])
            try:
                doc = json.loads(out)
            except ValueError:
                doc = {}
            errors = doc.get("errors") or []
            made = len([s for s in doc.get("servers") or [] if s.get("id")])
            if proc.returncode == 0:
                self.tally(False, None, made, False)
            elif errors:
                self.tally(True, errors[0], made, False)
            else:  # a failure without a coded result: the one-line stderr says CODE: message
                code = err.strip().split(":")[1].strip() if err.startswith("error:") else None
                self.tally(True, {"code": code} if code else None, made, False)
            created += made
        self.figure("servers_requested", requested)
        self.figure("servers_created", created)
        self.check_store("after_create", expect_live=created)

    def tally(self, failed: t.Any, error: t.Any, made: int, traceback: bool) -> None:
        if traceback:
            self.figure("tracebacks")
        if not failed:
            return
        code = (error or {}).get("code") if isinstance(error, dict) else None
        if code in EXPECTED_CODES:
            self.figure("refused_%s" % code)
        else:
            self.figure("refused_other")
            self.sc.note("%s: unexpected refusal %r" % (self.name, error))

    def delete_round(self, rnd: int) -> None:
        """Delete everything alive, concurrently: overlapping ansible-playbook runs and CLI deletes."""
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.text("SELECT project_id, name FROM instances WHERE deleted = '' "
                                             "ORDER BY project_id, name")))
        by_project: dict[str, list[str]] = {}
        for project, name in rows:
            by_project.setdefault(project, []).append(name)
        runs: list[Run] = []
        cli: list[list[str]] = []
        for k, (project, names) in enumerate(sorted(by_project.items())):
            # each project's own runs (a caller deletes only its project's servers); two of them share one
            # server, so the same server deleted twice at once must stay safe (quick: the first project only)
            requests = [{"name": name, "state": "absent"} for name in names]
            if (k == 0 or not self.sc.quick) and len(requests) > 1:
                half = len(requests) // 2 + 1
                runs += [(ctx(project), requests[:half]), (ctx(project), requests[half - 1:])]
            else:
                runs.append((ctx(project), requests))
        for project, names in sorted(by_project.items())[:1 if self.sc.quick else None]:
            cli.append(["--project", project, "--user", "u-" + project, "--role", "member", "server", "delete",
                        *names[-2:]])
        procs = [self.start_playbook(ROOT / "playbooks" / "provision.yml", r, None) for r in runs]
        logs = self.logs[-len(procs):]
        clis = [self.start_cli(args, None) for args in cli]
        for proc, log in zip(procs, logs):
            proc.wait(timeout=900)
            self.figure("delete_runs")
            if proc.returncode != 0:
                self.sc.check("delete_runs_succeed", False, "%s: %s" % (log, log.read_text()[-800:]))
        for proc in clis:
            out, err = proc.communicate(timeout=900)
            self.figure("delete_runs")
            self.sc.check("cli_no_traceback", "Traceback" not in err, err[-500:])
            self.sc.check("delete_runs_succeed", proc.returncode == 0, "stratus delete: %s %s" % (out[-300:], err[-300:]))
        self.check_store("after_delete", expect_live=0)

    # --- the invariants, from the store ---------------------------------------------------------------------

    def check_store(self, when: str, expect_live: int) -> None:
        tag = "%s %s" % (self.name, when)
        with self.engine.connect() as conn:
            def q(sql: str) -> list[t.Any]:
                return list(conn.execute(sa.text(sql)))

            live = q("SELECT uuid, project_id, host, vm_state, task_state, flavor FROM instances WHERE deleted = ''")
            self.sc.check("store_matches_results", len(live) == expect_live,
                          "%s: %d live instances, the runs reported %d" % (tag, len(live), expect_live))
            # usage <= quota (instances; cores and ram have room to spare by design, checked anyway)
            quotas = CATALOG["stratus_quotas"]
            per_project: dict[str, list[t.Any]] = {}
            for row in live:
                per_project.setdefault(row.project_id, []).append(row)
            for project, rows in per_project.items():
                limit = {**quotas["defaults"], **quotas.get("projects", {}).get(project, {})}
                flavors = [r.flavor if isinstance(r.flavor, dict) else json.loads(r.flavor) for r in rows]
                cores = sum(int(f["vcpus"]) for f in flavors)
                ram = sum(int(f["ram"]) for f in flavors)
                self.sc.check("usage_within_quota", len(rows) <= limit["instances"] and cores <= limit["cores"]
                              and ram <= limit["ram"], "%s: project %s uses %d instances, %d cores, %d MB"
                              % (tag, project, len(rows), cores, ram))
            # no duplicate IP or MAC, every address usable and of a live instance
            dup_ip = q("SELECT network_id, address FROM ip_allocations GROUP BY network_id, address "
                       "HAVING count(*) > 1")
            dup_mac = q("SELECT mac FROM ip_allocations GROUP BY mac HAVING count(*) > 1")
            self.sc.check("no_duplicate_ip_or_mac", not dup_ip and not dup_mac, "%s: %s %s" % (tag, dup_ip, dup_mac))
            nets = {n["id"]: ipaddress.ip_network(n["cidr"]) for n in CATALOG["stratus_networks"]}
            bad = [(r.network_id, r.address) for r in q("SELECT network_id, address FROM ip_allocations")
                   if ipaddress.ip_address(r.address) not in nets[r.network_id]
                   or ipaddress.ip_address(r.address) in (nets[r.network_id].network_address + 1,
                                                          nets[r.network_id].broadcast_address)]
            self.sc.check("addresses_usable", not bad, "%s: %s" % (tag, bad))
            small_used = q("SELECT count(*) AS n FROM ip_allocations WHERE network_id = '%s'" % SMALL_NET_ID)[0].n
            self.sc.check("small_network_not_overallocated", small_used <= 4, "%s: %d of 4" % (tag, small_used))
            orphan_ips = q("SELECT a.address FROM ip_allocations a LEFT JOIN instances i ON i.uuid = a.instance_uuid "
                           "AND i.deleted = '' WHERE i.uuid IS NULL")
            self.sc.check("every_ip_of_a_live_instance", not orphan_ips, "%s: %s" % (tag, orphan_ips))
            # no host past (total - reserved) x ratio, claims plus leftovers
            used = {r.host: r for r in q(
                "SELECT host, sum(vcpus) AS vcpus, sum(memory_mb) AS ram, sum(disk_gb) AS disk FROM "
                "(SELECT host, vcpus, memory_mb, disk_gb FROM resource_claims UNION ALL "
                " SELECT host, vcpus, memory_mb, disk_gb FROM leftovers) u GROUP BY host")}
            for host, hv in HOSTS.items():
                cap = dict(CAPACITY, **hv)
                limit_vcpus = (cap["stratus_vcpus"] - cap.get("stratus_reserved_host_cpus", 0)) \
                    * cap["stratus_cpu_allocation_ratio"]
                limit_ram = (cap["stratus_memory_mb"] - cap.get("stratus_reserved_host_memory_mb", 0)) \
                    * cap["stratus_ram_allocation_ratio"]
                limit_disk = (cap["stratus_local_gb"] - cap.get("stratus_reserved_host_disk_mb", 0) / 1024) \
                    * cap["stratus_disk_allocation_ratio"]
                u = used.get(host)
                if u is not None:
                    self.sc.check("hosts_within_allocation_ratio",
                                  u.vcpus <= limit_vcpus and u.ram <= limit_ram and u.disk <= limit_disk,
                                  "%s: %s uses %s vcpus / %s MB / %s GB of %s / %s / %s"
                                  % (tag, host, u.vcpus, u.ram, u.disk, limit_vcpus, limit_ram, limit_disk))
            # every claim belongs to a live instance, every placed live instance has its claim
            orphan_claims = q("SELECT c.instance_uuid FROM resource_claims c LEFT JOIN instances i ON "
                              "i.uuid = c.instance_uuid AND i.deleted = '' WHERE i.uuid IS NULL")
            self.sc.check("every_claim_of_a_live_instance", not orphan_claims, "%s: %s" % (tag, orphan_claims))
            unclaimed = q("SELECT i.uuid FROM instances i LEFT JOIN resource_claims c ON c.instance_uuid = i.uuid "
                          "WHERE i.deleted = '' AND i.host IS NOT NULL AND i.vm_state = 'building' "
                          "AND c.instance_uuid IS NULL")
            self.sc.check("every_placed_instance_claimed", not unclaimed, "%s: %s" % (tag, unclaimed))
            stuck = [(r.uuid, r.vm_state, r.task_state) for r in live if r.vm_state == "error"]
            self.sc.check("no_instance_in_error", not stuck, "%s: %s" % (tag, stuck))
            if when == "after_delete":
                left = q("SELECT count(*) AS n FROM leftovers")[0].n
                self.sc.check("delete_releases_everything", left == 0 and not used,
                              "%s: leftovers %d, claims on %s" % (tag, left, sorted(used)))
            # two runs racing for the same name must never both create it
            dup_names = q("SELECT project_id, name FROM instances WHERE deleted = '' GROUP BY project_id, name "
                          "HAVING count(*) > 1")
            self.sc.check("no_duplicate_server_names", not dup_names, "%s: %s" % (tag, dup_names))


def main(sc: scenario.Scenario) -> None:
    if not (VENV_BIN / "stratus").exists():
        raise scenario.CannotRun("the stratus command is not installed (make setup installs it)")
    rounds = 1 if sc.quick else 4
    sc.figures["backends"] = ["sqlite", "postgresql"]
    sc.figures["rounds_per_backend"] = rounds
    for key in ("runs", "cli_calls", "servers_requested", "servers_created", "refused_QuotaExceeded",
                "refused_NoValidHost", "refused_NoMoreFixedIps", "refused_other", "tracebacks", "delete_runs"):
        sc.figures[key] = 0
    with scenario.postgresql() as fresh:
        backends = [Backend(sc, "sqlite", store.sqlite_url(sc.work / "sqlite-store"), sc.work / "sqlite"),
                    Backend(sc, "postgresql", fresh("concurrency"), sc.work / "postgresql")]
        for backend in backends:
            for rnd in range(1, rounds + 1):
                t0 = time.monotonic()
                backend.create_round(rnd)
                backend.delete_round(rnd)
                print("%s round %d: %.1fs" % (backend.name, rnd, time.monotonic() - t0), flush=True)
            backend.engine.dispose()
    sc.check("no_tracebacks", sc.figures["tracebacks"] == 0)
    sc.check("no_refusal_with_another_code", sc.figures["refused_other"] == 0)
    # the workload is built to hit every limit: a round that refused nothing did not test them
    sc.check("quota_was_reached", sc.figures["refused_QuotaExceeded"] > 0)
    sc.check("hosts_were_filled", sc.figures["refused_NoValidHost"] > 0)
    sc.check("network_was_exhausted", sc.figures["refused_NoMoreFixedIps"] > 0)


if __name__ == "__main__":
    scenario.Scenario("concurrency", __doc__ or "").run(main)
