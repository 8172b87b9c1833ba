# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity and usage per hypervisor (Nova's os-hypervisors detail), admin only."""
from __future__ import annotations

import traceback
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils import reports
from ansible_collections.stratus.compute.plugins.plugin_utils.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

ARG_SPEC = {
    "hosts": {"type": "list", "elements": "str"},
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
        try:
            context = args.get("context") or self._templar.template(task_vars.get("stratus_context") or {})
            caller = reports.Caller(context, self._templar.template(task_vars.get("stratus_policy") or {}) or None)
            caller.authorize("os_compute_api:os-hypervisors:list-detail")
            names = list((task_vars.get("groups") or {}).get("hypervisors") or [])
            if args.get("hosts") is not None:
                unknown = [h for h in args["hosts"] if h not in names]
                if unknown:
                    raise StratusError("ComputeHostNotFound", "Compute host %s could not be found." % unknown[0],
                                       "hosts")
                names = [h for h in names if h in args["hosts"]]
            catalog = Catalog({k: self._templar.template(task_vars[k]) for k in ("stratus_networks",)
                               if k in task_vars}, {k: task_vars[k] for k in ("stratus_networks",) if k in task_vars})
            with store.transaction(args.get("db_url") or task_vars.get("stratus_db_url")) as conn:
                hypervisors = reports.hypervisor_views(conn, names, task_vars.get("hostvars") or {}, catalog)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        except Exception as exc:  # a bug, not bad input: say so without a traceback on screen
            result.update(error_result(StratusError("InternalError", "%s: %s" % (type(exc).__name__, exc)),
                                       exception=traceback.format_exc()))
            return result
        result.update(changed=False, hypervisors=hypervisors)
        return result
