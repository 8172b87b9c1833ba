# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller edge of a server action (stop, start, reboot, rebuild, evacuate, resize, migrate, ...): checked
and recorded here; the power or rebuild step on the server's hypervisor (for evacuate, its new one), the move
steps, or for a bare-metal server's stop, start and reboot baremetal_power on the controller, does it: run by
this task and waited for (wait, the default: action_wait.py), or by the plays after it (wait false:
playbooks/server_action.yml, which batches them per host)."""
from __future__ import annotations

import typing as t
import uuid

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.actions import action_wait
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.action_requests import (
    ActionContext, record_action,
)


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "server": {"type": "str", "required": True},
        "action": {"type": "str", "required": True, "choices": list(server_actions.NAMES)},
        "reboot_type": {"type": "str", "choices": list(server_actions.REBOOT_TYPES)},
        "image": {"type": "str"},
        "flavor": {"type": "str"},
        "host": {"type": "str"},
        "force": {"type": "bool", "default": False},
        "wait": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 600},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        if args["timeout"] < 1:
            raise StratusError("InvalidRequest", "Invalid input for field/attribute timeout. Value: %s. It must be "
                               "1 or more (seconds)" % args["timeout"], "timeout")
        since = lifecycle.now()
        result = self.request(args, task_vars)  # with the action it recorded (conductor/action_requests.py)
        if not args["wait"] or self._task.check_mode or not result.get("server_uuids"):
            return result
        # nothing else does the steps: run them here and wait (the same steps as server_action.yml's plays)
        run = action_wait.run_steps([result], list(task_vars.get("ansible_inventory_sources") or []),
                                    args["timeout"])
        server = action_wait.ended(self.store_url(task_vars), result["server"]["id"], since, args["action"], run,
                                   args["timeout"])
        return dict(result, server=server)

    def request(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """Check and record the action (one locked store transaction); the result says which hosts do it."""
        ctx = ActionContext(
            self.caller(task_vars), self.catalog(task_vars),
            SchedulerConfig.from_dict(self._templar.template(task_vars.get("stratus_scheduler"))),
            list((task_vars.get("groups") or {}).get("hypervisors") or []), task_vars.get("hostvars") or {},
            self.store_url(task_vars), bool(self._task.check_mode),
            quotas=self._templar.template(task_vars.get("stratus_quotas")),
            allow_resize_to_same_host=boolean(self._templar.template(
                task_vars.get("stratus_allow_resize_to_same_host", False)), strict=False))
        return record_action(args, ctx, "req-" + str(uuid.uuid4()))
