"""Runs every reliability scenario and writes reliability.json at the repository root.

    .venv/bin/python reliability/run.py [--only a,b] [--quick] [--timeout SECONDS] [--out FILE]

A scenario is any ``reliability/scenarios/<name>.py`` whose name starts with a letter; each runs in
its own process (``--out DIR [--quick]``), with a timeout, and writes ``DIR/<name>.json``. Exit 0
when every scenario passed, 1 otherwise (a failed invariant, a scenario that could not run, a
timeout, a missing or unreadable result).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

from stratus_lab import pg_server
from stratus_lab.paths import ROOT
from stratus_lab.scenario import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_PASSED

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
EXIT_MEANING = {EXIT_PASSED: "passed", EXIT_FAILED: "invariant failed", EXIT_CANNOT_RUN: "could not run"}


def discover() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.py") if p.stem[:1].isalpha())


def machine() -> dict[str, t.Any]:
    """Where the figures were taken: they depend on the cores and the load as much as on the code."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    mem_kb = 0
    try:
        mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal:")))
    except (OSError, StopIteration, ValueError):
        pass
    return {"hostname": platform.node(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "memory_mb": mem_kb // 1024, "git_commit": commit or None, "git_dirty": bool(dirty),
            "versions": versions()}


def versions() -> dict[str, str]:
    """Versions of what the scenarios drive, for reliability.json."""
    out: dict[str, str] = {"python": sys.version.split()[0]}
    for module in ("ansible", "sqlalchemy", "psycopg", "hypothesis", "hypothesis_jsonschema", "ansible_runner"):
        try:
            mod = __import__(module)
            out[module] = getattr(mod, "__version__", "") or ""
        except Exception:  # not installed: say so
            out[module] = "missing"
    try:
        from ansible.release import __version__ as ansible_core
        out["ansible-core"] = ansible_core
    except ImportError:
        pass
    import sqlite3
    out["sqlite"] = sqlite3.sqlite_version
    try:
        out["postgresql"] = pg_server.bindir().parent.name
    except pg_server.PgServerError:
        out["postgresql"] = "missing"
    return out


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_one(name: str, out_dir: Path, quick: bool, timeout: float) -> dict[str, t.Any]:
    cmd = [sys.executable, str(SCENARIOS / ("%s.py" % name)), "--out", str(out_dir)] + (["--quick"] if quick else [])
    started, load_before = time.monotonic(), load()
    log = out_dir / ("%s.log" % name)
    print("== %s" % name, flush=True)
    try:
        with open(log, "w") as fh:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, check=False,
                                  cwd=str(ROOT), start_new_session=True)
        rc: t.Optional[int] = proc.returncode
    except subprocess.TimeoutExpired:
        rc = None
    seconds = round(time.monotonic() - started, 1)
    result_file = out_dir / ("%s.json" % name)
    doc: dict[str, t.Any] = {}
    try:
        doc = json.loads(result_file.read_text())
    except (OSError, ValueError) as exc:
        doc = {"scenario": name, "figures": {}, "invariants": {}, "passed": False,
               "notes": "no readable result %s: %s" % (result_file, exc)}
    if rc is None:
        outcome = "timeout after %ss" % int(timeout)
    else:
        outcome = EXIT_MEANING.get(rc, "exit %s" % rc)
    # The exit code and the file must agree: a scenario that crashed after writing "passed" did not pass.
    passed = rc == EXIT_PASSED and doc.get("passed") is True and all(doc.get("invariants", {}).values()) \
        and bool(doc.get("invariants"))
    tail = ""
    if not passed:
        try:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            pass
    print("   %s (%ss)%s" % (outcome, seconds, "" if passed else ": " + ", ".join(
        k for k, v in doc.get("invariants", {}).items() if not v)), flush=True)
    return {"scenario": name, "passed": passed, "outcome": outcome, "exit_code": rc, "seconds": seconds,
            "load_before": load_before, "load_after": load(), "figures": doc.get("figures", {}),
            "invariants": doc.get("invariants", {}), "notes": doc.get("notes", ""), "log_tail": tail}


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated scenario names (default: every one found)")
    parser.add_argument("--quick", action="store_true", help="each scenario's short version")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("STRATUS_RELIABILITY_TIMEOUT", 3600)),
                        help="seconds per scenario (default 3600, STRATUS_RELIABILITY_TIMEOUT)")
    parser.add_argument("--out", type=Path, default=ROOT / "reliability.json")
    parser.add_argument("--work-dir", type=Path, help="keep each scenario's result and log here")
    args = parser.parse_args(argv)
    found = discover()
    names = found
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in found]
        if unknown:
            print("reliability: unknown scenario(s) %s; found: %s" % (", ".join(unknown), ", ".join(found)),
                  file=sys.stderr)
            return 2
    if not names:
        print("reliability: no scenario in %s" % SCENARIOS, file=sys.stderr)
        return 2
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="stratus-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    report: dict[str, t.Any] = {"started": started.isoformat(timespec="seconds"), "quick": args.quick,
                                "machine": machine(), "load_before": load(), "scenarios": {}}
    for name in names:
        report["scenarios"][name] = run_one(name, work, args.quick, args.timeout)
    backends = sorted({b for s in report["scenarios"].values() for b in (s["figures"].get("backends") or [])})
    report.update(finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  load_after=load(), backends=backends, work_dir=str(work),
                  passed=all(s["passed"] for s in report["scenarios"].values()))
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    failed = [n for n, s in report["scenarios"].items() if not s["passed"]]
    print("reliability: %d scenario(s), %s; %s" % (len(names), "all passed" if not failed else
                                                   "FAILED: " + ", ".join(failed), args.out))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
