"""What the reliability scenarios share: arguments, the result file, the controller inventory, stores.

A scenario is ``reliability/scenarios/<name>.py``, run as
``.venv/bin/python reliability/scenarios/<name>.py --out DIR [--quick]``. It writes
``DIR/<name>.json`` = {scenario, figures, invariants, passed, notes} and exits 0 when every
invariant holds, 1 when one failed, 2 when it could not run (see docs/reliability.md).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import traceback
import typing as t
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
COLLECTIONS = ROOT / ".ansible" / "collections"
for _path in (str(COLLECTIONS), str(ROOT / "tests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import pg_server  # noqa: E402  (tests/pg_server.py: the throwaway PostgreSQL server)

EXIT_PASSED, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2
IMAGE_ID = "11111111-2222-4333-8444-555555555555"


def write_result_file(out: Path, name: str, figures: dict[str, t.Any], invariants: dict[str, bool],
                      notes: str, could_not_run: t.Optional[str] = None) -> int:
    """The scenario contract: write <out>/<name>.json; the exit code (0 passed, 1 an invariant failed,
    2 it could not run)."""
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


def env(**extra: str) -> dict[str, str]:
    """The environment of an ansible / stratus process: this checkout's collection, no inherited store."""
    out = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    for key in ("STRATUS_DB_URL", "STRATUS_STATE_DIR", "STRATUS_INVENTORY", "STRATUS_PLAYBOOK_DIR",
                "STRATUS_USER_ID", "STRATUS_PROJECT_ID", "STRATUS_ROLES", "STRATUS_OUTPUT", "STRATUS_LAB_DIR",
                "STRATUS_KEEP_RUNS"):
        out.pop(key, None)
    # the stratus command of this checkout (make setup installs it editable from wherever it ran)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "cli"), os.environ.get("PYTHONPATH", "")) if p)
    out.update(extra)
    return out


def write_yaml(path: Path, data: t.Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def caller_env(context: t.Optional[t.Mapping[str, t.Any]]) -> dict[str, str]:
    """The environment that names the caller, as an AWX credential or the CLI sets it (None: stratus_context)."""
    if context is None:
        return {}
    return {"STRATUS_USER_ID": str(context["user_id"]), "STRATUS_PROJECT_ID": str(context["project_id"]),
            "STRATUS_ROLES": ",".join(context.get("roles") or [])}


def controller_inventory(catalog: t.Mapping[str, t.Any], hypervisors: t.Mapping[str, t.Mapping[str, t.Any]],
                         capacity: t.Mapping[str, t.Any], local_hypervisors: t.Optional[Path] = None
                         ) -> dict[str, t.Any]:
    """localhost + hypervisors (never contacted by play 1) + the catalog.

    With ``local_hypervisors`` (a scratch directory) the hypervisors run their step modules on this
    machine against libvirt's in-memory ``test:///default`` driver: enough for the delete walk
    (nothing to destroy there) without a lab.
    """
    hv_vars = dict(capacity)
    if local_hypervisors is not None:
        hv_vars.update(ansible_connection="local", ansible_python_interpreter=str(VENV_BIN / "python"),
                       stratus_libvirt_uri="test:///default",
                       stratus_base_pool_path=str(local_hypervisors / "base"),
                       stratus_instance_pool_path=str(local_hypervisors / "instances"))
    return {"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")}},
        "children": {"hypervisors": {"hosts": {h: dict(v) for h, v in hypervisors.items()}, "vars": hv_vars}},
        "vars": dict(catalog),
    }}


@contextlib.contextmanager
def postgresql() -> t.Iterator[t.Callable[[str], str]]:
    """The test suite's throwaway PostgreSQL server; yields ``fresh(name) -> URL`` of an empty database."""
    try:
        with pg_server.shared() as base_url:
            yield lambda name: pg_server.fresh_database(base_url, "rel_%s_%s" % (name, uuid.uuid4().hex[:8]))
    except pg_server.PgServerError as exc:
        raise CannotRun("PostgreSQL test server: %s" % exc) from exc


def sqlite_url(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    return "sqlite:///%s" % (directory / "stratus.db")


def open_engine(db_url: str) -> t.Any:
    """A SQLAlchemy engine of our own for the invariant checks (the psycopg driver for PostgreSQL)."""
    import sqlalchemy as sa

    url = sa.engine.make_url(db_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url)


def run(cmd: list[str], timeout: float = 600, **kwargs: t.Any) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", env())
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


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
