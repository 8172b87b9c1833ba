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
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, resize
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.evacuate import request_evacuate
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.live_migrate import request_live_migrate
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.server_actions import request_action


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
        # the action recorded, in the result itself: the steps' hosts tell a rebuild's by it (tasks/action_hosts.yml)
        result = dict(self.request(args, task_vars), action=args["action"])
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
        action = server_actions.action_of(args["action"], args.get("reboot_type"), args.get("image"), args.get("flavor"),
                                          args.get("host"), args["force"])
        catalog = self.catalog(task_vars)
        image = catalog.image(args["image"]) if args.get("image") is not None else None
        config = SchedulerConfig.from_dict(self._templar.template(task_vars.get("stratus_scheduler")))
        request_id = "req-" + str(uuid.uuid4())
        if action.name == "evacuate":
            outcome = request_evacuate(args["server"], self.caller(task_vars),
                                       list((task_vars.get("groups") or {}).get("hypervisors") or []),
                                       task_vars.get("hostvars") or {}, catalog, config, args.get("host"),
                                       args["force"], self.store_url(task_vars), bool(self._task.check_mode),
                                       request_id)
            return self._result(outcome, request_id)
        if action.name == "live_migrate":  # the source migrates; its destination prepares first
            live = request_live_migrate(args["server"], self.caller(task_vars),
                                        list((task_vars.get("groups") or {}).get("hypervisors") or []),
                                        task_vars.get("hostvars") or {}, catalog, config, args.get("host"),
                                        args["force"], self.store_url(task_vars), bool(self._task.check_mode),
                                        request_id)
            return dict(self._result(live, request_id), live_destinations=[live.dest] if live.dest else [])
        if action.step in resize.STEPS:
            return self._move(args, action, catalog, config, task_vars, request_id)

        def image_check(plan: t.Any, host: str) -> None:
            server_actions.check_image_on_host(plan, host, t.cast(dict, image), task_vars.get("hostvars") or {},
                                               catalog, config)
        outcome = request_action(args["server"], action, self.caller(task_vars), self.store_url(task_vars),
                                 bool(self._task.check_mode), request_id, image=image, image_check=image_check)
        return self._result(outcome, request_id)

    def _move(self, args: dict[str, t.Any], action: t.Any, catalog: t.Any, config: SchedulerConfig,
              task_vars: dict[str, t.Any], request_id: str) -> dict[str, t.Any]:
        """Resize, cold migration, confirm and revert (conductor/resize.py): the hosts of action_steps.yml's first
        move play (a source; a revert's destination) and of its second (a destination; a revert's source)."""
        who, url, check = self.caller(task_vars), self.store_url(task_vars), bool(self._task.check_mode)
        if action.name == "confirm_resize":
            outcome = resize.request_confirm(args["server"], who, url, check, request_id)
        elif action.name == "revert_resize":
            outcome = resize.request_revert(args["server"], who, url, check, request_id)
        else:
            outcome = resize.request_move(
                args["server"], action, who, list((task_vars.get("groups") or {}).get("hypervisors") or []),
                task_vars.get("hostvars") or {}, catalog, config, url, check, request_id, flavor=args.get("flavor"),
                target=args.get("host"), quotas=self._templar.template(task_vars.get("stratus_quotas")),
                allow_same_host=boolean(self._templar.template(
                    task_vars.get("stratus_allow_resize_to_same_host", False)), strict=False))
        return {"changed": outcome.changed, "server": outcome.server, "request_id": request_id, "hosts": [],
                "nodes": [], "move_first": [outcome.first] if outcome.first else [],
                "move_then": [outcome.then] if outcome.then else [],
                "server_uuids": [outcome.server["id"]] if outcome.changed else []}

    @staticmethod
    def _result(outcome: t.Any, request_id: str) -> dict[str, t.Any]:
        # a node is no hypervisor: the controller's bare-metal play acts on it (through its BMC)
        baremetal = bool(getattr(outcome, "baremetal", False))
        return {"changed": outcome.changed, "server": outcome.server, "request_id": request_id,
                "hosts": [outcome.host] if outcome.host and not baremetal else [],
                "nodes": [outcome.host] if outcome.host and baremetal else [],
                "server_uuids": [outcome.server["id"]] if outcome.changed else []}
