"""The builds, deletes and actions the API has accepted, run as the collection's playbooks through
ansible-runner, as the CLI runs them: never libvirt or BMC calls from the API process.

A route decides and records in the store first (synchronously: refusals come back at once), then `launch`
starts the playbook in a process of its own session, so it outlives the request, the worker and a restart
of the API. The caller goes to the run as the CLI's --user/--project/--role do (STRATUS_USER_ID, ...), the
request on the child's standard input (it may carry user data or an admin password: never on a command line
or in a file of ours). The run's outcome is in the store: the server's status, fault and action log.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import typing as t

LOG = logging.getLogger("stratus.api")
CONSOLE_PLAYBOOK = "console_output.yml"
CONSOLE_TIMEOUT = 60  # seconds for the run on the host; the request waits for it


class ConsoleUnavailable(Exception):
    """The console log could not be read: the host did not answer, or the run failed (a message to show)."""


def launch(inventories: list[str], store_url: str, caller: t.Any, playbook: str, extravars: dict[str, t.Any],
           what: str) -> int:
    """Start `playbook` for `caller`; returns the run's pid. A thread reaps it and logs how it ended."""
    payload = {"inventories": inventories, "db_url": store_url, "user_id": caller.user_id,
               "project_id": caller.project_id, "roles": list(caller.roles), "playbook": playbook,
               "extravars": extravars}
    # its standard error is the API's log: one line per failure of the run (runs.main), nothing else
    proc = subprocess.Popen([sys.executable, "-m", "stratus_cli.api.runs"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload).encode("utf-8"))
    proc.stdin.close()
    LOG.info("run started: %s (%s, pid %d)", what, playbook, proc.pid)
    threading.Thread(target=_reap, args=(proc, what, playbook), daemon=True).start()
    return proc.pid


def _reap(proc: subprocess.Popen, what: str, playbook: str) -> None:
    code = proc.wait()
    if code == 0:
        LOG.info("run ended: %s (%s, pid %d): ok", what, playbook, proc.pid)
    else:
        LOG.warning("run ended: %s (%s, pid %d): failed (exit %d); the store has the servers' faults",
                    what, playbook, proc.pid, code)


def read_console(inventories: list[str], store_url: str, caller: t.Any, host: str, uuid: str, lines: int,
                 timeout: int = CONSOLE_TIMEOUT) -> t.Optional[str]:
    """The tail of a server's console log, read on its host by a run of console_output.yml (limited to the
    host) in a process of its own, waited for: the text, or None when the host has no log for it. The text
    comes back on the child's standard output (a pipe) only: its tasks are no_log, its private data dir is
    removed, and runner artifacts are never kept for it, so it is in no log or file."""
    payload = {"inventories": inventories, "db_url": store_url, "user_id": caller.user_id,
               "project_id": caller.project_id, "roles": list(caller.roles), "host": host,
               "extravars": {"stratus_console_uuid": uuid, "stratus_console_lines": lines}, "timeout": timeout}
    proc = subprocess.Popen([sys.executable, "-m", "stratus_cli.api.runs", "console"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, start_new_session=True, close_fds=True)
    try:
        out, _err = proc.communicate(json.dumps(payload).encode("utf-8"), timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        # SIGTERM: the child stops ansible-runner and removes its data dir (console_main), then goes
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise ConsoleUnavailable("The host %s did not answer within %d seconds." % (host, timeout))
    try:
        answer = json.loads(out.decode("utf-8"))
    except ValueError:
        answer = {"ok": False, "error": "the run of %s did not answer (exit %s)" % (CONSOLE_PLAYBOOK, proc.returncode)}
    if not answer.get("ok"):
        raise ConsoleUnavailable("The console log could not be read on host %s: %s" % (host, answer.get("error")))
    return str(answer.get("output") or "") if answer.get("found") else None


def console_main() -> int:
    """The console read's own process: console_output.yml on one host, its answer as JSON on standard output
    ({"ok", "found", "output"} or {"ok": false, "error"}). Never keeps the run's artifacts."""
    from stratus_cli import runner
    from stratus_cli.settings import Settings

    def stop(_signum: int, _frame: t.Any) -> None:
        raise SystemExit(3)  # run_playbook's finally removes the private data dir

    signal.signal(signal.SIGTERM, stop)
    os.environ.pop(runner.KEEP_ENV, None)
    answer_to = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the run prints goes to the log (never the console's text: no_log); the answer to us
    try:
        payload = json.loads(sys.stdin.read())
        settings = Settings(inventories=list(payload["inventories"]), db_url=payload["db_url"],
                            user_id=payload["user_id"], project_id=payload["project_id"],
                            roles=list(payload["roles"]), quiet=True)
        result = runner.run_playbook(settings, CONSOLE_PLAYBOOK, payload["extravars"], limit=payload["host"],
                                     timeout=int(payload["timeout"]))
    except Exception as exc:  # pylint: disable=broad-exception-caught  # one line, never a traceback
        answer: dict[str, t.Any] = {"ok": False, "error": "the run did not start (%s)" % type(exc).__name__}
    else:
        stats = result.artifacts
        failures = result.failures() if not result.ok else []
        if result.status == "timeout":
            answer = {"ok": False, "error": "the run timed out"}
        elif any(e.get("event") == "runner_on_unreachable" for e in result.events):
            answer = {"ok": False, "error": "the host is unreachable"}  # (no_log: Ansible's message is censored)
        elif failures:
            # the tasks are no_log: a failure's message is the host's or Ansible's, never the log's text
            answer = {"ok": False, "error": " ".join(("%s: %s" % (failures[0].code, failures[0])).split())[:300]}
        elif not result.ok:
            answer = {"ok": False, "error": "ansible-playbook ended %s (rc %s)" % (result.status, result.rc)}
            _say("run of %s: %s" % (CONSOLE_PLAYBOOK, result.stdout_tail[-600:]))
        elif "stratus_console_found" not in stats:
            answer = {"ok": False, "error": "the host is not a hypervisor of the inventory"}
        else:
            answer = {"ok": True, "found": str(stats["stratus_console_found"]).lower() == "true",
                      "output": str(stats.get("stratus_console_output") or "")}
    if not answer["ok"]:
        _say("run of %s failed: %s" % (CONSOLE_PLAYBOOK, answer["error"]))
    answer_to.write(json.dumps(answer))
    answer_to.flush()
    return 0


def main() -> int:
    """The run's own process: the payload from standard input, the playbook through ansible-runner."""
    from stratus_cli import runner
    from stratus_cli.settings import Settings

    try:
        payload = json.loads(sys.stdin.read())
        settings = Settings(inventories=list(payload["inventories"]), db_url=payload["db_url"],
                            user_id=payload["user_id"], project_id=payload["project_id"],
                            roles=list(payload["roles"]), quiet=True)
        result = runner.run_playbook(settings, payload["playbook"], payload["extravars"])
    except Exception as exc:  # pylint: disable=broad-exception-caught  # one line, never a traceback
        _say("run of %s did not start: %s" % (payload.get("playbook") if isinstance(payload, dict) else "-",
                                              type(exc).__name__))
        return 2
    error = result.error()
    for failure in ([error] + list(error.more or [])) if error is not None else []:
        # Stratus errors and task messages: the modules' no_log keeps secrets out of them
        _say("run of %s failed: %s: %s" % (payload["playbook"], failure.code, str(failure)[:600]))
    return 0 if result.ok else 1


def _say(line: str) -> None:
    sys.stderr.write("stratus.api run: %s\n" % " ".join(line.split()))
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(console_main() if sys.argv[1:] == ["console"] else main())
