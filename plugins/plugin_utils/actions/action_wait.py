# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""server_action's wait (its default): the recorded action's hypervisor steps, run from the task and waited for.

openstack.cloud's server_action waits until the server has reached the action's end. In Stratus no compute
service runs to do the steps, so the task runs them itself: playbooks/action_steps_for.yml by ansible-playbook,
on the inventory sources and with the extra variables of the run the task is in, in a session of its own, stopped
at the timeout (the server then keeps its task_state, and a rerun of the same action takes it over and finishes
it). The action log and the server's row then say how it ended. playbooks/server_action.yml instead records many
actions with ``wait: false`` and runs the same steps once for all of them, batched per host.
"""
from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

from ansible import context as cli_context

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

from ansible_collections.stratus.compute.plugins.module_utils.errors import ERROR_CODES, StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    instance_action_events, instances,
)

STEPS_PLAYBOOK = Path(__file__).resolve().parents[3] / "playbooks" / "action_steps_for.yml"
KILL_GRACE_S = 10.0
OUTPUT_TAIL = 1500


class StepsRun(t.NamedTuple):
    returncode: t.Optional[int]
    output: str        # the tail of ansible-playbook's output (its task results: no_log keeps secrets out)
    timed_out: bool


def steps_argv(inventory_sources: t.Sequence[str], extra_vars: t.Sequence[str], vars_file: str) -> list[str]:
    """ansible-playbook on action_steps_for.yml with this run's inventories and extra variables, then ours."""
    argv = [sys.executable, "-m", "ansible", "playbook", str(STEPS_PLAYBOOK)]
    for source in inventory_sources:
        argv += ["-i", str(source)]
    for extra in extra_vars:
        argv += ["-e", str(extra)]
    return argv + ["-e", "@" + vars_file]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to its session, then SIGKILL after a grace: what ran stays recorded for a rerun to finish."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_steps(results: list[dict[str, t.Any]], inventory_sources: t.Sequence[str], timeout: float) -> StepsRun:
    """Run the steps of these recorded actions (server_action results, each naming its action) and wait for them."""
    extra_vars = tuple(cli_context.CLIARGS.get("extra_vars") or ())
    with tempfile.TemporaryDirectory(prefix="stratus-steps-") as tmp:  # 0700: the run's own files
        vars_file = os.path.join(tmp, "recorded.json")
        with open(vars_file, "w", encoding="utf-8") as fp:
            json.dump({"stratus_recorded_actions": results}, fp)
        with open(os.path.join(tmp, "steps.log"), "w+b") as out:
            proc = subprocess.Popen(steps_argv(inventory_sources, extra_vars, vars_file), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                returncode: t.Optional[int] = proc.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                _stop(proc)
                returncode, timed_out = None, True
            out.seek(0)
            output = out.read().decode("utf-8", errors="replace")
    return StepsRun(returncode, output[-OUTPUT_TAIL:], timed_out)


def ended(db_url: t.Optional[str], uuid: str, since: datetime.datetime, action: str,
          run: StepsRun, timeout: float) -> dict[str, t.Any]:
    """The server as its steps left it; an error when the action did not end well (the fault it recorded, the
    timeout, or steps that ended without finishing it)."""
    with store.transaction(db_url) as conn:
        row = conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()
        action_id = lifecycle.latest_action_id(conn, uuid)
        failed = [] if action_id is None else list(conn.execute(
            sa.select(instance_action_events.c.event, instance_action_events.c.details)
            .where(instance_action_events.c.action_id == action_id, instance_action_events.c.result == "Error",
                   instance_action_events.c.finish_time >= since)))
    if row is None or row.deleted:
        raise StratusError("InstanceNotFound", "Instance %s could not be found." % uuid, "server")
    fault = dict(row.fault or {})
    if failed:
        code = fault.get("code") if fault.get("code") in ERROR_CODES else "InternalError"
        raise StratusError(code, "%s of %s failed: %s: %s" % (
            action, row.name, failed[-1].event, fault.get("message") or failed[-1].details or "no details"), "server")
    if run.timed_out:
        raise StratusError("ActionTimeout", "%s of %s did not end within %s s (task_state %s): run the same action "
                           "again to finish it" % (action, row.name, int(timeout), row.task_state), "timeout")
    if row.task_state is not None:
        raise StratusError("HypervisorUnavailable", "%s of %s is still %s after its steps ran (its host did not do "
                           "it); run the same action again to finish it. The steps' run said: %s" % (
                               action, row.name, row.task_state, run.output.strip()[-500:] or "nothing"), "server")
    return views.server_view(row)
