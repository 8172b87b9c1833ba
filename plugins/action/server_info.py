# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Servers the caller may see, from the state store."""
from __future__ import annotations

import typing as t

import sqlalchemy as sa
from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import server_view
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

ARG_SPEC = {
    "name": {"type": "str"},
    "uuids": {"type": "list", "elements": "str"},
    "all_projects": {"type": "bool", "default": False},
    "context": {"type": "dict"},
    "db_url": {"type": "str", "no_log": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARG_SPEC)
        if validation.error_messages:
            result.update(error_result(StratusError("InvalidRequest", "; ".join(validation.error_messages))))
            return result
        ctx = args.get("context") or task_vars.get("stratus_context") or {}
        is_admin = "admin" in (ctx.get("roles") or [])
        if args["all_projects"] and not is_admin:
            result.update(error_result(StratusError(
                "PolicyNotAuthorized", "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants "
                "to be performed.", "all_projects")))
            return result
        query = sa.select(instances).where(instances.c.deleted == "")
        if not (args["all_projects"] and is_admin):
            query = query.where(instances.c.project_id == str(ctx.get("project_id", "")))
        if args.get("name"):
            query = query.where(instances.c.name == args["name"])
        if args.get("uuids") is not None:
            query = query.where(instances.c.uuid.in_(args["uuids"]))
        try:
            with store.transaction(args.get("db_url") or task_vars.get("stratus_db_url")) as conn:
                rows = list(conn.execute(query.order_by(instances.c.name)))
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        result.update(changed=False, servers=[server_view(r) for r in rows])
        return result
