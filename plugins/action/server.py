# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller edge of a server request: arguments in, one error mapping out."""
from __future__ import annotations

import traceback
import typing as t
import uuid

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils import conductor, schema

CATALOG_VARS = ("stratus_flavors", "stratus_images", "stratus_networks", "stratus_keypairs",
                "stratus_quotas", "stratus_scheduler", "stratus_policy", "stratus_server_groups",
                "stratus_volume_types", "stratus_max_local_block_devices")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        request_id = "req-" + str(uuid.uuid4())
        db_url = args.get("db_url") or task_vars.get("stratus_db_url")
        ctx: dict[str, t.Any] = {}
        try:
            if args.get("context") is None and task_vars.get("stratus_context") is not None:
                args["context"] = self._templar.template(task_vars["stratus_context"])
            schema.validate_request(args)
            ctx = dict(args.pop("context", None) or {})
            if not ctx:
                raise StratusError("PolicyNotAuthorized", "a request context with user_id and project_id is "
                                   "required (the context option or the stratus_context variable)", "context")
            catalog_vars = {k: self._templar.template(task_vars[k]) for k in CATALOG_VARS if k in task_vars}
            check_mode = bool(self._task.check_mode)
            if args.get("state", "present") == "absent":
                outcome = conductor.delete(args, ctx, catalog_vars, db_url, check_mode, request_id)
            else:
                if args.get("config_drive") is None:
                    args["config_drive"] = bool(task_vars.get("stratus_force_config_drive", True))
                hypervisors = list((task_vars.get("groups") or {}).get("hypervisors") or [])
                raw_vars = {k: task_vars[k] for k in CATALOG_VARS if k in task_vars}
                outcome = conductor.create(args, ctx, catalog_vars, hypervisors, task_vars.get("hostvars") or {},
                                           db_url, check_mode, request_id, raw_vars)
        except StratusError as exc:
            if ctx.get("project_id") and not self._task.check_mode and exc.code != "InvalidCatalog":
                conductor.record_refusal(db_url, (str(ctx["project_id"]), str(ctx.get("user_id", ""))),
                                         args.get("name"), request_id, exc,
                                         "delete" if args.get("state") == "absent" else "create")
            extra = {"explain": exc.explain} if getattr(exc, "explain", None) is not None else {}
            result.update(error_result(exc, request_id=request_id, **extra))
            return result
        except Exception as exc:  # a bug, not bad input: say so without a traceback on screen
            result.update(error_result(StratusError("InternalError", "%s: %s" % (type(exc).__name__, exc)),
                                       request_id=request_id, exception=traceback.format_exc()))
            return result
        result.update(changed=outcome.changed, servers=outcome.servers, hosts=outcome.hosts,
                      server_uuids=[s["id"] for s in outcome.servers if s.get("id")], request_id=request_id)
        if outcome.explain is not None:
            result["explain"] = outcome.explain
        return result
