"""Move recovery: resize, cold migration and live migration runs killed with SIGKILL at a random point, then run again.

Three servers (a real guest kernel of the guest image, a bench-image one, and a bench-image one with a 1 GiB
blank data volume it keeps) on a three-hypervisor lab with its migration network. Trials cycle through the
moves: resize (then confirm, or on every other resize revert), cold migration to a named host (then confirm),
live migration to a named host. Each run of
playbooks/server_action.yml (as `stratus server ...` runs it), the confirm's and revert's too, is SIGKILLed
(its process group and every descendant) at a point drawn from a seeded RNG inside that kind's measured
length; the same request is run again until it succeeds (at most 3 times), then the audit: each server on
exactly one host (a VERIFY_RESIZE one's old copy on its migration's source aside), its claim naming that
host, its disks, volume files and DHCP entry only there, its volume rows naming that host (its move's source
while it waits in VERIFY_RESIZE) and none lost, no migration record left in a non-final status, no task_state;
and each server where the request puts it (vm_state, host, flavor).

    .venv/bin/python reliability/scenarios/move_recovery.py --out DIR [--quick] [--seed N] [--db-url URL]
"""
from __future__ import annotations

import json
import random
import sys
import typing as t

from stratus_lab import kill_drill, scenario
from stratus_lab.audit import audit, clean
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.scenario import log
from stratus_lab.session import LabSession

SCENARIO = "move_recovery"
# its own lab: it may be up beside the other reliability labs (stxr, 10.239)
PREFIX, SUBNET_BASE = "stxs", "10.231"
MOVES, QUICK_MOVES = 12, 3
MOVE_KINDS = ("resize", "migrate", "live_migrate")
ADMIN = {"user_id": "u-moves", "project_id": "moves", "roles": ["admin"]}
NET = [{"name": "demo"}]
# each server's two flavors (same root disk: a resize never shrinks it); a resize goes to the other one
FLAVOR_PAIRS = {"m1.tiny": "m1.tiny-b", "m1.tiny-b": "m1.tiny", "m1.bench": "m1.bench-b", "m1.bench-b": "m1.bench"}
FLAVORS = scenario.FLAVORS + [
    {"id": "41", "name": "m1.tiny-b", "vcpus": 1, "ram": 224, "disk": 1, "ephemeral": 0, "swap": 0},
    {"id": "42", "name": "m1.bench-b", "vcpus": 1, "ram": 32, "disk": 1, "ephemeral": 0, "swap": 0}]
SERVERS: list[dict[str, t.Any]] = [
    {"name": "mv-guest", "flavor": "m1.tiny", "image": "stratus-guest", "networks": NET},
    {"name": "mv-bench", "flavor": "m1.bench", "image": "stratus-bench", "networks": NET},
    # a bench-image root on local disk with a 1 GiB blank data volume it keeps (not deleted with it): the volume
    # is copied with each move, its row follows the server, its file must end up on the server's host only
    {"name": "mv-vol", "flavor": "m1.bench", "image": "stratus-bench", "networks": NET, "block_device_mapping_v2": [
        {"boot_index": 0, "uuid": scenario.BENCH_IMAGE_ID, "source_type": "image", "destination_type": "local"},
        {"boot_index": -1, "source_type": "blank", "destination_type": "volume", "volume_size": 1,
         "delete_on_termination": False}]},
]
NAMES = [s["name"] for s in SERVERS]
# each server's volumes (the data volume of mv-vol): none may be lost or doubled by a killed move
VOLUMES = {s["name"]: sum(1 for d in s.get("block_device_mapping_v2", []) if d["destination_type"] == "volume")
           for s in SERVERS}
# the lab's catalog (an inventory overlay); the guests ignore ACPI: a short clean-shutdown window
EXTRA = {"stratus_flavors": FLAVORS, "stratus_shutdown_timeout": 3, "stratus_shutdown_retry_interval": 1}


class Server(t.NamedTuple):
    name: str
    host: str
    vm_state: str
    flavor: str


def servers(lab: LabSession) -> dict[str, Server]:
    return {r.name: Server(r.name, r.host, r.vm_state, _json(r.flavor).get("name", ""))
            for r in lab.rows("select name, host, vm_state, flavor from instances where deleted = ''")}


def volume_rows(lab: LabSession) -> dict[str, list[str]]:
    """Each live server's live volume rows (their hosts)."""
    found: dict[str, list[str]] = {name: [] for name in NAMES}
    for r in lab.rows("select i.name, v.host from volumes v join instances i on i.uuid = v.instance_uuid "
                      "where v.deleted = '' and i.deleted = ''"):
        found.setdefault(r.name, []).append(r.host)
    return found


def _json(value: t.Any) -> dict[str, t.Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def source_of_move(lab: LabSession, name: str) -> str:
    """The source host of the server's newest migration (where a revert brings it back)."""
    ((host,),) = lab.rows("select m.source_compute from migrations m join instances i on i.uuid = m.instance_uuid "
                          "where i.name = :name and i.deleted = '' order by m.id desc limit 1", name=name)
    return host


def plan(lab: LabSession, kind: str, rng: random.Random) -> tuple[list[dict[str, t.Any]], dict[str, Server]]:
    """This run's request (one action per server) and where it leaves each server."""
    now = servers(lab)
    actions: list[dict[str, t.Any]] = []
    wanted: dict[str, Server] = {}
    for name in NAMES:
        s = now[name]
        if kind == "resize":
            actions.append({"server": name, "action": "resize", "flavor": FLAVOR_PAIRS[s.flavor]})
            wanted[name] = s._replace(vm_state="resized", flavor=FLAVOR_PAIRS[s.flavor], host="")  # the scheduler's
        elif kind in ("migrate", "live_migrate"):
            dest = rng.choice(sorted(h for h in lab.host_names() if h != s.host))
            actions.append({"server": name, "action": kind, "host": dest})
            wanted[name] = s._replace(vm_state="resized" if kind == "migrate" else "active", host=dest)
        elif kind == "confirm_resize":
            actions.append({"server": name, "action": kind})
            wanted[name] = s._replace(vm_state="active")
        else:  # revert_resize: back on the source with the old flavor
            actions.append({"server": name, "action": kind})
            wanted[name] = s._replace(vm_state="active", host=source_of_move(lab, name),
                                      flavor=FLAVOR_PAIRS[s.flavor])
    return actions, wanted


def where_wanted(lab: LabSession, before: dict[str, Server],
                 wanted: dict[str, Server]) -> t.Callable[[], dict[str, list[str]]]:
    """The audit (which also has each server's volume files on its host only and its volume rows follow it),
    plus each server where its request puts it (a resize: on another host) with all its volumes."""
    def check() -> dict[str, list[str]]:
        leaks = audit(lab)
        now = servers(lab)
        for name, hosts in volume_rows(lab).items():
            if len(hosts) != VOLUMES.get(name, 0):
                leaks.setdefault("missing", []).append("%s has %d volume rows %s, wanted %d"
                                                       % (name, len(hosts), hosts, VOLUMES.get(name, 0)))
        for name, want in wanted.items():
            got = now.get(name)
            ok = got is not None and (got.vm_state, got.flavor) == (want.vm_state, want.flavor) and (
                got.host == want.host if want.host else got.host != before[name].host)
            if not ok:
                leaks.setdefault("missing", []).append("%s is %s, wanted %s" % (name, got, want))
        return leaks
    return check


def follow_up(kind: str, resizes: int) -> t.Optional[str]:
    """What ends a move waiting in VERIFY_RESIZE: every other resize is reverted, the rest confirmed."""
    if kind == "resize":
        return "revert_resize" if resizes % 2 == 0 else "confirm_resize"
    return "confirm_resize" if kind == "migrate" else None


def main() -> int:
    args = scenario.scenario_args(__doc__.splitlines()[0])
    wanted_moves = QUICK_MOVES if args.quick else MOVES
    drill_run = kill_drill.Drill.start(SCENARIO, args, wanted_moves)
    rng, trials, calibration, logs = drill_run.rng, drill_run.trials, drill_run.calibration, drill_run.logs
    try:
        with drill_run.running(), \
                scenario.lab("moves", db_url=args.db_url, prefix=PREFIX, subnet_base=SUBNET_BASE, caller=ADMIN) as lab:
            with lab_lock():
                result = lab.provision(SERVERS, EXTRA)
                leaks = audit(lab)
                if result.returncode != 0 or not clean(leaks):
                    return scenario.cannot_run(args.out, SCENARIO, "the provision run failed (rc %d): %s\n%s"
                                               % (result.returncode, leaks, result.stdout[-2000:]))
                # One whole run of each kind: how long it takes is the window its kill points are drawn in.
                for kind in ("resize", "revert_resize", "migrate", "confirm_resize", "live_migrate"):
                    before = servers(lab)
                    actions, wanted = plan(lab, kind, rng)
                    result = lab.server_actions(actions, EXTRA)
                    calibration[kind] = round(result.seconds, 1)
                    leaks = where_wanted(lab, before, wanted)()
                    if result.returncode != 0 or not clean(leaks):
                        return scenario.cannot_run(args.out, SCENARIO, "the uninterrupted %s run failed (rc %d): %s\n%s"
                                                   % (kind, result.returncode, {k: v for k, v in leaks.items() if v},
                                                      result.stdout[-3000:]))
            log("calibration: %s" % calibration)
            moves = resizes = 0
            while sum(1 for tr in trials if tr["killed"] and tr["kind"] in MOVE_KINDS) < wanted_moves \
                    and moves < 2 * wanted_moves:
                kind = MOVE_KINDS[moves % len(MOVE_KINDS)]
                moves += 1
                resizes += kind == "resize"
                for step in (kind, follow_up(kind, resizes)):
                    if step is None:
                        break
                    tr = drill(lab, step, rng, calibration, len(trials) + 1, logs)
                    trials.append(tr)
                    if not tr["converged"]:
                        break
                if not trials[-1]["converged"]:
                    break  # the servers are not where the next move starts from: the figures say why
    except LabError as exc:
        return scenario.cannot_run(args.out, SCENARIO, str(exc))
    except KeyboardInterrupt:  # before any trial
        return scenario.cannot_run(args.out, SCENARIO, "interrupted")

    kinds = MOVE_KINDS + ("confirm_resize", "revert_resize")
    drilled, invariants = kill_drill.results(trials, kinds, wanted_moves)
    killed_moves = sum(1 for tr in trials if tr["killed"] and tr["kind"] in MOVE_KINDS)
    # the wanted kills are of the moves themselves (a confirm's or revert's kill comes on top)
    invariants["enough_kills"] = killed_moves >= wanted_moves
    invariants["every_move_kind_killed"] = all(drilled["kills_during_%s" % k] > 0 for k in MOVE_KINDS)
    figures = {"seed": drill_run.seed, "backend": "postgresql" if args.db_url else "sqlite",
               "killed_moves": killed_moves, **drilled, "calibration_s": calibration, "servers": NAMES,
               "seconds": drill_run.seconds()}
    interrupted = drill_run.interrupted  # the notes say so: the figures are those of the trials done
    notes = interrupted + ("SIGKILL of server_action.yml's process group at a seeded random point of resize (then "
                           "confirm or revert, each killed too), cold migration (then confirm) and live migration "
                           "of 3 servers (a guest kernel, a bench image, a bench image with a kept 1 GiB data "
                           "volume) on 3 hypervisors, then reruns of the same request; audit of store vs libvirt "
                           "(moves aware: volume files and rows too) and each server's place after each.")
    code = scenario.write_result_file(args.out, SCENARIO, figures, invariants, notes)
    log("%s: %d trials, %d kills (%d of moves), %d converged, leaks %s, max reruns %d -> %s"
        % (SCENARIO, len(trials), figures["kills"], killed_moves, figures["converged"],
           {k: n for k, n in figures["leaks"].items() if n}, figures["max_reruns"],
           "passed" if code == 0 else "FAILED"))
    return code


def drill(lab: LabSession, kind: str, rng: random.Random, calibration: dict[str, float], number: int,
          logs: t.Any) -> dict[str, t.Any]:
    """One killed run of `kind`, the same request rerun until it converges, the audit: the trial's record."""
    before = servers(lab)
    actions, wanted = plan(lab, kind, rng)
    kill_after = kill_drill.kill_point(rng, calibration[kind])
    with lab_lock():
        killed = lab.killed_server_actions(actions, EXTRA, kill_after, logs / ("trial-%02d-%s.log" % (number, kind)))
        failed_reruns: list[dict[str, t.Any]] = []
        ok, reruns, leaks = kill_drill.converge(lambda: lab.server_actions(actions, EXTRA),
                                                where_wanted(lab, before, wanted), failed_reruns)
    if not killed.killed:
        # the run was shorter than its calibration: draw later kill points from its real length
        calibration[kind] = min(calibration[kind], round(killed.seconds, 1))
    record = kill_drill.trial(number, kind, killed, ok, reruns, leaks, failed_reruns)
    record["request"] = actions
    return record


if __name__ == "__main__":
    sys.exit(main())
