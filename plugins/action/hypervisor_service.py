# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An operator's disable or enable of one hypervisor (Nova's os-services update), on the controller."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.services import set_host_service


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "host": {"type": "str", "required": True},
        "disabled": {"type": "bool", "required": True},
        "reason": {"type": "str"},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        hypervisors = list((task_vars.get("groups") or {}).get("hypervisors") or [])
        outcome = set_host_service(self.caller(task_vars), hypervisors, args["host"], args["disabled"],
                                   args.get("reason"), self.store_url(task_vars), bool(self._task.check_mode))
        return {"changed": outcome.changed, "service": outcome.service}
