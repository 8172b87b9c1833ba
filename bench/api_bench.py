# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench's API section: `stratus api` under load, and a create through it against ansible-playbook.

Part 1, no lab: a store of its own (SQLite in a temporary directory) with SERVERS servers claimed by the
collection's own conductor (conductor/create.py create_servers, the call POST /servers makes, here without
the run that would build them), then marked built (vm_state active, power running) as their builds would
leave them; a catalog of its own (the demo's flavors and images, ten hypervisors of capacity, a /16
network, quotas of 10,000). A real `stratus api` (uvicorn, 1 worker, then N) serves; a client of ours
(threads, one keep-alive http.client connection each) sends a fixed number of requests at a fixed
concurrency and measures each one's latency:
  servers_detail  GET /v2.1/servers/detail (microversion 2.61), a member of the project of all SERVERS
  flavors         GET /v2.1/flavors: the smallest authenticated route (token check, a small body), the
                  HTTP stack's and the edge's floor that the others are compared with
  token_issue     POST /v3/auth/tokens with a password: argon2 verification is slow by design (it is
                  what makes a stolen hash costly to guess), so this is bounded by the CPUs
  dashboard_instances  GET /dashboard/instances with the member's session cookie: the table's first page
                  (the session's token validated, one servers/detail call of the page's limit, the image
                  list, the HTML rendered), the page a browser opens
Requests per second, p50/p99/max latency per route and worker count, and the ratios between them.

Part 2, a lab of its own (two hypervisors, prefix stxa, subnets 10.229.K.0; --no-lab leaves it out): the
same request of N = 10 servers (m1.bench, stratus-bench, network demo, no config drive), timed from the
request until all N are ACTIVE:
  api       POST /v2.1/servers (min_count N) to `stratus api` (1 worker), which decides and claims at
            once and runs provision.yml through ansible-runner; the client polls GET /servers/detail
            every POLL seconds until all N are ACTIVE (openstack server create --wait polls each server)
  playbook  ansible-playbook playbooks/provision.yml with the same request, until it returns
alternating which goes first, each repetition holding the lab lock; N domains running is checked after
each; the servers are deleted (provision.yml, state absent; not timed) between them. The medians and the
ratio api / playbook go to bench.json's "api" key.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import urllib.parse
import uuid
from pathlib import Path

import api_report  # bench/api_report.py, beside this script
from stratus_lab import inventory_overlay
from stratus_lab.paths import DEMO_INVENTORY, PROVISION, ROOT, VENV_BIN

BENCH_IMAGE_ID = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2c02"  # the demo catalog's stratus-bench
DEMO_NETWORK_ID = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e01"  # the demo catalog's demo network
FLAVOR_ID, FLAVOR = "3", "m1.bench"
IMAGE = ROOT / "build" / "images" / "stratus-bench.qcow2"
STRATUS = VENV_BIN / "stratus"
PROJECT, USER = "bench", "bench-user"
PASSWORD = "bench-Api-Pa55-word!"  # a throwaway user of a throwaway store
BENCH_NETWORK_ID = "6f0b4f6e-3a8e-4c1f-9d0a-2c9d1e7b5a10"
# Part 1's catalog: the demo's flavors and images (inventory/group_vars/all), and room for SERVERS servers.
LOAD_CATALOG = {
    "stratus_quotas": {"defaults": {"instances": 10000, "cores": 10000, "ram": 10000000}},
    "stratus_networks": [{"id": BENCH_NETWORK_ID, "name": "bench", "cidr": "10.199.0.0/16", "gateway": "10.199.0.1",
                          "dhcp": True, "hypervisors": "all"}],
}
LOAD_HYPERVISORS = 10
CAPACITY = {"stratus_vcpus": 64, "stratus_memory_mb": 262144, "stratus_local_gb": 4000,
            "stratus_cpu_allocation_ratio": 16.0, "stratus_ram_allocation_ratio": 1.0,
            "stratus_disk_allocation_ratio": 1.0}
LAB_QUOTAS = {"stratus_quotas": {"defaults": {"instances": 1000, "cores": 1000, "ram": 1000000}}}
POLL = 0.5
ROUTES = ("servers_detail_alone", "flavors_alone", "servers_detail", "flavors", "token_issue",
          "dashboard_instances_alone", "dashboard_instances")
# each route's p50 against the floor's measured the same way (one at a time, or CONCURRENCY at a time)
RATIOS = (("servers_detail_alone", "flavors_alone"), ("servers_detail", "flavors"), ("token_issue", "flavors"),
          ("dashboard_instances_alone", "flavors_alone"), ("dashboard_instances", "flavors"))
MICROVERSION = "compute 2.61"


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


# --- the client ----------------------------------------------------------------------------------------

class Target(t.NamedTuple):
    host: str
    port: int


def request(conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str],
            body: t.Optional[bytes] = None) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read(), resp


def load(target: Target, method: str, path: str, headers: dict[str, str], body: t.Optional[bytes], total: int,
         concurrency: int, expect: int, check: t.Optional[t.Callable[[bytes], bool]] = None) -> dict[str, t.Any]:
    """`total` requests from `concurrency` threads, each on a keep-alive connection of its own; the wall
    time from the first request to the last answer, and each request's latency."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    left = [total]
    start_together = threading.Barrier(concurrency + 1)

    def worker() -> None:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=300)
        start_together.wait()
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            began = time.perf_counter()
            try:
                status, data, _resp = request(conn, method, path, headers, body)
                ok = status == expect and (check is None or check(data))
                problem = None if ok else "HTTP %d: %s" % (status, data[:200].decode("utf-8", "replace"))
            except (OSError, http.client.HTTPException) as exc:
                problem = "%s: %s" % (type(exc).__name__, exc)
                conn.close()
                conn = http.client.HTTPConnection(target.host, target.port, timeout=300)
            spent = time.perf_counter() - began
            with lock:
                if problem is None:
                    latencies.append(spent)
                else:
                    errors.append(problem)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _number in range(concurrency)]
    for th in threads:
        th.start()
    start_together.wait()
    began = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - began
    out = api_report.load_summary(latencies, wall, len(errors))
    out["concurrency"] = concurrency
    if errors:
        out["first_error"] = errors[0]
    return out


def token_body(user: str, password: str, project: str) -> bytes:
    return json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}).encode()


def issue_token(target: Target, user: str, password: str, project: str) -> str:
    conn = http.client.HTTPConnection(target.host, target.port, timeout=120)
    try:
        status, data, resp = request(conn, "POST", "/v3/auth/tokens", {"Content-Type": "application/json"},
                                     token_body(user, password, project))
        if status != 201:
            raise BenchError("token for %s: HTTP %d %s" % (user, status, data[:300]))
        return resp.getheader("X-Subject-Token") or ""
    finally:
        conn.close()


# --- the API process -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_env() -> dict[str, str]:
    """As a user's shell starts `stratus api` (the lab e2e's): no Ansible, Stratus or OpenStack setting inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "STRATUS_", "OS_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "cli"), os.environ.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def stratus_api(store_url: str, inventories: list[Path], workers: int, log: Path) -> t.Iterator[Target]:
    """`stratus api` (uvicorn, `workers` processes) on a free loopback port, until it answers; stopped (its
    process group, by its pid) on the way out."""
    port = free_port()
    argv = [str(STRATUS), "--db-url", store_url, "--quiet"]
    for inventory in inventories:
        argv += ["-i", str(inventory)]
    argv += ["api", "--port", str(port), "--workers", str(workers)]
    with log.open("a") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=api_env(), start_new_session=True)
    target = Target("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise BenchError("stratus api exited with %s: %s" % (proc.returncode, log.read_text()[-2000:]))
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(target.host, target.port, timeout=5)
                try:
                    if request(conn, "GET", "/v3", {})[0] == 200:
                        break
                finally:
                    conn.close()
            if time.monotonic() > deadline:
                raise BenchError("stratus api did not answer within 120 s: %s" % log.read_text()[-2000:])
            time.sleep(0.2)
        yield target
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


def add_identity(store_url: str) -> None:
    """The project and its member user, in the store as `stratus identity` writes them."""
    from stratus_cli.api import identity
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    with engine.transaction(store_url) as conn:
        identity.create_project(conn, PROJECT, PROJECT)
        identity.create_user(conn, USER, PASSWORD)
        identity.add_role(conn, USER, PROJECT, "member")


def user_id(store_url: str) -> str:
    from stratus_cli.api import identity
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    with engine.transaction(store_url) as conn:
        return str(identity.user_by_name_or_none(conn, None, USER).id)


# --- part 1: the routes under load ---------------------------------------------------------------------

def load_inventory(work: Path) -> list[Path]:
    hosts = work / "hypervisors.yml"
    hvs = {"hv%d" % k: dict(CAPACITY, ansible_host="127.0.0.1", stratus_availability_zone="az1")
           for k in range(1, LOAD_HYPERVISORS + 1)}
    hosts.write_text(json.dumps({"all": {"children": {"hypervisors": {"vars": {"ansible_connection": "local"},
                                                                      "hosts": hvs}}}}))
    return [hosts, DEMO_INVENTORY, inventory_overlay.write(work / "catalog", LOAD_CATALOG)]


def seed_servers(store_url: str, inventories: list[Path], count: int) -> dict[str, t.Any]:
    """`count` servers claimed by conductor/create.py's create_servers (what POST /servers calls; no build
    run), in batches of 100, for the bench user; then marked as their builds leave them (active, running)."""
    from stratus_cli.api.app import build_app
    from stratus_cli.api.serve import load_config
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine
    import sqlalchemy as sa

    config = load_config(store_url, [str(i) for i in inventories], None, 3600)
    caller = build_app(config).state.cloud.caller(user_id(store_url), PROJECT, ["member"])
    began = time.monotonic()
    made = 0
    batch = 0
    while made < count:
        size = min(100, count - made)
        req = {"name": "load%02d" % batch, "flavor": FLAVOR_ID, "image": BENCH_IMAGE_ID,
               "networks": [{"uuid": BENCH_NETWORK_ID}], "min_count": size, "max_count": size, "config_drive": False}
        outcome = create_servers(req, caller, config.variables, config.hypervisors, config.hostvars, config.store_url,
                                 False, "req-" + str(uuid.uuid4()), config.variables, config.baremetal_nodes)
        made += len([s for s in outcome.servers if s.get("vm_state") == "building"])
        batch += 1
    claimed = time.monotonic() - began
    with engine.transaction(store_url) as conn:
        conn.execute(sa.text("update instances set vm_state = 'active', task_state = null, power_state = 'running', "
                             "launched_at = created_at where deleted = ''"))
        found = conn.execute(sa.text("select count(*) from instances where deleted = ''")).scalar()
    if found != count:
        raise BenchError("seeding: %d servers in the store, %d wanted" % (found, count))
    return {"servers": count, "claimed_by": "conductor/create.py create_servers (POST /servers' call, no build run), "
                                            "batches of 100; then vm_state active, power running",
            "claim_seconds": round(claimed, 2)}


def part_load(work: Path, args: argparse.Namespace) -> dict[str, t.Any]:
    store_url = "sqlite:///%s" % (work / "load-store.db")
    inventories = load_inventory(work)
    from stratus_cli.api.collection import ensure_importable

    ensure_importable()
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    engine.get_engine(store_url)  # migrations
    add_identity(store_url)
    seeded = seed_servers(store_url, inventories, args.servers)
    print("bench-api: %d servers claimed in %.1fs" % (args.servers, seeded["claim_seconds"]), flush=True)
    by_workers: dict[str, t.Any] = {}
    for workers in args.workers:
        with stratus_api(store_url, inventories, workers, work / "api-load.log") as target:
            token = issue_token(target, USER, PASSWORD, PROJECT)
            headers = {"X-Auth-Token": token, "OpenStack-API-Version": MICROVERSION, "Accept": "application/json"}

            def all_servers(data: bytes) -> bool:
                return len(json.loads(data)["servers"]) == args.servers

            # one checked answer first (and the workers warmed: imports, the store's first connection)
            first = load(target, "GET", "/v2.1/servers/detail", headers, None, 2 * workers, workers, 200, all_servers)
            if first["errors"]:
                raise BenchError("servers/detail: %s" % first.get("first_error"))
            found: dict[str, t.Any] = {}
            # one at a time: a request's own cost, with no other waiting for the store's lock
            found["servers_detail_alone"] = load(target, "GET", "/v2.1/servers/detail", headers, None,
                                                 args.alone_requests, 1, 200)
            found["flavors_alone"] = load(target, "GET", "/v2.1/flavors", headers, None, 10 * args.alone_requests, 1,
                                          200)
            found["servers_detail"] = load(target, "GET", "/v2.1/servers/detail", headers, None, args.detail_requests,
                                           args.concurrency, 200)
            found["flavors"] = load(target, "GET", "/v2.1/flavors", headers, None, args.small_requests,
                                    args.concurrency, 200)
            found["token_issue"] = load(target, "POST", "/v3/auth/tokens", {"Content-Type": "application/json"},
                                        token_body(USER, PASSWORD, PROJECT), args.token_requests, args.concurrency,
                                        201)
            found.update(dashboard_load(target, token, args))
            sizes = {"servers_detail_body_bytes": None}
            conn = http.client.HTTPConnection(target.host, target.port, timeout=120)
            try:
                sizes["servers_detail_body_bytes"] = len(request(conn, "GET", "/v2.1/servers/detail", headers)[1])
            finally:
                conn.close()
            found.update(sizes)
            for route in ROUTES:
                r = found[route]
                print("bench-api: %d worker(s) %-20s %7.1f req/s  p50 %8.1f ms  p99 %8.1f ms  (%d requests, %d errors)"
                      % (workers, route, r["requests_per_second"] or 0, r["p50_ms"] or 0, r["p99_ms"] or 0,
                         r["requests"], r["errors"]), flush=True)
            by_workers[str(workers)] = found
    return {"store": dict(seeded, backend="SQLite (a file of its own)", hypervisors=LOAD_HYPERVISORS),
            "by_workers": by_workers, "ratios": load_ratios(by_workers)}


def dashboard_load(target: Target, token: str, args: argparse.Namespace) -> dict[str, t.Any]:
    """GET /dashboard/instances as a logged-in browser asks it (the session cookie holds the token): the table's
    first page (instances.py PAGE_SIZE rows of the SERVERS, newest first), one at a time and CONCURRENCY at a
    time; each answer checked for its full page of rows."""
    from stratus_cli.dashboard.instances import PAGE_SIZE

    headers = {"Cookie": "stratus_session=" + token, "Accept": "text/html"}

    def full_page(data: bytes) -> bool:
        return api_report.table_rows(data.decode("utf-8", "replace")) == min(PAGE_SIZE, args.servers)

    first = load(target, "GET", "/dashboard/instances", headers, None, 2, 1, 200, full_page)
    if first["errors"]:
        raise BenchError("dashboard/instances: %s" % first.get("first_error"))
    return {"dashboard_instances_alone": load(target, "GET", "/dashboard/instances", headers, None,
                                              args.alone_requests, 1, 200, full_page),
            "dashboard_instances": load(target, "GET", "/dashboard/instances", headers, None, args.detail_requests,
                                        args.concurrency, 200, full_page),
            "dashboard_instances_rows_per_page": PAGE_SIZE}


def load_ratios(by_workers: dict[str, t.Any]) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {}
    for workers, found in by_workers.items():
        for route, floor in RATIOS:
            out["%s_p50_over_%s_p50 at %s workers" % (route, floor, workers)] = api_report.ratio(
                found[route]["p50_ms"], found[floor]["p50_ms"])
    keys = sorted(by_workers, key=int)
    if len(keys) > 1:
        lo, hi = by_workers[keys[0]], by_workers[keys[-1]]
        for route in ROUTES:
            out["%s_rps_%s_workers_over_%s" % (route, keys[-1], keys[0])] = api_report.ratio(
                hi[route]["requests_per_second"], lo[route]["requests_per_second"])
    return out


# --- part 2: a create through the API against ansible-playbook, on a lab --------------------------------

def part_lab(work: Path, args: argparse.Namespace) -> dict[str, t.Any]:
    import floor  # bench/floor.py: its libvirt counts
    from bench import machine_snapshot, playbook
    from stratus_lab.lock import lab_lock
    from stratus_lab.session import LabSession

    lab = LabSession(args.state_dir, args.prefix, args.subnet_base, hypervisors=2)
    records: list[dict[str, t.Any]] = []
    waits: list[float] = []
    error = None
    n = args.lab_n
    with lab:
        overlay = inventory_overlay.write(lab.state / "bench-api-catalog", LAB_QUOTAS)
        inventories = [lab.inventory, DEMO_INVENTORY, overlay]
        from stratus_cli.api.collection import ensure_importable

        ensure_importable()
        from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

        engine.get_engine(lab.store_url)
        with engine.transaction(lab.store_url) as conn:
            from stratus_cli.api import identity
            identity.create_project(conn, "demo", "demo")  # the demo catalog's project, as the playbook's caller
            identity.create_user(conn, USER, PASSWORD)
            identity.add_role(conn, USER, "demo", "member")

        def running(prefix: str) -> int:
            return sum(floor.running_domains(lab.host(k).libvirt_uri(), prefix) for k in lab.host_numbers())

        def delete(name: str) -> None:
            playbook(lab, PROVISION, {"stratus_servers": [{"name": name, "state": "absent", "max_count": n}]},
                     inventories=[DEMO_INVENTORY, overlay])
            if lab.rows("select uuid from instances where deleted = ''"):
                raise BenchError("servers left after deleting %s" % name)

        def by_playbook(rep: int) -> None:
            req = {"name": "pb", "flavor": FLAVOR, "image": "stratus-bench", "networks": [{"name": "demo"}],
                   "min_count": n, "config_drive": False}
            began = time.monotonic()
            playbook(lab, PROVISION, {"stratus_servers": [req]}, inventories=[DEMO_INVENTORY, overlay])
            seconds = time.monotonic() - began
            if running("instance-") != n:
                raise BenchError("playbook: %d domains running, %d expected" % (running("instance-"), n))
            records.append({"method": "playbook", "rep": rep, "n": n, "seconds": round(seconds, 3),
                            "machine_before": snapshot})
            print("bench-api: playbook N=%d rep %d: %.2fs" % (n, rep + 1, seconds), flush=True)
            delete("pb")

        def by_api(rep: int, target: Target, token: str) -> None:
            headers = {"X-Auth-Token": token, "OpenStack-API-Version": MICROVERSION,
                       "Content-Type": "application/json"}
            body = json.dumps({"server": {"name": "api", "flavorRef": FLAVOR_ID, "imageRef": BENCH_IMAGE_ID,
                                          "networks": [{"uuid": DEMO_NETWORK_ID}], "min_count": n,
                                          "config_drive": False}}).encode()
            conn = http.client.HTTPConnection(target.host, target.port, timeout=300)
            try:
                began = time.monotonic()
                status, data, _resp = request(conn, "POST", "/v2.1/servers", headers, body)
                accepted = time.monotonic() - began
                if status != 202:
                    raise BenchError("POST /servers: HTTP %d %s" % (status, data[:500]))
                query = "/v2.1/servers/detail?" + urllib.parse.urlencode({"name": "^api"})
                polls = 0
                while True:
                    polls += 1
                    status, data, _resp = request(conn, "GET", query, headers)
                    if status != 200:
                        raise BenchError("GET /servers/detail: HTTP %d %s" % (status, data[:500]))
                    states = [s["status"] for s in json.loads(data)["servers"]]
                    if "ERROR" in states:
                        raise BenchError("api: a server went to ERROR: %s" % data[:2000])
                    if len(states) == n and set(states) == {"ACTIVE"}:
                        break
                    if time.monotonic() - began > 900:
                        raise BenchError("api: not all ACTIVE within 900 s: %s" % states)
                    time.sleep(POLL)
                seconds = time.monotonic() - began
            finally:
                conn.close()
            if running("instance-") != n:
                raise BenchError("api: %d domains running, %d expected" % (running("instance-"), n))
            records.append({"method": "api", "rep": rep, "n": n, "seconds": round(seconds, 3),
                            "post_answered_seconds": round(accepted, 3), "polls": polls, "machine_before": snapshot})
            print("bench-api: api      N=%d rep %d: %.2fs (POST answered in %.3fs)" % (n, rep + 1, seconds, accepted),
                  flush=True)
            delete("api")

        try:
            with stratus_api(lab.store_url, inventories, 1, work / "api-lab.log") as target:
                token = issue_token(target, USER, PASSWORD, "demo")
                for rep in range(args.repeats):
                    with lab_lock() as waited:
                        waits.append(round(waited, 1))
                        snapshot = machine_snapshot(lab)
                        if rep % 2 == 0:
                            by_api(rep, target, token)
                            by_playbook(rep)
                        else:
                            by_playbook(rep)
                            by_api(rep, target, token)
        except BenchError as exc:
            error = str(exc)
            print("bench-api: %s" % error, file=sys.stderr)
        log = (work / "api-lab.log").read_text() if (work / "api-lab.log").exists() else ""
    med = api_report.lab_medians(records)
    return {"complete": error is None, "error": error, "n": n, "repeats": args.repeats,
            "hypervisors": 2, "prefix": args.prefix, "subnet_base": args.subnet_base,
            "request": "%d servers of %s, image stratus-bench, network demo, no config drive, in one request "
                       "(min_count)" % (n, FLAVOR),
            "api_poll_seconds": POLL, "api_workers": 1,
            "statistic": "median wall seconds from the request until all N ACTIVE (api) / the run returned "
                         "(playbook)",
            "seconds": med, "ratio_api_over_playbook": api_report.ratio(med.get("api"), med.get("playbook")),
            "lab_lock_waits_seconds": waits, "api_log_tracebacks": log.count("Traceback"),
            "measurements": records}


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--servers", type=int, default=1000, help="servers in the store for the load (1,000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, max(2, os.cpu_count() or 2)],
                        help="uvicorn workers of each load run (1 and the CPUs)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--alone-requests", type=int, default=10, help="servers/detail one at a time")
    parser.add_argument("--detail-requests", type=int, default=40)
    parser.add_argument("--small-requests", type=int, default=1000)
    parser.add_argument("--token-requests", type=int, default=40)
    parser.add_argument("--no-lab", action="store_true", help="leave out part 2 (the lab)")
    parser.add_argument("--lab-n", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of part 2 (the lab)")
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/stratus-bench-api-lab"))
    parser.add_argument("--prefix", default="stxa")
    parser.add_argument("--subnet-base", default="10.229")
    parser.add_argument("--output", type=Path, default=ROOT / "bench.json",
                        help="a JSON file whose 'api' key gets the report (other keys are kept)")
    args = parser.parse_args(argv)
    if args.servers < 1 or args.concurrency < 1 or min(args.workers) < 1:
        parser.error("--servers, --concurrency and --workers: at least 1")
    if not args.no_lab and not IMAGE.exists():
        parser.error("%s is missing: run `make image` first" % IMAGE)
    started = datetime.datetime.now(datetime.timezone.utc)
    report: dict[str, t.Any] = {
        "benchmark": "stratus api: servers detail and the dashboard's instances page with %d servers, and token "
                     "issue under load (1 and N uvicorn workers); POST /servers to ACTIVE against ansible-playbook "
                     "provision.yml" % args.servers,
        "started": started.isoformat(timespec="seconds"),
        "parameters": {"client": "threads, one keep-alive http.client connection each, on the same machine",
                       "concurrency": args.concurrency, "concurrency_of_the_alone_runs": 1,
                       "microversion": MICROVERSION,
                       "requests": {"servers_detail_alone": args.alone_requests,
                                    "flavors_alone": 10 * args.alone_requests,
                                    "servers_detail": args.detail_requests, "flavors": args.small_requests,
                                    "token_issue": args.token_requests,
                                    "dashboard_instances_alone": args.alone_requests,
                                    "dashboard_instances": args.detail_requests},
                       "statistic": "requests per second over the run's wall time; nearest-rank p50/p99"},
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]},
    }
    error = None
    with tempfile.TemporaryDirectory(prefix="stratus-bench-api-") as tmp:
        try:
            report["load"] = part_load(Path(tmp), args)
        except BenchError as exc:
            error = "load: %s" % exc
            print("bench-api: %s" % error, file=sys.stderr)
        if not args.no_lab:
            from stratus_lab.lab import LabError
            try:
                report["create_to_active"] = part_lab(Path(tmp), args)
                if report["create_to_active"]["error"]:
                    error = error or "lab: %s" % report["create_to_active"]["error"]
            except (BenchError, LabError, subprocess.TimeoutExpired) as exc:
                error = error or "lab: %s" % exc
                print("bench-api: %s" % exc, file=sys.stderr)
    report.update(complete=error is None, error=error,
                  finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    whole = json.loads(args.output.read_text()) if args.output.exists() else {}
    whole["api"] = report
    args.output.write_text(json.dumps(whole, indent=2) + "\n")
    print(json.dumps({"complete": report["complete"], "load ratios": report.get("load", {}).get("ratios"),
                      "create_to_active": {k: report.get("create_to_active", {}).get(k)
                                           for k in ("seconds", "ratio_api_over_playbook")}}, indent=2))
    print("bench-api: wrote the 'api' section of %s" % args.output)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
