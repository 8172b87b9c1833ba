# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`stratus api` as the harnesses drive it: several server processes on one store, identity made in the store,
tokens, plain HTTP calls, the app's own route list, the store's row counts and the server logs' tracebacks.

Shared by the API reliability scenarios (reliability/scenarios/api_*.py) and their short versions in
tests/integration/test_api_reliability.py. Nothing here is a mock: real `stratus api` processes (uvicorn
workers), real HTTP over loopback, a real SQLite file or PostgreSQL database.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import threading
import time
import typing as t
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from stratus_lab import ansible_run, store
from stratus_lab.paths import VENV_BIN

STRATUS = VENV_BIN / "stratus"
JSON = {"Content-Type": "application/json"}
# What a traceback or a bug looks like in a body or a server's log
BUG_MARKS = ("Traceback (most recent call last)", "internal error on ", 'File "/')


class ApiDidNotStart(RuntimeError):
    """A `stratus api` process ended or did not answer in time; the message has its log's end."""


@dataclass
class Answer:
    status: int
    body: t.Any  # the decoded JSON, or the text when it is not JSON
    headers: dict[str, str]
    raw: bytes

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json") and not isinstance(self.body, str)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, path: str, token: t.Optional[str] = None, method: str = "GET",
         headers: t.Optional[t.Mapping[str, str]] = None, body: t.Union[bytes, t.Any, None] = None,
         version: t.Optional[str] = None, timeout: float = 120) -> Answer:
    """One HTTP request; a non-bytes body is sent as JSON. Every status comes back as an Answer."""
    sent = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    if token:
        sent["X-Auth-Token"] = token
    if version:
        sent["OpenStack-API-Version"] = "compute " + version
    req = urllib.request.Request(url + path, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, got = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, exc.headers
    try:
        decoded: t.Any = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw.decode("utf-8", "replace")
    return Answer(status, decoded, {k.lower(): v for k, v in got.items()}, raw)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/v3", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


@dataclass
class ApiProcess:
    """One `stratus api` process (its uvicorn workers below it), in a session of its own."""

    url: str
    log: Path
    proc: subprocess.Popen

    def stop(self) -> None:
        """SIGTERM to its process group (uvicorn stops its workers), then SIGKILL past 60 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                ansible_run.kill_group(self.proc)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_api(inventory: Path, db_url: str, log: Path, workers: int = 2, deadline: float = 180,
              home: t.Optional[Path] = None) -> ApiProcess:
    """`stratus -i INVENTORY api --port P --workers N` on a free loopback port, once it answers."""
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    run_env = ansible_run.env(db_url=db_url, STRATUS_INVENTORY=str(inventory), **({"HOME": str(home)} if home else {}))
    with log.open("w") as out:
        proc = subprocess.Popen([str(STRATUS), "api", "--port", str(port), "--workers", str(workers)],
                                stdout=out, stderr=subprocess.STDOUT, env=run_env, cwd=str(log.parent),
                                start_new_session=True)
    api = ApiProcess(url, log, proc)
    end = time.monotonic() + deadline
    while not _answers(url):
        if proc.poll() is not None or time.monotonic() > end:
            api.stop()
            raise ApiDidNotStart("stratus api on %s: %s" % (url, log.read_text(errors="replace")[-2000:]))
        time.sleep(0.2)
    return api


@contextlib.contextmanager
def api_processes(inventory: Path, db_url: str, work: Path, count: int = 2,
                  workers: int = 2) -> t.Iterator[list[ApiProcess]]:
    """`count` API processes (each with `workers` workers) on one store, as hosts behind a balancer; stopped on
    exit. Started one after the other: the first migrates the store, the next find it ready."""
    started: list[ApiProcess] = []
    try:
        for i in range(count):
            started.append(start_api(inventory, db_url, work / ("api-%d.log" % (i + 1)), workers))
        yield started
    finally:
        for api in started:
            api.stop()


# --- identity ---------------------------------------------------------------------------------------------

@dataclass
class User:
    name: str
    password: str
    project: str
    role: str
    token: str = ""
    user_id: str = ""


def make_identity(db_url: str, users: t.Sequence[User], projects: t.Sequence[str]) -> None:
    """Projects (their id = their name: the inventory's quotas name them), users and their roles, in the store
    (as `stratus identity` makes them; in process, it is the same code)."""
    from stratus_cli.api import identity
    from stratus_cli.api.collection import ensure_importable

    ensure_importable()
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    with engine.transaction(db_url) as conn:
        for project in projects:
            identity.create_project(conn, project, project)
        for user in users:
            user.user_id = identity.create_user(conn, user.name, user.password)["id"]
            identity.add_role(conn, user.name, user.project, user.role)


def stale_tokens(db_url: str, user: User) -> dict[str, str]:
    """An expired and a revoked token of `user` (made in the store: the API never issues an expired one)."""
    from stratus_cli.api import identity
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    with engine.transaction(db_url) as conn:
        row = identity.find_user(conn, user.name)
        project = identity.find_project(conn, user.project)
        expired = identity.issue_token(conn, row, project, ttl=dt.timedelta(seconds=-60)).secret
        revoked = str(identity.issue_token(conn, row, project).secret)
        identity.revoke_token(conn, revoked)
    return {"expired": str(expired), "revoked": revoked}


def issue_token(url: str, user: User) -> str:
    """POST /v3/auth/tokens with the password method, scoped to the user's project."""
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user.name, "domain": {"name": "Default"}, "password": user.password}}},
        "scope": {"project": {"name": user.project, "domain": {"name": "Default"}}}}}
    answer = call(url, "/v3/auth/tokens", method="POST", body=body)
    if answer.status != 201:
        raise RuntimeError("token for %s: %s %s" % (user.name, answer.status, answer.body))
    user.token = answer.headers["x-subject-token"]
    return user.token


# --- the app's routes -------------------------------------------------------------------------------------

@dataclass
class RouteInfo:
    path: str
    methods: list[str] = field(default_factory=list)

    @property
    def params(self) -> list[str]:
        return [p.split("}")[0].split(":")[0] for p in self.path.split("{")[1:]]


def app_routes(inventory: Path, db_url: str) -> list[RouteInfo]:
    """Every route of the application `stratus api` serves, read from the app that build_app makes with this
    inventory (so a route module added to build_app is covered without a change here). The dashboard's pages
    (under /dashboard) are HTML for browsers, with a hostile pass of their own over their forms."""
    from stratus_cli.api import serve
    from stratus_cli.api.app import build_app

    config = serve.load_config(db_url, [str(inventory)], None, 3600)
    out: list[RouteInfo] = []
    for route in build_app(config).routes:
        methods = sorted(m for m in (getattr(route, "methods", None) or ()) if m != "HEAD")
        path = getattr(route, "path", None)
        if path is None or not methods or path == "/dashboard" or path.startswith("/dashboard/"):
            continue
        known = next((r for r in out if r.path == path), None)
        if known is None:
            out.append(RouteInfo(path, methods))
        else:
            known.methods = sorted(set(known.methods) | set(methods))
    return out


# --- the store, as a harness checks it --------------------------------------------------------------------

def row_counts(db_url: str) -> dict[str, int]:
    """Rows per table of the store (every table it has)."""
    import sqlalchemy as sa

    engine = store.open_engine(db_url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {n: int(conn.execute(sa.text('SELECT count(*) FROM "%s"' % n)).scalar() or 0) for n in sorted(names)}
    finally:
        engine.dispose()


def running_runs(apis: t.Sequence[ApiProcess]) -> list[int]:
    """The pids of the runs (runs.py: `python -m stratus_cli.api.runs`) still going below these processes."""
    out = []
    for api in apis:
        for pid in ansible_run.descendants(api.proc.pid):
            try:
                cmdline = Path("/proc/%d/cmdline" % pid).read_bytes()
            except OSError:
                continue
            if b"stratus_cli.api.runs" in cmdline:
                out.append(pid)
    return out


def tracebacks(text: str) -> list[str]:
    """The lines of a log or body that show a bug: a traceback, a source line, the edge's internal error."""
    return [line for line in text.splitlines() if any(mark in line for mark in BUG_MARKS)]


def wait_for(condition: t.Callable[[], bool], deadline: float, interval: float = 1.0) -> bool:
    """Poll `condition` until it holds or `deadline` seconds passed; whether it held."""
    end = time.monotonic() + deadline
    while True:
        if condition():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(interval)


def at_once(calls: t.Sequence[t.Callable[[], Answer]]) -> list[Answer]:
    """Every call in a thread of its own, released together (a barrier): the answers in the calls' order."""
    barrier = threading.Barrier(len(calls))

    def released(fn: t.Callable[[], Answer]) -> Answer:
        barrier.wait(timeout=60)
        return fn()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(released, calls))
