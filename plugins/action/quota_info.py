# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's limits and usage per resource (Nova's quota-sets detail)."""
from __future__ import annotations

import traceback
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils import reports
from ansible_collections.stratus.compute.plugins.plugin_utils.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

ARG_SPEC = {
    "project_id": {"type": "str"},
    "user_id": {"type": "str"},
    "context": {"type": "dict"},
    "db_url": {"type": "str", "no_log": True},
}
CATALOG_VARS = ("stratus_keypairs", "stratus_server_groups")


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
        try:
            context = args.get("context") or self._templar.template(task_vars.get("stratus_context") or {})
            caller = reports.Caller(context, self._templar.template(task_vars.get("stratus_policy") or {}) or None)
            project_id = args.get("project_id") or caller.project_id
            target = {"project_id": project_id, "user_id": args.get("user_id") or caller.user_id}
            caller.authorize("os_compute_api:os-quota-sets:show", target, "project_id")
            caller.authorize("os_compute_api:os-quota-sets:detail", target, "project_id")
            catalog = Catalog({k: self._templar.template(task_vars[k]) for k in CATALOG_VARS if k in task_vars},
                              {k: task_vars[k] for k in CATALOG_VARS if k in task_vars})
            quotas = self._templar.template(task_vars.get("stratus_quotas") or {})
            with store.transaction(args.get("db_url") or task_vars.get("stratus_db_url")) as conn:
                quota_set = reports.quota_set(conn, quotas, catalog, project_id, args.get("user_id"))
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        except Exception as exc:  # a bug, not bad input: say so without a traceback on screen
            result.update(error_result(StratusError("InternalError", "%s: %s" % (type(exc).__name__, exc)),
                                       exception=traceback.format_exc()))
            return result
        result.update(changed=False, project_id=project_id, user_id=args.get("user_id"), quota_set=quota_set)
        return result
