# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity and usage per hypervisor (Nova's os-hypervisors detail), admin only."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


class ActionModule(StoreReadAction):
    ARG_SPEC = {"hosts": {"type": "list", "elements": "str"}}

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        self.caller(task_vars).authorize("os_compute_api:os-hypervisors:list-detail")
        names = list((task_vars.get("groups") or {}).get("hypervisors") or [])
        if args.get("hosts") is not None:
            unknown = [h for h in args["hosts"] if h not in names]
            if unknown:
                raise StratusError("ComputeHostNotFound", "Compute host %s could not be found." % unknown[0], "hosts")
            names = [h for h in names if h in args["hosts"]]
        catalog = self.catalog(task_vars)
        with store.transaction(self.store_url(task_vars)) as conn:
            return {"hypervisors": views.hypervisor_views(conn, names, task_vars.get("hostvars") or {}, catalog)}
