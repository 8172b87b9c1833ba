# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Servers the caller may see, from the state store (Nova's index/show with its policy)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import resize
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "name": {"type": "str"},
        "uuids": {"type": "list", "elements": "str"},
        "all_projects": {"type": "bool", "default": False},
        "actions": {"type": "bool", "default": False},
        "refusals": {"type": "bool", "default": False},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        # by uuid it is Nova's show: an admin sees any project's server, anyone else their project's
        by_uuid = args.get("uuids") is not None and not args["all_projects"]
        project_id = views.visible_project(self.caller(task_vars), args["all_projects"] or by_uuid, strict=not by_uuid)
        out: dict[str, t.Any] = {}
        with store.transaction(self.store_url(task_vars)) as conn:
            rows = views.visible_servers(conn, project_id, args.get("name"), args.get("uuids"))
            out["servers"] = [views.server_view(r) for r in rows]
            last = views.last_actions(conn, [r.uuid for r in rows])
            for server in out["servers"]:
                server["last_action"] = last[server["id"]]
                moving = resize.migration_view(conn, server["id"])  # a resize or migration under way or waiting
                if moving is not None:
                    server["migration"] = moving
            if args["actions"]:
                per = views.instance_actions_by_uuid(conn, [r.uuid for r in rows])
                for server in out["servers"]:
                    server["actions"] = per[server["id"]]
            if args["refusals"]:
                out["refusals"] = views.refusals(conn, project_id, args.get("name"))
        return out
