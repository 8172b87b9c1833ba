# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server actions (day 2) as Nova's compute API checks them: the policy rule, the vm_states and
task_states an action is allowed from (``check_instance_state``), the task_state it sets, the
instance action it records, and the state it ends in.

Read only: the conductor (``conductor/server_actions.py``) writes, the power step's action plugin
finishes. One declaration per action feeds the request's check, the step and the views.
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

POLICY = "os_compute_api:servers:%s"
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class ServerAction(t.NamedTuple):
    """One of Nova's server actions, as its compute API allows it and its compute manager ends it."""

    name: str                                   # the request's action (and reboot type)
    instance_action: str                        # the action log's name (Nova's InstanceAction)
    policy: str                                 # the policy rule
    vm_states: tuple[str, ...]                  # allowed from (check_instance_state vm_state)
    task_states: tuple[t.Optional[str], ...]    # allowed while (check_instance_state task_state)
    task_state: str                             # set by the API, cleared by the compute step
    event: str                                  # the compute step's event (Nova's wrap_instance_event)
    step: str                                   # what the hypervisor module does (compute_power)
    done: tuple[str, str]                       # (vm_state, power_state) when it worked
    already: t.Optional[str] = None             # a vm_state that already is what the action asks: no change
    error_on_failure: bool = False              # a failed reboot leaves the server in ERROR (Nova)


_REBOOT_TASK_STATES = (None, "rebooting", "rebooting_hard")
ACTIONS: dict[str, ServerAction] = {a.name: a for a in (
    ServerAction("stop", "stop", POLICY % "stop", ("active", "error"), (None,), "powering-off",
                 "compute_stop_instance", "stop", ("stopped", "shutdown"), already="stopped"),
    ServerAction("start", "start", POLICY % "start", ("stopped",), (None,), "powering-on",
                 "compute_start_instance", "start", ("active", "running"), already="active"),
    # Nova: a soft reboot only of an ACTIVE server that is doing nothing else; a hard one also of a
    # stopped or broken server, and over a soft reboot that hangs
    ServerAction("reboot", "reboot", POLICY % "reboot", ("active",), (None,), "rebooting",
                 "compute_reboot_instance", "reboot_soft", ("active", "running"), error_on_failure=True),
    ServerAction("reboot_hard", "reboot", POLICY % "reboot", ("active", "stopped", "error"), _REBOOT_TASK_STATES,
                 "rebooting_hard", "compute_reboot_instance", "reboot_hard", ("active", "running"),
                 error_on_failure=True),
)}
# The task_states of a power action in progress: the power step takes the servers in them.
POWER_TASK_STATES = {a.task_state: a for a in ACTIONS.values()}
NAMES = ("stop", "start", "reboot")
REBOOT_TYPES = ("soft", "hard")


def action_of(name: t.Any, reboot_type: t.Any = None) -> ServerAction:
    """The action a request names (reboot_type only with reboot), or InvalidRequest naming the field."""
    if name not in NAMES:
        raise StratusError("InvalidRequest", "Invalid input for field/attribute action. Value: %s. It must be one of "
                           "%s" % (name, ", ".join(NAMES)), "action")
    if reboot_type is not None and name != "reboot":
        raise StratusError("InvalidRequest", "reboot_type is for the reboot action only", "reboot_type")
    if name == "reboot":
        kind = str(reboot_type or "soft").lower()
        if kind not in REBOOT_TYPES:
            raise StratusError("InvalidRequest", "Invalid input for field/attribute reboot_type. Value: %s. It must "
                               "be soft or hard (Nova's SOFT or HARD)" % reboot_type, "reboot_type")
        return ACTIONS["reboot_hard" if kind == "hard" else "reboot"]
    return ACTIONS[name]


def needed(action: ServerAction, row: t.Any) -> bool:
    """Whether the server must change for the action; raises InstanceInvalidState when it may not.

    A server already where a stop or start would take it, with nothing in progress, is left as it
    is (changed false, as Ansible's modules are idempotent; Nova's API would answer 409). A server
    whose same action was interrupted (its task_state still the action's) is taken again: the
    rerun resumes it.
    """
    if action.already is not None and row.vm_state == action.already and row.task_state is None:
        return False
    if row.task_state == action.task_state and row.vm_state in action.vm_states:
        return True
    if row.vm_state not in action.vm_states or row.task_state not in action.task_states:
        raise StratusError("InstanceInvalidState", "Cannot '%s' instance %s while it is in vm_state %s%s" % (
            action.instance_action, row.uuid, row.vm_state,
            "" if row.task_state is None else " (task_state %s)" % row.task_state), "action")
    return True
