"""Bare metal: SIGKILLed deploys and deletes, a race for the last node, a BMC that stops answering.

One lab of its own (one hypervisor, four nodes: node1..node3 Redfish, node4 IPMI, which the scheduler
keeps out until PXE exists), prefix stxk, subnet 10.249 (STRATUS_RELIABILITY_BM_PREFIX / _SUBNET):

1. kills: provision.yml of two bare-metal servers, and their delete, SIGKILLed (the whole process
   group) at a seeded random point inside the uninterrupted run's length; the same request is run
   again, then the nodes, the BMC (Redfish power and VirtualMedia), the media dir and the node
   network's DHCP hosts dir are audited against the store;
2. race: with two nodes taken, K runs at once ask for one server each: one wins, the others are
   NoValidHost, no node is booked twice;
3. BMC gone: the lab's sushy-emulator is stopped (its own pid) once a deploy has written its medium (the
   node deploying, the spawn step's insert/boot/power wait under way); the
   server must end rescheduled or ERROR with a BMC fault and hold nothing, the nodes say the fault;
   the emulator is started again (the lab's idempotent `up`), a rerun and the operator's
   baremetal_provide_all.yml bring every node back to available.

    .venv/bin/python reliability/scenarios/baremetal.py --out DIR [--quick]   (STRATUS_RELIABILITY_SEED=N)
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import time
import typing as t
from pathlib import Path

import sushy

from stratus_lab import ansible_run
from stratus_lab.baremetal import BmcHost, bmc_of
from stratus_lab.lab import LabError, load_lab, stop_daemon
from stratus_lab.lock import lab_lock
from stratus_lab.paths import DEMO_INVENTORY, ROOT
from stratus_lab.scenario import LAB_STATE_BASE, CannotRun, Scenario, log
from stratus_lab.session import LabSession

SCENARIO = "baremetal"
PREFIX = os.environ.get("STRATUS_RELIABILITY_BM_PREFIX", "stxk")
SUBNET = os.environ.get("STRATUS_RELIABILITY_BM_SUBNET", "10.249")
STATE = LAB_STATE_BASE / SCENARIO
NODES = 4                                    # the lab's last node is IPMI: three Redfish nodes deploy
REDFISH_NODES = ("node1", "node2", "node3")
TRIALS, QUICK_TRIALS = 12, 4                 # kills, alternating provision / delete
RACERS, QUICK_RACERS = 4, 3
MAX_RERUNS = 2
DEMO = {"user_id": "demo", "project_id": "demo", "roles": ["member"]}   # the node network is demo's
ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}
PROVIDE_ALL = ROOT / "playbooks" / "baremetal_provide_all.yml"
FIRST_ANSWER_S = 240.0                       # the first Redfish GET can take ~60 s on 2 cores
NET = [{"name": "baremetal"}]
SERVERS = [{"name": "bmk", "flavor": "bm.small", "image": "stratus-guest", "networks": NET,
            "min_count": 2, "max_count": 2}]
DELETE = [{"name": "bmk", "state": "absent", "min_count": 2, "max_count": 2}]
NAMES = ("bmk-1", "bmk-2")
TRANSIENT = ("deploying", "deleting", "cleaning", "verifying", "inspecting")


class BmLab:
    """The scenario's view of its lab: the store, the BMC through Redfish, the files the deploy writes."""

    def __init__(self, session: LabSession) -> None:
        self.session = session
        data = json.loads((STATE / "lab.json").read_text())
        self.records = {n["name"]: n for n in data["nodes"]}
        self.media_dir = Path(data["media_dir"])
        self.password = Path(data["nodes"][0]["password_file"]).read_text().strip()

    @property
    def bmc(self) -> BmcHost:
        lab = load_lab(STATE)
        assert lab is not None
        return bmc_of(lab)

    def rows(self, query: str, **params: t.Any) -> list[t.Any]:
        return self.session.rows(query, **params)

    def nodes(self) -> dict[str, t.Any]:
        return {r.name: r for r in self.rows("select name, provision_state, target_provision_state, power_state, "
                                             "instance_uuid, last_error from baremetal_nodes")}

    def servers(self) -> dict[str, t.Any]:
        return {r.uuid: r for r in self.rows("select uuid, name, host, vm_state, task_state, fault from instances "
                                             "where deleted = ''")}

    def redfish(self, node: str) -> t.Optional[dict[str, t.Any]]:
        """The node's power state and whether a medium is inserted, as its BMC says (None: no answer)."""
        rec = self.records[node]
        try:
            client = sushy.Sushy(f"{rec['redfish_address']}/redfish/v1",
                                 auth=sushy.auth.BasicAuth(username=rec["username"], password=self.password))
            system = client.get_system(rec["redfish_path"])
            cd = system.virtual_media.get_member(f"{rec['redfish_path']}/VirtualMedia/Cd")
            return {"power": str(system.power_state), "inserted": bool(cd.inserted)}
        except sushy.exceptions.SushyError:
            return None

    def wait_for_redfish(self, timeout: float = FIRST_ANSWER_S) -> bool:
        """Whether the Redfish emulator answers for node1 within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.redfish("node1") is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
        return True

    def media_files(self) -> list[str]:
        return sorted(p.name for p in self.media_dir.iterdir() if not p.name.startswith("."))

    def dhcp_entries(self) -> dict[str, str]:
        hosts = self.bmc.node_dhcp_hosts
        if not hosts.exists():
            return {}
        return {p.name: p.read_text(errors="replace").strip().lower() for p in hosts.iterdir()
                if not p.name.startswith(".")}

    def mac(self, node: str) -> str:
        return str(self.records[node]["nics"][0]["mac"]).lower()

    def provision(self, servers: list[dict[str, t.Any]], log_to: t.Optional[Path] = None) -> ansible_run.RunResult:
        result = self.session.provision(servers, timeout=1500)
        if log_to is not None:
            log_to.write_text(result.stdout)
        return result

    def provide_all(self, playbook: Path = PROVIDE_ALL) -> ansible_run.RunResult:
        env = ansible_run.env(store_dir=STATE / "store", caller=ADMIN)
        argv = ansible_run.playbook_argv(playbook, [self.session.inventory, DEMO_INVENTORY])
        return ansible_run.run_merged(argv, env, 900)

    def provide_redfish_nodes(self, work: Path) -> ansible_run.RunResult:
        """The operator's manage and provide of the Redfish nodes only: the IPMI node stays in enroll, so
        the scheduler never gives it out (whether or not its boot interface exists yet) and the race
        below has exactly one free node."""
        playbook = work / "provide-redfish-nodes.yml"
        tasks = [{"name": "%s the Redfish nodes" % verb.capitalize(), "loop": list(REDFISH_NODES),
                  "stratus.compute.baremetal_node": {"name": "{{ item }}", "provision_action": verb}}
                 for verb in ("manage", "provide")]
        playbook.write_text(json.dumps([{"name": "Make the Redfish nodes available", "hosts": "localhost",
                                         "gather_facts": False, "tasks": tasks}], indent=2))
        return self.provide_all(playbook)


def audit(lab: BmLab, want: t.Optional[t.Sequence[str]]) -> dict[str, list[str]]:
    """What is wrong between the store, the BMC and the files (empty lists: nothing).

    `want`: the server names that must be live and ACTIVE (None: do not check the set)."""
    nodes, servers = lab.nodes(), lab.servers()
    by_node = {s.host: s for s in servers.values() if s.host in lab.records}
    found: dict[str, list[str]] = {"stuck": [], "double_or_dead_holder": [], "active_incomplete": [],
                                   "medium_leaked": [], "dhcp_leaked": [], "not_available": [], "wrong_servers": []}
    for name, row in nodes.items():
        if row.provision_state in TRANSIENT:
            found["stuck"].append(f"{name} {row.provision_state} ({row.last_error})")
        if row.instance_uuid and row.instance_uuid not in servers:
            found["double_or_dead_holder"].append(f"{name} held by deleted/unknown {row.instance_uuid}")
    held = [r.instance_uuid for r in nodes.values() if r.instance_uuid]
    if len(held) != len(set(held)):
        found["double_or_dead_holder"].append(f"an instance holds two nodes: {held}")
    hosts = [s.host for s in servers.values() if s.host in lab.records]
    if len(hosts) != len(set(hosts)):
        found["double_or_dead_holder"].append(f"two live servers on one node: {sorted(hosts)}")
    for uuid, srv in servers.items():
        if srv.vm_state == "error" and any(r.instance_uuid == uuid for r in nodes.values()):
            found["double_or_dead_holder"].append(f"ERROR server {srv.name} still holds a node")
        if srv.vm_state != "active" or srv.host not in lab.records:
            continue
        node = nodes.get(srv.host)
        problems = []
        if node is None or node.provision_state != "active" or node.instance_uuid != uuid:
            problems.append("node row %s" % (None if node is None else (node.provision_state, node.instance_uuid)))
        bmc = lab.redfish(srv.host)
        if bmc is None or bmc["power"] != str(sushy.PowerState.ON) or not bmc["inserted"]:
            problems.append(f"BMC says {bmc}")
        if not any(lab.mac(srv.host) in text for text in lab.dhcp_entries().values()):
            problems.append("no DHCP entry")
        if f"{uuid}.iso" not in lab.media_files():
            problems.append("no medium file")
        if problems:
            found["active_incomplete"].append(f"{srv.name} on {srv.host}: {'; '.join(problems)}")
    live_media = {f"{u}.iso" for u, s in servers.items() if s.vm_state == "active"}
    found["medium_leaked"] += [f"file {m}" for m in lab.media_files() if m not in live_media]
    active_macs = {lab.mac(s.host) for s in servers.values() if s.vm_state == "active" and s.host in lab.records}
    found["dhcp_leaked"] += [f"{f}: {text}" for f, text in lab.dhcp_entries().items()
                             if not any(mac in text for mac in active_macs)]
    for node in REDFISH_NODES:
        if node in by_node:
            continue
        bmc = lab.redfish(node)
        if bmc is None or bmc["inserted"]:
            found["medium_leaked"].append(f"{node} (no server) BMC says {bmc}")
        row = nodes.get(node)
        if row is None or row.provision_state != "available" or row.instance_uuid:
            found["not_available"].append(f"{node}: {None if row is None else (row.provision_state, row.last_error)}")
    if want is not None:
        live = sorted(s.name for s in servers.values())
        active = sorted(s.name for s in servers.values() if s.vm_state == "active")
        if live != sorted(want) or active != sorted(want):
            found["wrong_servers"].append(f"live {live}, active {active}, wanted {sorted(want)}")
    return found


def clean(found: dict[str, list[str]]) -> bool:
    return not any(found.values())


def record_audit(sc: Scenario, found: dict[str, list[str]], when: str) -> None:
    """The audit's kinds as invariants: each holds only if it held after every trial."""
    for kind, what in found.items():
        sc.check(f"no_{kind}", not what, f"{when}: {what[:3]}")


def kill_trials(sc: Scenario, lab: BmLab, rng: random.Random, logs: Path) -> None:
    calibration: dict[str, float] = {}
    for kind, request, want in (("provision", SERVERS, NAMES), ("delete", DELETE, ())):
        result = lab.provision(request, logs / f"calibration-{kind}.log")
        calibration[kind] = round(result.seconds, 1)
        found = audit(lab, want)
        if result.returncode != 0 or not clean(found):
            raise CannotRun(f"the uninterrupted {kind} failed (rc {result.returncode}): {found}\n"
                            f"{result.stdout[-2000:]}")
    sc.figures["calibration_s"] = calibration
    log(f"calibration {calibration}")
    wanted = QUICK_TRIALS if sc.quick else TRIALS
    trials: list[dict[str, t.Any]] = []
    present = False
    while sum(1 for tr in trials if tr["killed"]) < wanted and len(trials) < 2 * wanted:
        kind = "delete" if present else "provision"
        request, want = (DELETE, ()) if present else (SERVERS, NAMES)
        kill_after = round(rng.uniform(0.5, 0.95 * calibration[kind]), 2)
        number = len(trials) + 1
        killed = lab.session.killed_provision(request, None, kill_after, logs / f"trial-{number:02d}-{kind}.log")
        at_kill = {n: r.provision_state for n, r in lab.nodes().items()}
        reruns, found = 0, {}
        for reruns in range(1, MAX_RERUNS + 1):
            rerun = lab.provision(request, logs / f"trial-{number:02d}-{kind}-rerun{reruns}.log")
            found = audit(lab, want)
            if rerun.returncode == 0 and clean(found):
                break
            log(f"  rerun {reruns}: rc {rerun.returncode}, {dict((k, v) for k, v in found.items() if v)}")
        ok = clean(found)
        trials.append({"trial": number, "kind": kind, "kill_after_s": kill_after, "killed": killed.killed,
                       "play": killed.play, "task": killed.task, "nodes_at_kill": at_kill, "reruns": reruns,
                       "converged": ok, "leaks": {k: v for k, v in found.items() if v}})
        record_audit(sc, found, f"trial {number} ({kind} killed at {kill_after}s in {killed.task})")
        sc.check("every_kill_trial_converged_on_its_first_rerun", ok and reruns == 1, f"trial {number}")
        log(f"trial {number}: {kind} killed at {kill_after}s in [{killed.play[:30]}] {killed.task}; nodes then "
            f"{at_kill} -> {'converged' if ok else 'NOT converged'} after {reruns} rerun(s)"
            f"{'' if killed.killed else ' (run ended first)'}")
        if not killed.killed:
            calibration[kind] = min(calibration[kind], round(killed.seconds, 1))
        present = (not present) if ok else bool(lab.servers())
    kills = [tr for tr in trials if tr["killed"]]
    sc.figures.update(trials=len(trials), kills=len(kills),
                      kills_during_provision=sum(1 for tr in kills if tr["kind"] == "provision"),
                      kills_during_delete=sum(1 for tr in kills if tr["kind"] == "delete"),
                      kill_points=[{k: tr[k] for k in ("trial", "kind", "kill_after_s", "killed", "task",
                                                       "nodes_at_kill", "reruns", "converged")} for tr in trials],
                      failed_trials=[tr for tr in trials if not tr["converged"]])
    sc.check("enough_kills", len(kills) >= wanted, f"{len(kills)} of {wanted}")
    # leave the scenario's next part a known state: nothing deployed
    if lab.servers():
        lab.provision(DELETE, logs / "after-trials-delete.log")


def race(sc: Scenario, lab: BmLab, logs: Path) -> None:
    """Two nodes taken, one Redfish node free: K runs at once ask for one server each."""
    base = lab.provision(SERVERS, logs / "race-base.log")
    if base.returncode != 0:
        sc.check("race_base_provisioned", False, base.stdout[-1000:])
        return
    racers = QUICK_RACERS if sc.quick else RACERS
    names = [f"race-{i}" for i in range(1, racers + 1)]
    procs = [(name, lab.session.start_provision(
        [{"name": name, "flavor": "bm.small", "image": "stratus-guest", "networks": NET}], None,
        logs / f"race-{name}.log")) for name in names]
    results = {}
    for name, proc in procs:
        try:
            rc = proc.wait(timeout=1500)
        except subprocess.TimeoutExpired:
            ansible_run.kill_group(proc)
            rc = -9
        out = (logs / f"race-{name}.log").read_text(errors="replace")
        results[name] = {"rc": rc, "no_valid_host": "NoValidHost" in out, "traceback": "Traceback" in out}
    active = {s.name: s.host for s in lab.servers().values() if s.name in names and s.vm_state == "active"}
    live = sorted(s.name for s in lab.servers().values() if s.name in names)
    refused = [n for n, r in results.items() if r["rc"] != 0 and r["no_valid_host"]]
    sc.figures["race"] = {"racers": racers, "free_nodes": 1, "results": results, "winners": active,
                          "refused_NoValidHost": len(refused)}
    sc.check("race_exactly_one_winner", len(active) == 1 and live == sorted(active), f"active {active}, live {live}")
    sc.check("race_the_others_NoValidHost", len(refused) == racers - 1, json.dumps(results))
    sc.check("race_winner_run_succeeded", all(results[n]["rc"] == 0 for n in active), json.dumps(results))
    sc.check("race_no_traceback", not any(r["traceback"] for r in results.values()), json.dumps(results))
    found = audit(lab, list(NAMES) + list(active))
    record_audit(sc, found, "after the race")
    log(f"race: {racers} runs for 1 free node: winners {active}, refused NoValidHost {len(refused)}; "
        f"audit {dict((k, v) for k, v in found.items() if v)}")
    gone = lab.provision(DELETE + [{"name": n, "state": "absent"} for n in names], logs / "race-delete.log")
    found = audit(lab, ())
    sc.check("race_delete_clean", gone.returncode == 0 and clean(found), f"rc {gone.returncode}, {found}")
    record_audit(sc, found, "after the race's delete")


def bmc_gone(sc: Scenario, lab: BmLab, logs: Path) -> None:
    """The emulator stopped while a deploy is spawning; then back, a rerun and provide_all."""
    server = {"name": "bmf", "flavor": "bm.small", "image": "stratus-guest", "networks": NET}
    started = time.monotonic()

    def stop_the_emulator() -> t.Optional[dict[str, t.Any]]:
        row = next((s for s in lab.servers().values() if s.name == "bmf"), None)
        # its deploy medium written: the deploy is in its spawn step (insert the medium, boot, wait for power)
        if row is None or f"{row.uuid}.iso" not in lab.media_files():
            return None
        pid_file = lab.bmc.pidfile("sushy-emulator")
        injected = {"node": row.host, "task_state": row.task_state,
                    "node_state": lab.nodes()[row.host].provision_state,
                    "at_s": round(time.monotonic() - started, 2),
                    "pid": pid_file.read_text().strip() if pid_file.exists() else None}
        injected["stopped"] = stop_daemon(lab.bmc, "sushy-emulator")
        return injected

    proc = lab.session.start_provision([server], None, logs / "bmc-gone.log")
    rc, injected = ansible_run.wait_injecting(proc, stop_the_emulator, watch_s=900, wait_s=1500, interval=0.1)
    srv = next((s for s in lab.servers().values() if s.name == "bmf"), None)
    fault = json.loads(srv.fault) if srv is not None and isinstance(srv.fault, str) else (srv.fault if srv else None)
    nodes = lab.nodes()
    held = [n for n, r in nodes.items() if srv is not None and r.instance_uuid == srv.uuid]
    faulted = {n: (r.provision_state, (r.last_error or "")[:160]) for n, r in nodes.items()
               if r.provision_state in ("cleaning", "clean failed", "deploy failed")}
    claims = lab.rows("select count(*) as n from resource_claims where instance_uuid = :u",
                      u=srv.uuid if srv else "")[0].n
    ips = lab.rows("select count(*) as n from ip_allocations where instance_uuid = :u", u=srv.uuid if srv else "")[0].n
    sc.figures["bmc_gone"] = {"injected": injected, "run_rc": rc, "run_s": round(time.monotonic() - started, 1),
                              "server": None if srv is None else {"vm_state": srv.vm_state, "host": srv.host,
                                                                  "fault": fault},
                              "nodes_after": faulted, "held": held, "claims": claims, "ips": ips}
    sc.check("bmc_gone_injected_mid_deploy", bool(injected.get("stopped")) and injected.get("node_state") == "deploying",
             json.dumps(injected))
    error_with_bmc_fault = srv is not None and srv.vm_state == "error" and "BMC" in json.dumps(fault or {})
    sc.check("bmc_gone_server_error_with_bmc_fault", error_with_bmc_fault, f"server {srv}, fault {fault}")
    sc.check("bmc_gone_nothing_held", not held and claims == 0 and ips == 0,
             f"held {held}, claims {claims}, ips {ips}")
    sc.check("bmc_gone_node_says_the_fault", bool(faulted) and all(err for _state, err in faulted.values()),
             json.dumps(faulted))
    log(f"bmc gone: injected {injected} -> server {srv and (srv.vm_state, srv.host)} fault {fault}; nodes {faulted}")
    # the emulator back (the lab's up is idempotent), the ERROR server deleted, the operator's provide
    session = lab.session
    session.lab("up", "--hypervisors", "1", "--prefix", PREFIX, "--subnet-base", SUBNET, "--baremetal", str(NODES),
                timeout=900)
    lab.wait_for_redfish()  # and if it does not answer, the rerun's checks say so
    rerun = lab.provision([dict(server, state="absent")], logs / "bmc-back-rerun.log")
    after_rerun = {n: r.provision_state for n, r in lab.nodes().items()}
    sc.figures["bmc_gone"]["server_rows_after_rerun"] = [
        {"deleted": bool(r.deleted), "vm_state": r.vm_state, "task_state": r.task_state, "fault": r.fault}
        for r in lab.rows("select deleted, vm_state, task_state, fault from instances where name = 'bmf'")]
    provide = lab.provide_all()
    (logs / "bmc-back-provide-all.log").write_text(provide.stdout)
    found = audit(lab, ())
    sc.figures["bmc_gone"].update(rerun_rc=rerun.returncode, nodes_after_rerun=after_rerun,
                                  provide_all_rc=provide.returncode,
                                  nodes_final={n: r.provision_state for n, r in lab.nodes().items()})
    sc.check("bmc_back_rerun_and_provide_succeed", rerun.returncode == 0 and provide.returncode == 0,
             rerun.stdout[-800:] + provide.stdout[-800:])
    record_audit(sc, found, "after the BMC came back")
    log(f"bmc back: rerun rc {rerun.returncode} nodes {after_rerun}; provide_all rc {provide.returncode}; "
        f"audit {dict((k, v) for k, v in found.items() if v)}")


def body(sc: Scenario) -> None:
    seed = int(os.environ.get("STRATUS_RELIABILITY_SEED") or time.time())
    rng = random.Random(seed)
    sc.figures.update(seed=seed, backend="sqlite", nodes=NODES, redfish_nodes=len(REDFISH_NODES))
    logs = sc.work
    log(f"{SCENARIO}: seed {seed}, logs in {logs}")
    try:
        with LabSession(STATE, PREFIX, SUBNET, hypervisors=1, baremetal=NODES, caller=DEMO, lock_up=True,
                        forget_state=True) as session:
            lab = BmLab(session)
            if not lab.wait_for_redfish():
                raise CannotRun("the Redfish emulator did not answer")
            provide = lab.provide_redfish_nodes(logs)
            (logs / "provide-redfish-nodes.log").write_text(provide.stdout)
            if provide.returncode != 0:
                raise CannotRun("manage and provide of the Redfish nodes failed:\n" + provide.stdout[-2000:])
            for part, step in (("kills", lambda: kill_trials(sc, lab, rng, logs)), ("race", lambda: race(sc, lab, logs)),
                               ("bmc_gone", lambda: bmc_gone(sc, lab, logs))):
                t0 = time.monotonic()
                with lab_lock():  # one part at a time holds the machine's lab lock, never the whole scenario
                    step()
                sc.figures[f"{part}_s"] = round(time.monotonic() - t0, 1)
    except LabError as exc:
        raise CannotRun(str(exc)) from exc
    sc.note("Redfish nodes node1..node3 (node4 IPMI is filtered out); kills SIGKILL the ansible-playbook process "
            "group; the audit reads the store, each node's Redfish power state and VirtualMedia, the media dir and "
            "the node network's dnsmasq hosts dir.")


if __name__ == "__main__":
    Scenario(SCENARIO, __doc__.splitlines()[0]).run(body)
