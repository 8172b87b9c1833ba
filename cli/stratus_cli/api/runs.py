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
import subprocess
import sys
import threading
import typing as t

LOG = logging.getLogger("stratus.api")


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
    sys.exit(main())
