"""Hypervisor faults injected mid-run: libvirtd stopped, a base pool without room, dnsmasq gone, sshd down.

For each fault a provision run of one new server starts; as soon as play 1 has placed it (its host
is in the store, its build not begun) the fault is injected on that host. The outcome must be the
server ACTIVE on another host (rescheduled), or ACTIVE where it was because the step repaired the
fault (dnsmasq), or an honest ERROR with a fault code, and the store must match what libvirt has
on every host afterwards (leftovers of a host that could not be cleaned excused until the next run
cleans them). A last run with the faults gone must leave everything clean.

    .venv/bin/python reliability/scenarios/hypervisor_faults.py --out DIR [--quick] [--db-url URL]
"""
from __future__ import annotations

import os
import signal
import sys
import time
import typing as t
from pathlib import Path

from stratus_lab import ansible_run, console, scenario
from stratus_lab.audit import audit, clean, leak_counts
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.paths import DEMO_NETWORK
from stratus_lab.scenario import log
from stratus_lab.session import LabSession
from stratus_lab.store import as_json

SCENARIO = "hypervisor_faults"
NET = [{"name": "demo"}]
ADMIN = {"user_id": "operator", "project_id": "demo", "roles": ["admin"]}
# The lab's catalog (an inventory overlay): the operator runs these as an admin of the demo project,
# since the baseline forces hosts
EXTRA = {"stratus_flavors": scenario.FLAVORS, "stratus_context": ADMIN}
BASE_POOL = "/var/lib/libvirt/stratus/base"
# One server forced onto each host first: every host then has the network (and its dnsmasq) and the
# bench image cached, so a fault is the only thing that can go wrong there.
BASELINE = [{"name": "hf-base-%d" % k, "flavor": "m1.bench", "image": "stratus-bench", "networks": NET,
             "availability_zone": "%s:hv%d" % ("az1" if k % 2 else "az2", k)}
            for k in scenario.LAB_HYPERVISORS]


def bench_server(name: str) -> dict[str, t.Any]:
    return {"name": name, "flavor": "m1.bench", "image": "stratus-bench", "networks": NET}


class Fault:
    """One fault: how to inject it on host k, how to take it away, what its server is."""
    name = ""
    image = "stratus-bench"

    def server(self) -> dict[str, t.Any]:
        return dict(bench_server("hf-%s" % self.name.replace("_", "-")), image=self.image,
                    flavor="m1.tiny" if self.image == "stratus-guest" else "m1.bench")

    def inject(self, lab: LabSession, k: int) -> str:
        raise NotImplementedError

    def restore(self, lab: LabSession, k: int) -> None:
        """Undo the fault (after the run, before the audit)."""


class LibvirtdStopped(Fault):
    name = "libvirtd_stopped"

    def inject(self, lab: LabSession, k: int) -> str:
        lab.daemon("stop", "libvirtd", k)
        return "stratus_lab daemon stop libvirtd --hv %d" % k

    def restore(self, lab: LabSession, k: int) -> None:
        lab.daemon("start", "libvirtd", k)


class PoolFull(Fault):
    name = "pool_full"

    def inject(self, lab: LabSession, k: int) -> str:
        # A 64 KiB filesystem over the base pool: the cached image is hidden, and copying it again fails.
        lab.host(k).in_namespaces("mkdir -p %s && mount -t tmpfs -o size=64k stratus-full %s" % (BASE_POOL, BASE_POOL))
        return "tmpfs of 64 KiB mounted on %s" % BASE_POOL

    def restore(self, lab: LabSession, k: int) -> None:
        lab.host(k).in_namespaces("umount %s" % BASE_POOL)


class DnsmasqGone(Fault):
    name = "dnsmasq_gone"
    image = "stratus-guest"  # a real guest asks for its address: proof that DHCP is served again

    def inject(self, lab: LabSession, k: int) -> str:
        pid = lab.host(k).dnsmasq_pid(DEMO_NETWORK)
        if pid is None:
            raise LabError("hv%d: no dnsmasq running for %s to kill" % (k, DEMO_NETWORK))
        os.kill(pid, signal.SIGKILL)
        return "SIGKILL to dnsmasq pid %d of %s in hv%d's namespace" % (pid, DEMO_NETWORK, k)


class SshdStopped(Fault):
    name = "sshd_stopped"

    def inject(self, lab: LabSession, k: int) -> str:
        lab.daemon("stop", "sshd", k)
        return "stratus_lab daemon stop sshd --hv %d (and its SSH master closed)" % k

    def restore(self, lab: LabSession, k: int) -> None:
        lab.daemon("start", "sshd", k)


FAULTS = [LibvirtdStopped(), PoolFull(), DnsmasqGone(), SshdStopped()]


def instance(lab: LabSession, name: str) -> t.Optional[t.Any]:
    rows = lab.rows("select uuid, host, vm_state, task_state, attempts, fault from instances "
                    "where name = :name and deleted = ''", name=name)
    return rows[0] if rows else None


def events(lab: LabSession, uuid: str) -> list[list[str]]:
    """The server's action events: event, host, result, and a failed one's details (the step's error)."""
    return [[r.event, r.host or "", r.result or ""] + ([r.details] if r.details and r.result != "Success" else [])
            for r in lab.rows("select e.event, e.host, e.result, e.details from instance_actions_events e "
                              "join instance_actions a on a.id = e.action_id where a.instance_uuid = :uuid "
                              "order by e.id", uuid=uuid)]


def run_with_fault(lab: LabSession, fault: Fault, logs: Path) -> dict[str, t.Any]:
    """Start the provision of the fault's server, inject the fault on its host once placed, wait."""
    server = fault.server()
    start = time.monotonic()
    log_path = logs / ("%s.log" % fault.name)

    def inject_once_placed() -> t.Optional[dict[str, t.Any]]:
        row = instance(lab, server["name"])
        if row is None or not row.host:
            return None
        injected = {"host": row.host, "task_state_at_injection": row.task_state,
                    "running_task": ansible_run.running_task(log_path.read_text(errors="replace"))[1]}
        injected["how"] = fault.inject(lab, int(row.host[2:]))
        injected["at_s"] = round(time.monotonic() - start, 2)
        # mid-run: the build on that host had not begun (no step had taken the server yet)
        injected["mid_run"] = row.task_state == "scheduling"
        return injected

    proc = lab.start_provision([server], EXTRA, log_path)
    rc, injected = ansible_run.wait_injecting(proc, inject_once_placed, watch_s=300, wait_s=900, interval=0.2)
    return {"server": server["name"], "run_rc": rc, "run_s": round(time.monotonic() - start, 1),
            "injected": injected}


def outcome(lab: LabSession, name: str, fault_host: str) -> dict[str, t.Any]:
    row = instance(lab, name)
    if row is None:
        return {"vm_state": "missing"}
    fault = as_json(row.fault, None)
    return {"uuid": row.uuid, "vm_state": row.vm_state, "task_state": row.task_state, "host": row.host,
            "attempts": row.attempts, "fault_code": (fault or {}).get("code"),
            "rescheduled": row.vm_state == "active" and row.host != fault_host,
            "events": events(lab, row.uuid)}


def main() -> int:
    args = scenario.scenario_args(__doc__.splitlines()[0])
    logs = args.out / ("%s-logs" % SCENARIO)
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    figures: dict[str, t.Any] = {"backend": "postgresql" if args.db_url else "sqlite", "faults": {}}
    invariants: dict[str, bool] = {}
    requested = list(BASELINE)
    try:
        with scenario.lab("faults", db_url=args.db_url) as lab:
            with lab_lock():
                base = lab.provision(BASELINE, EXTRA)
            if base.returncode != 0:
                return scenario.cannot_run(args.out, SCENARIO, "baseline provision failed:\n%s" % base.stdout[-2000:])
            for fault in FAULTS:
                with lab_lock():
                    log("%s: starting" % fault.name)
                    result = run_with_fault(lab, fault, logs)
                    host = result["injected"].get("host", "")
                    k = int(host[2:]) if host else 0
                    if k:
                        fault.restore(lab, k)
                    requested.append(fault.server())
                    result["outcome"] = outcome(lab, result["server"], host)
                    extra = fault_checks(lab, fault, result, k)
                    # leftovers of a host that could not be cleaned are excused until the next run
                    leaks = audit(lab, allow_error=True)
                    leaks.pop("leftover")
                    result["audit_after_fault"] = leak_counts(leaks)
                    result["audit_details"] = {kind: found for kind, found in leaks.items() if found}
                    result.update(extra)
                out = result["outcome"]
                honest = (out["vm_state"] == "active" and out["task_state"] is None) or \
                    (out["vm_state"] == "error" and bool(out["fault_code"]))
                invariants["%s: injected mid-run" % fault.name] = bool(result["injected"].get("mid_run"))
                invariants["%s: rescheduled, repaired or honest ERROR" % fault.name] = honest and (
                    out.get("rescheduled") or out["vm_state"] == "error" or fault.name == "dnsmasq_gone")
                invariants["%s: store matches libvirt" % fault.name] = clean(leaks)
                for key, value in extra.items():
                    if isinstance(value, bool):
                        invariants["%s: %s" % (fault.name, key)] = value
                figures["faults"][fault.name] = result
                log("%s: injected %s -> %s on %s (attempts %s, fault %s); audit %s"
                    % (fault.name, result["injected"], out["vm_state"], out.get("host"), out.get("attempts"),
                       out.get("fault_code"), {k2: v for k2, v in result["audit_after_fault"].items() if v}))
            # Faults gone: the same requests again clean every leftover and change nothing else.
            with lab_lock():
                again = lab.provision(requested, EXTRA)
            final = audit(lab, allow_error=True)
            figures["recovery"] = {"run_rc": again.returncode, "audit": leak_counts(final),
                                   "audit_details": {k2: v for k2, v in final.items() if v}}
            invariants["recovery run: everything clean, no leftover"] = clean(final)
    except LabError as exc:
        return scenario.cannot_run(args.out, SCENARIO, str(exc))
    except KeyboardInterrupt:
        return scenario.cannot_run(args.out, SCENARIO, "interrupted")
    figures["seconds"] = round(time.monotonic() - started, 1)
    notes = ("Each fault is injected on the host play 1 placed a new server on, after the placement and before "
             "the build began there (task_state scheduling). dnsmasq_gone is repaired in place by the network "
             "step, and its guest must get its address by DHCP; the other faults reschedule.")
    code = scenario.write_result_file(args.out, SCENARIO, figures, invariants, notes)
    log("%s: %s" % (SCENARIO, "passed" if code == 0 else "FAILED: %s" % [k for k, v in invariants.items() if not v]))
    return code


def fault_checks(lab: LabSession, fault: Fault, result: dict[str, t.Any], k: int) -> dict[str, t.Any]:
    """What a fault needs checked beyond the outcome."""
    out: dict[str, t.Any] = {}
    if isinstance(fault, DnsmasqGone) and k:
        out["dnsmasq running after the run"] = lab.host(k).dnsmasq_pid(DEMO_NETWORK) is not None
        row = result["outcome"]
        if row.get("vm_state") == "active":
            ips = lab.rows("select address from ip_allocations where instance_uuid = :u", u=row["uuid"])
            line = console.ready_line(lab.state, row["uuid"], row["host"])
            out["guest_console"] = line
            out["guest got its address by DHCP"] = bool(ips) and line.endswith("ip=%s" % ips[0].address)
        # The silent case: dnsmasq dies under servers that already have their entries, and a run
        # that adds no entry (the same request again) must still bring it back.
        pid = lab.host(k).dnsmasq_pid(DEMO_NETWORK)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        rerun = lab.provision([fault.server()], EXTRA)
        out["rerun_rc"] = rerun.returncode
        out["dnsmasq running after a rerun that adds no entry"] = lab.host(k).dnsmasq_pid(DEMO_NETWORK) is not None
    if isinstance(fault, (LibvirtdStopped, SshdStopped)):
        host = result["injected"].get("host")
        out["leftovers_recorded"] = [r.reason for r in lab.rows(
            "select reason from leftovers where host = :h", h=host)]
    return out


if __name__ == "__main__":
    sys.exit(main())
