# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible runs as the harnesses make them: the one environment, the controller inventory, a run in a
process group of its own (whole, timed out or killed on purpose), and reading its default output."""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import yaml

from stratus_lab.paths import ANSIBLE_CONFIG, COLLECTIONS, ROOT, VENV_BIN, VENV_PYTHON

# Settings a harness's process must not inherit from the shell that started it: each run names its own.
INHERITED_STRATUS = ("STRATUS_DB_URL", "STRATUS_STATE_DIR", "STRATUS_INVENTORY", "STRATUS_PLAYBOOK_DIR",
                     "STRATUS_USER_ID", "STRATUS_PROJECT_ID", "STRATUS_ROLES", "STRATUS_OUTPUT", "STRATUS_LAB_DIR",
                     "STRATUS_KEEP_RUNS")

# The image of the controller-only catalogs (tests/integration, the controller scenarios): never built.
IMAGE_ID = "11111111-2222-4333-8444-555555555555"

# Play 1 of provision.yml alone: decide, claim and write the store; the hypervisors are not contacted.
DECIDE_PLAYBOOK = """---
# Play 1 of provision.yml only: decide, claim and write the store; the hypervisors are not contacted.
- name: Decide what to build
  ansible.builtin.import_playbook: stratus.compute.decide

- name: Report
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read this run's servers from the state store
      stratus.compute.server_info:
        uuids: "{{ stratus_run_uuids }}"
"""


class CommandFailed(Exception):
    """A command a harness ran failed; the message has the end of its output."""


def caller_env(context: t.Optional[t.Mapping[str, t.Any]]) -> dict[str, str]:
    """The environment that names a caller, as an AWX credential or the CLI sets it (None: stratus_context)."""
    if context is None:
        return {}
    return {"STRATUS_USER_ID": str(context["user_id"]), "STRATUS_PROJECT_ID": str(context["project_id"]),
            "STRATUS_ROLES": ",".join(context.get("roles") or [])}


def env(store_dir: t.Optional[Path] = None, db_url: t.Optional[str] = None,
        caller: t.Optional[t.Mapping[str, t.Any]] = None, **extra: str) -> dict[str, str]:
    """The environment of an ansible / stratus process of a harness: this checkout's ansible.cfg and
    collection, plain output, no Stratus setting inherited; then the store (a state dir and/or a URL),
    the caller (as STRATUS_USER_ID, _PROJECT_ID, _ROLES) and `extra`."""
    out = {k: v for k, v in os.environ.items() if k not in INHERITED_STRATUS}
    out.update(ANSIBLE_CONFIG=str(ANSIBLE_CONFIG), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", PYTHONUNBUFFERED="1")
    if store_dir is not None:
        out["STRATUS_STATE_DIR"] = str(store_dir)
    if db_url:
        out["STRATUS_DB_URL"] = db_url
    out.update(caller_env(caller))
    out.update(extra)
    return out


def write_yaml(path: Path, data: t.Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def controller_inventory(catalog: t.Mapping[str, t.Any], hypervisors: t.Mapping[str, t.Mapping[str, t.Any]],
                         capacity: t.Mapping[str, t.Any], local_hypervisors: t.Optional[Path] = None,
                         interpreter: str = str(VENV_PYTHON)) -> dict[str, t.Any]:
    """localhost + hypervisors (never contacted by play 1) + the catalog as variables of all.

    With ``local_hypervisors`` (a scratch directory) the hypervisors run their step modules on this
    machine against libvirt's in-memory ``test:///default`` driver: enough for the delete walk
    (nothing to destroy there) without a lab.
    """
    hv_vars = dict(capacity)
    if local_hypervisors is not None:
        hv_vars.update(ansible_connection="local", ansible_python_interpreter=str(VENV_PYTHON),
                       stratus_libvirt_uri="test:///default",
                       stratus_base_pool_path=str(local_hypervisors / "base"),
                       stratus_instance_pool_path=str(local_hypervisors / "instances"))
    return {"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": interpreter}},
        "children": {"hypervisors": {"hosts": {h: dict(v) for h, v in hypervisors.items()}, "vars": hv_vars}},
        "vars": dict(catalog),
    }}


def playbook_argv(playbook: Path, inventories: t.Sequence[Path], extra: t.Optional[t.Mapping[str, t.Any]] = None,
                  options: t.Sequence[str] = ()) -> list[str]:
    """ansible-playbook of this checkout's .venv with these inventories (in order: a later one's
    group_vars win), extra variables (launch input, as JSON) and options."""
    argv = [str(VENV_BIN / "ansible-playbook")]
    for inventory in inventories:
        argv += ["-i", str(inventory)]
    argv.append(str(playbook))
    if extra is not None:
        argv += ["-e", json.dumps(dict(extra))]
    return argv + list(options)


def run(cmd: t.Sequence[str], env: t.Mapping[str, str], timeout: float = 1800, check: bool = True,
        cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The command in a process group of its own: past `timeout` the whole group is killed (worker
    processes too), then TimeoutExpired is raised. With `check` a failure raises CommandFailed."""
    with subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as child:
        try:
            out, err = child.communicate(timeout=timeout)
        except BaseException:
            kill_group(child)
            raise
    proc = subprocess.CompletedProcess(list(cmd), child.returncode, out, err)
    if check and proc.returncode != 0:
        raise CommandFailed("%s failed (exit %s):\n%s\n%s"
                            % (" ".join(cmd[:4]), proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:]))
    return proc


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc's parent pids), whatever its session or group."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(pid: int) -> None:
    """SIGKILL a run as a crash of its machine would: its process group and every descendant. The group
    alone is not enough: ansible-core's workers call setsid(), so a killed group leaves the worker of the
    running task going on. Each process is stopped first, so that none forks between the walk and the kill."""
    stopped: set[int] = set()
    while True:
        found = [p for p in [pid, *descendants(pid)] if p not in stopped]
        if not found:
            break
        for p in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGSTOP)
        stopped.update(found)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    for p in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a run started with start_new_session (its group and every descendant), and reap its leader."""
    kill_tree(proc.pid)
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


@dataclass
class RunResult:
    returncode: int
    stdout: str          # stdout and stderr, interleaved as they came
    seconds: float


@dataclass
class KilledRun:
    """A run killed with SIGKILL: when, and in which task it was."""
    kill_after: float
    killed: bool           # False: the run had already finished when the kill came
    task: str
    play: str
    seconds: float
    returncode: t.Optional[int] = None


def run_merged(argv: t.Sequence[str], env: t.Mapping[str, str], timeout: float = 900) -> RunResult:
    """A run with its stderr in its stdout (the order ansible-playbook wrote them), timed."""
    start = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=ROOT, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out = proc.communicate(timeout=timeout)[0]
    except BaseException:
        kill_group(proc)
        raise
    return RunResult(proc.returncode, out, time.monotonic() - start)


def start(argv: t.Sequence[str], env: t.Mapping[str, str], log: Path) -> subprocess.Popen:
    """A run in its own process group, its output going to `log` as it comes."""
    with log.open("w") as fp:
        return subprocess.Popen(list(argv), cwd=ROOT, env=dict(env), stdout=fp, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_injecting(proc: subprocess.Popen, inject: t.Callable[[], t.Optional[dict[str, t.Any]]], watch_s: float,
                   wait_s: float, interval: float) -> tuple[int, dict[str, t.Any]]:
    """Wait for a started run (start) while calling `inject` every `interval` seconds, for at most
    `watch_s`, until it returns what it injected (a fault drill's record); then wait for the run's end.
    Returns the run's exit status and the record ({} when nothing was injected). An interrupted wait
    kills the run's whole tree: a drill leaves no run behind."""
    began = time.monotonic()
    injected: dict[str, t.Any] = {}
    try:
        while proc.poll() is None and time.monotonic() - began < watch_s:
            record = inject()
            if record is not None:
                injected = record
                break
            time.sleep(interval)
        return proc.wait(timeout=wait_s), injected
    except BaseException:
        kill_group(proc)
        raise


def killed_run(argv: t.Sequence[str], env: t.Mapping[str, str], kill_after: float, log: Path) -> KilledRun:
    """Start a run and SIGKILL it (its process group and every descendant) `kill_after` seconds later."""
    began = time.monotonic()
    proc = start(argv, env, log)
    try:
        try:
            proc.wait(timeout=kill_after)
            killed = False
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            killed = True
        proc.wait(timeout=60)
    except BaseException:
        kill_group(proc)
        raise
    play, task = running_task(log.read_text(errors="replace"))
    return KilledRun(kill_after, killed, task, play, time.monotonic() - began, None if killed else proc.returncode)


# --- ansible-playbook's default output -------------------------------------------------------------

TASK_LINE = re.compile(r"^TASK \[(.*?)\]")
PLAY_LINE = re.compile(r"^PLAY \[(.*?)\]")


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host."""
    out = {}
    for host, fields in re.findall(r"^(\S+)\s+: (ok=.*)$", stdout, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
    return out


def task_lines(stdout: str, task: str) -> list[str]:
    """The per-host lines printed under the first TASK header whose name starts with `task`."""
    parts = re.split(r"^TASK \[(.*?)\] \**$", stdout, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        if name.startswith(task):
            return [ln for ln in body.splitlines() if ln.strip()]
    return []


def running_task(output: str) -> tuple[str, str]:
    """(play, task) of the last PLAY/TASK header in ansible output: what ran when the run stopped."""
    play, task = "", "(before the first task)"
    for line in output.splitlines():
        m = PLAY_LINE.match(line)
        if m:
            play, task = m.group(1), "(play start)"
        m = TASK_LINE.match(line)
        if m:
            task = m.group(1)
    return play, task
