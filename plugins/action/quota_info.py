# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's limits and usage per resource (Nova's quota-sets detail)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


class ActionModule(StoreReadAction):
    ARG_SPEC = {"project_id": {"type": "str"}, "user_id": {"type": "str"}}

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        caller = self.caller(task_vars)
        project_id = args.get("project_id") or caller.project_id
        target = {"project_id": project_id, "user_id": args.get("user_id") or caller.user_id}
        caller.authorize("os_compute_api:os-quota-sets:show", target, "project_id")
        caller.authorize("os_compute_api:os-quota-sets:detail", target, "project_id")
        values, raw = self.catalog_vars(task_vars)
        catalog = Catalog(values, raw)
        with store.transaction(self.store_url(task_vars)) as conn:
            quota_set = views.quota_set(conn, values.get("stratus_quotas"), catalog, project_id, args.get("user_id"))
        return {"project_id": project_id, "user_id": args.get("user_id"), "quota_set": quota_set}
