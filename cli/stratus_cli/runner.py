"""Running the collection's playbooks through ansible-runner, with progress from its events."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import typing as t
from pathlib import Path

from stratus_cli.errors import CliError
from stratus_cli.settings import Settings

RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_item_on_ok", "runner_item_on_failed")
KEEP_ENV = "STRATUS_KEEP_RUNS"


def _mark_unsafe(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return {"__ansible_unsafe": value}  # Ansible's JSON form of an !unsafe string
    if isinstance(value, dict):
        return {k: _mark_unsafe(v) for k, v in value.items()}  # keys are variable and field names
    if isinstance(value, (list, tuple)):
        return [_mark_unsafe(v) for v in value]
    return value


def extravars_text(extravars: t.Mapping[str, t.Any]) -> str:
    """env/extravars as JSON with every string value marked unsafe.

    A request is data, never a template: without the mark Ansible renders extra vars, so a
    `{{ lookup('pipe', ...) }}` in a request file would run a command on the controller.
    """
    return json.dumps(_mark_unsafe(dict(extravars)))


class Progress:
    """Per play, per task, per host lines on stderr, from runner events (never on stdout)."""

    def __init__(self, stream: t.Optional[t.TextIO] = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled

    def _say(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def __call__(self, event: t.Mapping[str, t.Any]) -> bool:
        name = event.get("event")
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        if name == "playbook_on_play_start":
            self._say("== %s" % (data.get("play") or data.get("name") or "play"))
        elif name == "playbook_on_task_start":
            self._say("-- %s" % (data.get("task") or data.get("name") or "task"))
        elif name in ("runner_on_ok", "runner_item_on_ok"):
            if name == "runner_on_ok" and "results" in res:
                return True  # a loop's summary: its items were shown
            state = "changed" if res.get("changed") else "ok"
            self._say("   %-12s %s%s" % (data.get("host"), state, self._item(res)))
        elif name in ("runner_on_failed", "runner_item_on_failed"):
            if name == "runner_on_failed" and "results" in res:
                return True
            error = res.get("error") if isinstance(res.get("error"), dict) else None
            what = "%s: %s" % (error.get("code"), error.get("message")) if error else (res.get("msg") or "")
            state = "failed (ignored)" if data.get("ignore_errors") else "failed"
            self._say("   %-12s %s%s %s" % (data.get("host"), state, self._item(res), str(what)[:300]))
        elif name == "runner_on_skipped":
            self._say("   %-12s skipped" % data.get("host"))
        elif name == "runner_on_unreachable":
            self._say("   %-12s UNREACHABLE %s" % (data.get("host"), str(res.get("msg") or "")[:300]))
        return True

    @staticmethod
    def _item(res: t.Mapping[str, t.Any]) -> str:
        label = res.get("_ansible_item_label")
        if label is None:
            return ""
        if isinstance(label, dict):
            label = label.get("name", label)
        return " [%s]" % label


class RunResult:
    """What a playbook run left: its status and the result of every task, by module."""

    def __init__(self, status: str, rc: int, events: list[dict[str, t.Any]], stdout_tail: str = "") -> None:
        self.status = status
        self.rc = rc
        self.events = events
        self.stdout_tail = stdout_tail

    @property
    def ok(self) -> bool:
        return self.status == "successful"

    def results(self, action: str) -> list[dict[str, t.Any]]:
        """Results of the tasks of one module (FQCN), per loop item, in order; failed ones included."""
        out = []
        for event in self.events:
            data = event.get("event_data") or {}
            if event.get("event") not in RESULT_EVENTS or data.get("task_action") not in (action,
                                                                                          action.split(".")[-1]):
                continue
            res = dict(data.get("res") or {})
            if event["event"].startswith("runner_on_") and "results" in res:
                continue  # a loop's summary; its items came as runner_item_on_* events
            res["_failed"] = event["event"].endswith("failed")
            res["_host"] = data.get("host")
            out.append(res)
        return out

    @property
    def artifacts(self) -> dict[str, t.Any]:
        """What set_stats published (AWX turns it into the job's artifacts)."""
        for event in reversed(self.events):
            if event.get("event") == "playbook_on_stats":
                return dict((event.get("event_data") or {}).get("artifact_data") or {})
        return {}

    def failures(self) -> list[CliError]:
        """Every failure that was not ignored, as errors: a Stratus error when the result carries one."""
        errors = []
        for event in self.events:
            data = event.get("event_data") or {}
            name = event.get("event")
            if name not in ("runner_on_failed", "runner_item_on_failed", "runner_on_unreachable"):
                continue
            if data.get("ignore_errors"):
                continue
            res = data.get("res") or {}
            if name == "runner_on_failed" and "results" in res:
                continue
            label = res.get("_ansible_item_label")
            if isinstance(label, dict):
                label = label.get("name")
            if isinstance(res.get("error"), dict):
                errors.append(CliError.from_result(res["error"], label))
            elif name == "runner_on_unreachable":
                errors.append(CliError("RunnerError", "%s is unreachable: %s" % (data.get("host"), res.get("msg"))))
            else:
                what = "%s: %s: %s" % (data.get("host"), data.get("task"), res.get("msg") or "failed")
                errors.append(CliError("RunnerError", what))
        return errors

    def error(self) -> t.Optional[CliError]:
        """The run's failure as one error (with the others attached), or None if it succeeded."""
        if self.ok:
            return None
        errors = self.failures()
        if not errors:
            tail = " ".join(line.strip() for line in self.stdout_tail.splitlines() if line.strip())[-600:]
            what = "ansible-playbook %s (rc %s)%s" % (self.status, self.rc, ": " + tail if tail else "")
            errors = [CliError("RunnerError", what)]
        first, rest = errors[0], errors[1:]
        first.more = rest
        return first


def _collections_dir(pdd: Path, collection: Path) -> str:
    """A collections path in which ansible_collections/stratus/compute is this collection."""
    if collection.parent.name == "stratus" and collection.parent.parent.name == "ansible_collections":
        return str(collection.parent.parent.parent)
    link = pdd / "collections" / "ansible_collections" / "stratus"
    link.mkdir(parents=True)
    (link / "compute").symlink_to(collection, target_is_directory=True)
    return str(pdd / "collections")


def _scrub_artifacts(pdd: Path, db_url: t.Optional[str]) -> None:
    """Kept artifacts go without the store's password: ansible-runner writes the run's
    environment (STRATUS_DB_URL among it) into artifacts/<ident>/command."""
    if not db_url:
        return
    from urllib.parse import urlsplit

    password = urlsplit(db_url).password
    if not password:
        return
    for path in (pdd / "artifacts").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            if password in text:
                path.write_text(text.replace(password, "***"))


def run_playbook(settings: Settings, playbook: str, extravars: t.Optional[dict[str, t.Any]] = None,
                 check: bool = False, limit: t.Optional[str] = None,
                 forward: t.Optional[t.Callable[[dict[str, t.Any]], None]] = None,
                 timeout: t.Optional[int] = None) -> RunResult:
    """ansible_runner.run with a private data dir of our own, the collection's playbooks as project;
    `forward` gets each event too (a detached run's pipe); past `timeout` seconds the run is stopped
    (status "timeout")."""
    import ansible_runner  # imported here: --help and usage errors stay fast

    project = settings.playbooks
    if not (project / playbook).is_file():
        raise CliError("ConfigurationError", "playbook %s not found" % (project / playbook), "playbook_dir")
    extravars = dict(extravars or {})
    inventories = settings.inventory_sources()
    pdd = Path(tempfile.mkdtemp(prefix="stratus-run-"))
    keep = bool(os.environ.get(KEEP_ENV))
    events: list[dict[str, t.Any]] = []
    progress = Progress(enabled=not settings.quiet)

    def on_event(event: dict[str, t.Any]) -> bool:
        events.append(event)
        progress(event)
        if forward is not None:
            forward(event)
        return keep  # write the event to the artifacts only when they are kept

    try:
        env = {
            "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(
                p for p in (_collections_dir(pdd, settings.collection),
                            os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p),
            # the ansible-playbook of the Python this CLI runs in
            "PATH": os.pathsep.join((os.path.dirname(sys.executable), os.environ.get("PATH", ""))),
            "ANSIBLE_PIPELINING": os.environ.get("ANSIBLE_PIPELINING", "True"),
        }
        env.update(settings.store_env())
        # Who asks goes in the environment, where Stratus reads it first and no extra var can change it
        env.update(settings.identity_env())
        # AWX's layout: env/extravars in the private data dir (0700), not the command line, where
        # `ps` would show an admin_pass
        (pdd / "env").mkdir()
        (pdd / "env" / "extravars").write_text(extravars_text(extravars))
        cmdline = ["--check"] if check else []
        if limit:
            cmdline += ["--limit", limit]
        runner = ansible_runner.run(
            private_data_dir=str(pdd), project_dir=str(project), playbook=playbook, inventory=inventories,
            envvars=env, cmdline=" ".join(cmdline) or None, quiet=True,
            event_handler=on_event, suppress_env_files=True, settings={"suppress_ansible_output": True},
            **({"timeout": timeout} if timeout else {}))
        tail = ""
        if not runner.status == "successful":
            try:
                tail = "\n".join(runner.stdout.read().splitlines()[-8:])
            except (OSError, ValueError, AttributeError):
                tail = ""
        return RunResult(runner.status, runner.rc, events, tail)
    finally:
        if keep:
            _scrub_artifacts(pdd, settings.db_url)
            print("stratus: run artifacts kept in %s" % pdd, file=sys.stderr)
        else:
            shutil.rmtree(pdd, ignore_errors=True)


def _forward_to(fd: int) -> t.Callable[[dict[str, t.Any]], None]:
    """Events as JSON lines on a pipe; once the reader has gone, the run goes on without it."""
    out = os.fdopen(fd, "w")

    def forward(event: dict[str, t.Any]) -> None:
        if out.closed:
            return
        try:
            out.write(json.dumps(event, default=str) + "\n")
            out.flush()
        except (OSError, ValueError):  # the CLI has its answer and went: keep running
            try:
                out.close()
            except OSError:
                pass
    return forward


def run_playbook_detached(settings: Settings, playbook: str, extravars: dict[str, t.Any],
                          accepted: t.Callable[[list[dict[str, t.Any]]], bool]) -> RunResult:
    """Start the playbook in a process of its own (a new session, detached from the terminal) and return
    once `accepted(events so far)` says the request was accepted, or the run ended: Nova's API answering
    before the compute host is done. The run goes on after this CLI exits; its outcome is in the state
    store (the server's status, fault and action log)."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; the e2e tests run it for real
        code = 0
        try:
            os.close(read_fd)
            os.setsid()
            if os.fork() != 0:  # the grandchild runs: no zombie is left to the CLI's caller
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            run_playbook(dataclasses.replace(settings, quiet=True), playbook, extravars,
                         forward=_forward_to(write_fd))
        except BaseException:  # pylint: disable=broad-exception-caught  # the child must never return
            code = 1
        finally:
            os._exit(code)  # pylint: disable=protected-access
    os.close(write_fd)
    os.waitpid(pid, 0)
    events: list[dict[str, t.Any]] = []
    progress = Progress(enabled=not settings.quiet)
    finished = False
    with os.fdopen(read_fd) as inp:
        for line in inp:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            events.append(event)
            progress(event)
            if event.get("event") == "playbook_on_stats":
                finished = True
                break
            if accepted(events):
                break
    failed = any(e.get("event") in ("runner_on_failed", "runner_on_unreachable") and
                 not (e.get("event_data") or {}).get("ignore_errors") for e in events)
    if not events:
        return RunResult("failed", 1, events, "the detached run did not start")
    # an accepted request is a success so far; a run that ended tells its own outcome
    return RunResult("failed" if failed else "successful", 2 if failed else 0, events,
                     "" if finished or not failed else "the run failed before it was accepted")
