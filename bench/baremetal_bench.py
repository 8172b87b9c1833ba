# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench's bare-metal section: Stratus deploying and deleting N bare-metal servers against the floor.

A lab of its own: one hypervisor and five nodes behind the BMC namespace's emulators (node1..node4
Redfish, node5 IPMI); the operator manages and provides the nodes once. For each N (1..4 by
default) and each repetition, holding the lab lock:

  floor    bench/baremetal_floor.py: a plain sushy script making the same Redfish calls (insert the
           medium, boot from CD once, power on, wait; force off, wait, eject) on N nodes, one medium per
           node built before the clock starts
  stratus  playbooks/provision.yml with N bm.small servers (decide, claims, IPs, the DHCP entry, each
           instance's medium, the same Redfish calls, the store), then the same with state absent

Each phase is checked (N servers ACTIVE, powered on, their medium inserted; after delete every node
available, powered off, nothing inserted). Medians of the repetitions, the ratio Stratus / floor per N
and phase, and where the floor's time goes (seconds per kind of Redfish call) go to the output file
(bench.json's "baremetal" section by default).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import sushy

import baremetal_floor  # bench/baremetal_floor.py, beside this script
from ansible_collections.stratus.compute.plugins.module_utils.baremetal import deploy_medium
from stratus_lab import ansible_run
from stratus_lab.ansible_run import CommandFailed, recap
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.paths import DEMO_INVENTORY, ROOT
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url

IMAGES = ROOT / "build" / "images"
KERNEL = IMAGES / "stratus-guest.vmlinuz"
RAMDISK = IMAGES / "stratus-guest.initrd"
NODES = 5  # node1..node4 Redfish, node5 IPMI (the lab makes the last node IPMI)
FLAVOR = "bm.small"
DEMO = {"user_id": "demo", "project_id": "demo", "roles": ["member"]}
ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}
TARGET_RATIO_AT_4 = 1.3
FIRST_ANSWER_S = 240.0


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


def run(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess:
    try:
        return ansible_run.run(cmd, env, timeout=timeout, check=True)
    except CommandFailed as exc:
        raise BenchError(str(exc)) from None


class BaremetalBench:
    def __init__(self, lab: LabSession) -> None:
        self.lab = lab
        self.records: list[dict[str, t.Any]] = []
        self.floor_calls: dict[int, list[dict[str, float]]] = {}
        self.lab_json = json.loads((lab.state / "lab.json").read_text())
        self.password = Path(self.lab_json["nodes"][0]["password_file"]).read_text().strip()

    # -- the lab --------------------------------------------------------------------------------------------

    def floor_nodes(self, n: int) -> list[baremetal_floor.FloorNode]:
        nodes = [r for r in self.lab_json["nodes"] if r["name"] != "node%d" % NODES][:n]
        return [baremetal_floor.FloorNode(r["name"], r["redfish_address"], r["redfish_path"], r["username"],
                                          self.password) for r in nodes]

    def system(self, node: baremetal_floor.FloorNode) -> t.Any:
        root = sushy.Sushy(node.redfish_address, username=node.username, password=node.password,
                           read_timeout=FIRST_ANSWER_S, connect_timeout=FIRST_ANSWER_S)
        return root.get_system(node.system_path)

    def node_facts(self, node: baremetal_floor.FloorNode) -> tuple[str, bool]:
        system = self.system(node)
        inserted = any(d.inserted for d in system.virtual_media.get_members())
        return system.power_state, inserted

    def expect_nodes(self, what: str, nodes: list[baremetal_floor.FloorNode], power: str, inserted: bool) -> None:
        for node in nodes:
            found = self.node_facts(node)
            if found != (power, inserted):
                raise BenchError("%s: %s has power %s, medium inserted %s; expected %s, %s"
                                 % (what, node.name, found[0], found[1], power, inserted))

    def store(self, query: str) -> list[tuple]:
        return [tuple(r) for r in store_rows(sqlite_url(self.lab.state / "store"), query)]

    def provide_nodes(self) -> None:
        env = ansible_run.env(store_dir=self.lab.state / "store", caller=ADMIN)
        argv = ansible_run.playbook_argv(ROOT / "playbooks" / "baremetal_provide_all.yml",
                                         [self.lab.inventory, DEMO_INVENTORY])
        run(argv, env)
        states = dict(self.store("select name, provision_state from baremetal_nodes"))
        if any(states.get("node%d" % k) != "available" for k in range(1, NODES)):
            raise BenchError("the Redfish nodes are not all available after provide: %s" % states)

    # -- measuring ------------------------------------------------------------------------------------------

    def timed(self, method: str, phase: str, n: int, rep: int, action: t.Callable[[], t.Any]) -> t.Any:
        start = time.monotonic()
        result = action()
        seconds = time.monotonic() - start
        self.records.append({"method": method, "phase": phase, "n": n, "rep": rep, "seconds": round(seconds, 3),
                             "loadavg_1m_before": round(os.getloadavg()[0], 2)})
        print("bench-baremetal: %-7s %-6s N=%d rep %d: %6.2fs" % (method, phase, n, rep + 1, seconds), flush=True)
        return result

    def floor(self, n: int, rep: int) -> None:
        nodes = self.floor_nodes(n)
        media_dir = Path(self.lab_json["media_dir"])
        urls = []
        for k, node in enumerate(nodes):
            uuid = "00000000-0000-4000-8000-%012d" % (1000 * rep + k)
            deploy_medium.build_deploy_medium(
                str(media_dir / deploy_medium.medium_name(uuid)), str(KERNEL), str(RAMDISK),
                {"uuid": uuid, "name": "floor-%d" % k, "hostname": "floor-%d" % k})
            urls.append("%s/%s" % (self.lab_json["media_url"], deploy_medium.medium_name(uuid)))
        deployed = self.timed("floor", "create", n, rep, lambda: baremetal_floor.deploy(nodes, urls))
        self.expect_nodes("floor create", nodes, sushy.PowerState.ON, True)
        deleted = self.timed("floor", "delete", n, rep, lambda: baremetal_floor.delete(nodes))
        self.expect_nodes("floor delete", nodes, sushy.PowerState.OFF, False)
        for url in urls:
            (media_dir / url.rsplit("/", 1)[1]).unlink()
        self.floor_calls.setdefault(n, []).append({"create": deployed["calls"], "delete": deleted["calls"]})

    def stratus(self, n: int, rep: int) -> None:
        create = [{"name": "bmb", "flavor": FLAVOR, "image": "stratus-guest", "networks": [{"name": "baremetal"}],
                   "min_count": n, "max_count": n}]
        proc = self.timed("stratus", "create", n, rep, lambda: run(self.lab.provision_argv(create), self.lab.env))
        active = self.store("select host from instances where deleted = '' and vm_state = 'active' "
                            "and (name = 'bmb' or name like 'bmb-%')")
        if len(active) != n:
            raise BenchError("stratus create N=%d: %d servers ACTIVE (%s)" % (n, len(active), recap(proc.stdout)))
        nodes = [node for node in self.floor_nodes(NODES) if (node.name,) in active]
        self.expect_nodes("stratus create", nodes, sushy.PowerState.ON, True)
        delete = [{"name": "bmb", "state": "absent", "max_count": n}]
        self.timed("stratus", "delete", n, rep, lambda: run(self.lab.provision_argv(delete), self.lab.env))
        self.expect_nodes("stratus delete", nodes, sushy.PowerState.OFF, False)
        states = dict(self.store("select name, provision_state from baremetal_nodes"))
        if any(states[node.name] != "available" for node in nodes):
            raise BenchError("stratus delete N=%d: nodes not available again: %s" % (n, states))

    def medians(self) -> dict[str, dict[str, dict[str, float]]]:
        out: dict[str, dict[str, dict[str, float]]] = {}
        for r in self.records:
            out.setdefault(r["method"], {}).setdefault(r["phase"], {}).setdefault(str(r["n"]), [])  # type: ignore
            out[r["method"]][r["phase"]][str(r["n"])].append(r["seconds"])  # type: ignore
        return {m: {p: {n: round(statistics.median(v), 3) for n, v in by_n.items()} for p, by_n in phases.items()}
                for m, phases in out.items()}

    def where_the_floor_time_goes(self) -> dict[str, dict[str, dict[str, float]]]:
        """Median seconds per kind of Redfish call, per N and phase."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for n, reps in self.floor_calls.items():
            for phase in ("create", "delete"):
                kinds = sorted({k for rep in reps for k in rep[phase]})
                out.setdefault(str(n), {})[phase] = {
                    k: round(statistics.median(rep[phase].get(k, 0.0) for rep in reps), 3) for k in kinds}
        return out


def report(bench: BaremetalBench, sizes: list[int], repeats: int, started: datetime.datetime,
           error: t.Optional[str]) -> dict[str, t.Any]:
    med = bench.medians()
    ratios: dict[str, dict[str, t.Optional[float]]] = {}
    for phase in ("create", "delete"):
        for n in sizes:
            s = med.get("stratus", {}).get(phase, {}).get(str(n))
            f = med.get("floor", {}).get(phase, {}).get(str(n))
            ratios.setdefault(phase, {})[str(n)] = round(s / f, 2) if s and f else None
    biggest = str(max(sizes))
    deploy_and_delete = {m: sum(med.get(m, {}).get(p, {}).get(biggest, 0.0) for p in ("create", "delete"))
                         for m in ("stratus", "floor")}
    at_max = (round(deploy_and_delete["stratus"] / deploy_and_delete["floor"], 2)
              if deploy_and_delete["floor"] and deploy_and_delete["stratus"] else None)
    return {
        "benchmark": "stratus bare-metal deploy and delete vs a plain sushy script (the same Redfish calls)",
        "complete": error is None,
        "error": error,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parameters": {"sizes": sizes, "repeats": repeats, "nodes": "node1..node4 Redfish (sushy-tools, libvirt "
                       "driver), node5 IPMI (unused)", "flavor": FLAVOR, "statistic": "median wall seconds"},
        "seconds": med,
        "ratios_stratus_over_floor": ratios,
        "deploy_and_delete_ratio_at_%s" % biggest: at_max,
        "target": {"deploy_and_delete_ratio_at_4": TARGET_RATIO_AT_4,
                   "met": None if at_max is None or biggest != "4" else at_max <= TARGET_RATIO_AT_4},
        "floor_seconds_per_call": bench.where_the_floor_time_goes(),
        "measurements": bench.records,
    }


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/stratus-bench-bm-lab"))
    parser.add_argument("--prefix", default="stxn")
    parser.add_argument("--subnet-base", default="10.234")
    parser.add_argument("--output", type=Path, default=ROOT / "bench.json",
                        help="a JSON file whose 'baremetal' key gets the report (other keys are kept)")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats: at least 3, the report is a median")
    if any(n < 1 or n > NODES - 1 for n in args.sizes):
        parser.error("--sizes: 1..%d (the lab's Redfish nodes)" % (NODES - 1))
    for path in (KERNEL, RAMDISK):
        if not path.exists():
            parser.error("%s is missing: run `make image` first" % path)
    sizes = sorted(set(args.sizes))
    lab = LabSession(args.state_dir, args.prefix, args.subnet_base, hypervisors=1, baremetal=NODES, caller=DEMO)
    started = datetime.datetime.now(datetime.timezone.utc)
    error = None
    bench: t.Optional[BaremetalBench] = None
    try:
        lab.up()
        bench = BaremetalBench(lab)
        bench.provide_nodes()
        for n in sizes:
            for rep in range(args.repeats):
                with lab_lock():
                    bench.floor(n, rep)
                    bench.stratus(n, rep)
    except (BenchError, LabError, subprocess.TimeoutExpired, sushy.exceptions.SushyError) as exc:
        error = str(exc)
        print("bench-baremetal: %s" % error, file=sys.stderr)
    finally:
        lab.down()
    section = report(bench, sizes, args.repeats, started, error) if bench else {"complete": False, "error": error}
    whole = json.loads(args.output.read_text()) if args.output.exists() else {}
    whole["baremetal"] = section
    args.output.write_text(json.dumps(whole, indent=2) + "\n")
    print(json.dumps({k: section.get(k) for k in ("complete", "ratios_stratus_over_floor", "target")}, indent=2))
    print("bench-baremetal: wrote the 'baremetal' section of %s" % args.output)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
