# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller edge of a server request: arguments in, one error mapping out."""
from __future__ import annotations

import traceback
import typing as t
import uuid

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.node_states import node_names
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers, record_refusal
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.delete import delete_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.base import StratusAction
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import WHERE

# Options of the module that are not part of the request (schemas/server.json).
NOT_REQUEST = ("db_url", "request")


def request_from_args(args: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The request: the `request` mapping plus the options given on their own, each at most once."""
    whole = args.get("request")
    if whole is not None and not isinstance(whole, t.Mapping):
        raise StratusError("InvalidRequest", "Invalid input for field/attribute request. Value: %s. It must be a "
                           "mapping of request fields" % type(whole).__name__, "request")
    req = dict(whole or {})
    for key, value in args.items():
        if key in NOT_REQUEST:
            continue
        if key in req:
            raise StratusError("InvalidRequest", "%s is given twice: in request and as an option" % key, key)
        req[key] = value
    if "context" in req:
        raise StratusError("InvalidRequest", "A request cannot name its caller (context): who asks comes from %s"
                           % WHERE, "context")
    return req


class ActionModule(StratusAction):
    _requires_connection = False

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        request_id = "req-" + str(uuid.uuid4())
        db_url = self.store_url(task_vars)
        req: dict[str, t.Any] = {}
        who: t.Optional[tuple[str, str]] = None
        try:
            self.launch_guard(task_vars)
            req = request_from_args(self._task.args)
            schema.validate_request(req)
            caller = self.caller(task_vars)
            who = (caller.project_id, caller.user_id)
            catalog = self.catalog_vars(task_vars)
            check_mode = bool(self._task.check_mode)
            if req.get("state", "present") == "absent":
                outcome = delete_servers(req, caller, db_url, check_mode, request_id)
            else:
                if req.get("config_drive") is None:
                    req["config_drive"] = bool(task_vars.get("stratus_force_config_drive", True))
                hypervisors = list((task_vars.get("groups") or {}).get("hypervisors") or [])
                outcome = create_servers(req, caller, catalog.values, hypervisors, task_vars.get("hostvars") or {},
                                         db_url, check_mode, request_id, catalog.raw, node_names(task_vars))
        except StratusError as exc:
            if who and not self._task.check_mode and exc.code != "InvalidCatalog":
                record_refusal(db_url, who, req.get("name"), request_id, exc,
                               "delete" if req.get("state") == "absent" else "create")
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
        if outcome.updates:
            result["updates"] = outcome.updates
        return result
