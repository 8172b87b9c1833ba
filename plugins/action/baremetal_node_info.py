# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bare-metal nodes as Ironic lists and shows them: the inventory's node and its provision state (admin by policy)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import node_views
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


class ActionModule(StoreReadAction):
    ARG_SPEC = {"name": {"type": "str"}, "events": {"type": "bool", "default": False}}

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        caller = self.caller(task_vars)
        caller.authorize("baremetal:node:list" if args.get("name") is None else "baremetal:node:get", field="name")
        nodes = self.baremetal_nodes(task_vars)
        with store.transaction(self.store_url(task_vars)) as conn:
            return {"nodes": node_views.node_views(conn, nodes, args.get("name"), args["events"])}
