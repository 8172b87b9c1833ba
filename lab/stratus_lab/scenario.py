# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reliability scenario contract (docs/reliability.md).

A scenario is ``reliability/scenarios/<name>.py``, run as
``.venv/bin/python reliability/scenarios/<name>.py --out DIR [--quick]``. It writes
``DIR/<name>.json`` = {scenario, figures, invariants, passed, notes} and exits 0 when every
invariant holds, 1 when one failed, 2 when it could not run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
import typing as t
import uuid
from pathlib import Path

from stratus_lab import pg_server
from stratus_lab.session import LabSession

EXIT_PASSED, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2


def write_result_file(out: Path, name: str, figures: dict[str, t.Any], invariants: dict[str, bool],
                      notes: str, could_not_run: t.Optional[str] = None) -> int:
    """Write <out>/<name>.json; the exit code (0 passed, 1 an invariant failed, 2 it could not run)."""
    passed = could_not_run is None and bool(invariants) and all(invariants.values())
    if could_not_run is not None:
        notes = "could not run: %s" % could_not_run + ("\n" + notes if notes else "")
    out.mkdir(parents=True, exist_ok=True)
    doc = {"scenario": name, "figures": figures, "invariants": invariants, "passed": passed, "notes": notes}
    (out / ("%s.json" % name)).write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    if could_not_run is not None:
        return EXIT_CANNOT_RUN
    return EXIT_PASSED if passed else EXIT_FAILED


class CannotRun(RuntimeError):
    """The scenario could not be run (a missing tool, a server that did not start): exit 2."""


class Scenario:
    """Figures and invariants of one scenario run, written as DIR/<name>.json."""

    def __init__(self, name: str, description: str) -> None:
        parser = argparse.ArgumentParser(prog=name, description=description)
        parser.add_argument("--out", required=True, type=Path, help="directory for <name>.json")
        parser.add_argument("--quick", action="store_true", help="the short version (make test)")
        args = parser.parse_args()
        self.name = name
        self.out: Path = args.out.resolve()
        self.quick: bool = args.quick
        self.figures: dict[str, t.Any] = {}
        self.invariants: dict[str, bool] = {}
        self.notes: list[str] = []
        self.started = time.monotonic()
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = self.out / ("%s.work" % name)
        self.work.mkdir(exist_ok=True)

    def check(self, invariant: str, holds: bool, why: str = "") -> bool:
        """An invariant holds only if it held every time it was checked; a failure says why in the notes."""
        self.invariants[invariant] = self.invariants.get(invariant, True) and bool(holds)
        if not holds:
            self.note("%s failed%s" % (invariant, ": " + why if why else ""))
        return bool(holds)

    def note(self, text: str) -> None:
        if len(self.notes) < 200:
            self.notes.append(text)

    def count(self, figure: str, by: int = 1) -> None:
        self.figures[figure] = self.figures.get(figure, 0) + by

    def finish(self, could_not_run: t.Optional[str] = None) -> int:
        self.figures["seconds"] = round(time.monotonic() - self.started, 1)
        self.figures["quick"] = self.quick
        return write_result_file(self.out, self.name, self.figures, self.invariants, "\n".join(self.notes),
                                 could_not_run)

    def run(self, body: t.Callable[["Scenario"], None]) -> t.NoReturn:
        """Run the body; a CannotRun (or a bug of the scenario itself) exits 2 with the reason in the notes."""
        try:
            body(self)
        except CannotRun as exc:
            sys.exit(self.finish(str(exc)))
        except Exception as exc:  # the scenario's own bug: it could not measure, so it did not pass
            self.note(traceback.format_exc()[-3000:])
            sys.exit(self.finish("%s: %s" % (type(exc).__name__, exc)))
        sys.exit(self.finish())


# --- the lab scenarios: their lab, their catalog, their side of the contract --------------------------

# The reliability labs' own namespace prefix and addresses (the test suite uses stxt/stxp/stxf).
LAB_PREFIX = os.environ.get("STRATUS_RELIABILITY_PREFIX", "stxr")
LAB_SUBNET_BASE = os.environ.get("STRATUS_RELIABILITY_SUBNET", "10.239")
LAB_STATE_BASE = Path(os.environ.get("STRATUS_RELIABILITY_STATE", "/tmp/stratus-relab"))
LAB_HYPERVISORS = (1, 2, 3)
BENCH_IMAGE_ID = "5f1e7a52-3c1d-4b55-9c1e-6d0f0b1a2c02"
# Small guests only: the lab's two cores and its memory are shared with every other lab user.
FLAVORS = [
    {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 192, "disk": 1, "ephemeral": 0, "swap": 0},
    {"id": "3", "name": "m1.bench", "vcpus": 1, "ram": 16, "disk": 1, "ephemeral": 0, "swap": 0},
    {"id": "4", "name": "r1.local", "vcpus": 1, "ram": 16, "disk": 1, "ephemeral": 1, "swap": 16},
]


def lab(name: str, db_url: t.Optional[str] = None, hypervisors: int = len(LAB_HYPERVISORS),
        prefix: str = LAB_PREFIX, subnet_base: str = LAB_SUBNET_BASE,
        caller: t.Optional[t.Mapping[str, t.Any]] = None) -> LabSession:
    """A scenario's lab (use it with `with`: up now, down on exit, SIGTERM and SIGHUP too): brought up
    under the lab lock, its state dir removed with it. A scenario whose lab may be up beside another
    reliability lab names its own prefix and subnet base."""
    return LabSession(LAB_STATE_BASE / name, prefix, subnet_base, hypervisors, db_url=db_url, caller=caller,
                      lock_up=True, forget_state=True)


def scenario_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True, type=Path, help="directory for <scenario>.json")
    parser.add_argument("--quick", action="store_true", help="a short run (for make test)")
    parser.add_argument("--db-url", default=None, help="state store URL (default: SQLite in the lab's state dir)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, logged)")
    return parser.parse_args()


def cannot_run(out: Path, scenario: str, why: str) -> int:
    print("%s: could not run: %s" % (scenario, why), file=sys.stderr)
    return write_result_file(out, scenario, {}, {}, "", could_not_run=why)


def log(msg: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


@contextlib.contextmanager
def postgresql() -> t.Iterator[t.Callable[[str], str]]:
    """The test suite's throwaway PostgreSQL server; yields ``fresh(name) -> URL`` of an empty database."""
    try:
        with pg_server.shared() as base_url:
            yield lambda name: pg_server.fresh_database(base_url, "rel_%s_%s" % (name, uuid.uuid4().hex[:8]))
    except pg_server.PgServerError as exc:
        raise CannotRun("PostgreSQL test server: %s" % exc) from exc
