# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An operator's move of one bare-metal node: maintenance on or off, then a provision action
(manage, inspect, provide). The BMC calls run here, on the controller, where the action runs."""
from __future__ import annotations

import typing as t
import uuid

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import nodes as conductor


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "name": {"type": "str", "required": True},
        "provision_action": {"type": "str", "choices": list(conductor.OPERATOR_VERBS)},
        "maintenance": {"type": "bool"},
        "reason": {"type": "str"},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        if args.get("provision_action") is None and args.get("maintenance") is None:
            raise StratusError("InvalidRequest", "give provision_action (%s), maintenance, or both"
                               % ", ".join(conductor.OPERATOR_VERBS), "provision_action")
        caller = self.caller(task_vars)
        nodes = self.baremetal_nodes(task_vars)
        db_url, check_mode, request_id = self.store_url(task_vars), bool(self._task.check_mode), "req-" + str(uuid.uuid4())
        outcomes = []
        if args.get("maintenance") is not None:
            outcomes.append(conductor.set_maintenance(nodes, args["name"], args["maintenance"], args.get("reason"),
                                                      caller, db_url, check_mode, request_id))
        elif args.get("reason") is not None:
            raise StratusError("InvalidRequest", "a reason goes with maintenance: true", "reason")
        if args.get("provision_action") is not None:
            outcomes.append(conductor.move_node(nodes, args["name"], args["provision_action"], caller, db_url,
                                                check_mode, request_id))
        sync = conductor.sync_nodes(nodes, caller, db_url, check_mode, request_id)
        out: dict[str, t.Any] = {
            "changed": any(o.changed for o in outcomes), "node": outcomes[-1].node, "request_id": request_id,
            "moves": [{"action": o.action, "changed": o.changed, "from_state": o.from_state, "to_state": o.to_state,
                       "message": o.message} for o in outcomes],
            "enrolled": sync["enrolled"], "departed": sync["departed"],
        }
        fault = outcomes[-1].error
        if fault is not None:  # recorded on the node (last_error); the task fails with it
            out.update(error_result(fault))
        return out
