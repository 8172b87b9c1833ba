# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An operator's disable or enable, force down or up, of one hypervisor (Nova's os-services update), on the
controller."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.services import set_host_down, set_host_service


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "host": {"type": "str", "required": True},
        "disabled": {"type": "bool"},
        "reason": {"type": "str"},
        "forced_down": {"type": "bool"},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        if args.get("disabled") is None and args.get("forced_down") is None:
            raise StratusError("InvalidRequest", "give disabled, forced_down, or both", "disabled")
        if args.get("disabled") is None and args.get("reason") is not None:
            raise StratusError("InvalidRequest", "a reason goes with disabled: true", "reason")
        hypervisors = list((task_vars.get("groups") or {}).get("hypervisors") or [])
        caller, db_url, check = self.caller(task_vars), self.store_url(task_vars), bool(self._task.check_mode)
        outcomes = []
        if args.get("disabled") is not None:
            outcomes.append(set_host_service(caller, hypervisors, args["host"], args["disabled"], args.get("reason"),
                                             db_url, check))
        if args.get("forced_down") is not None:
            outcomes.append(set_host_down(caller, hypervisors, args["host"], args["forced_down"], db_url, check))
        service = dict(outcomes[0].service)
        for outcome in outcomes[1:]:  # in check mode each says what it would make of the row
            service.update(forced_down=outcome.service["forced_down"])
        return {"changed": any(o.changed for o in outcomes), "service": service}
