# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller edge of a server request: arguments in, one error mapping out."""
from __future__ import annotations

import typing as t
import uuid

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils import conductor
from ansible_collections.stratus.compute.plugins.plugin_utils.server_args import SERVER_ARG_SPEC


CATALOG_VARS = ("stratus_flavors", "stratus_images", "stratus_networks", "stratus_keypairs",
                "stratus_quotas", "stratus_scheduler")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=SERVER_ARG_SPEC)
        if validation.error_messages:
            exc = StratusError("InvalidRequest", "; ".join(validation.error_messages),
                               _field_of(validation.error_messages[0]))
            result.update(error_result(exc))
            return result
        ctx = args.get("context") or task_vars.get("stratus_context") or {}
        if not ctx.get("project_id") or not ctx.get("user_id"):
            result.update(error_result(StratusError(
                "PolicyNotAuthorized", "a request context with user_id and project_id is required "
                "(the context option or the stratus_context variable)", "context")))
            return result
        args["max_count"] = args["max_count"] or args["min_count"]
        if args.get("config_drive") is None:
            args["config_drive"] = bool(task_vars.get("stratus_force_config_drive", True))
        groups = task_vars.get("groups") or {}
        hypervisors = list(groups.get("hypervisors") or [])
        catalog_vars = {k: self._templar.template(task_vars[k]) for k in CATALOG_VARS if k in task_vars}
        try:
            outcome = conductor.create(
                args, ctx, catalog_vars, hypervisors, task_vars.get("hostvars") or {},
                args.get("db_url") or task_vars.get("stratus_db_url"), bool(self._task.check_mode),
                request_id="req-" + str(uuid.uuid4()))
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        result.update(changed=outcome.changed, servers=outcome.servers, hosts=outcome.hosts,
                      server_uuids=[s["id"] for s in outcome.servers if s.get("id")])
        return result


def _field_of(message: str) -> t.Optional[str]:
    for name in SERVER_ARG_SPEC:
        if name in message:
            return name
    return None
