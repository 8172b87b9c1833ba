# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the read-only controller actions (server_info, hypervisor_info, quota_info).

Each checks its arguments against its spec plus the shared ``context`` / ``db_url`` options
(documented by the ``stratus.compute.store_read`` doc fragment), reads the state store, and
maps failures in one place: a StratusError is the error result, anything else an InternalError.
"""
from __future__ import annotations

import traceback
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils import reports

# Mirrored by plugins/doc_fragments/store_read.py.
STORE_READ_ARG_SPEC: dict[str, dict[str, t.Any]] = {
    "context": {"type": "dict"},
    "db_url": {"type": "str", "no_log": True},
}


class StoreReadAction(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    ARG_SPEC: dict[str, dict[str, t.Any]] = {}

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """What the action returns (besides changed=False)."""
        raise NotImplementedError

    def caller(self, args: t.Mapping[str, t.Any], task_vars: t.Mapping[str, t.Any]) -> reports.Caller:
        """The request context (option, else ``stratus_context``) with the policy and its overrides."""
        context = args.get("context") or self._templar.template(task_vars.get("stratus_context") or {})
        return reports.Caller(context, self._templar.template(task_vars.get("stratus_policy") or {}) or None)

    @staticmethod
    def db_url(args: t.Mapping[str, t.Any], task_vars: t.Mapping[str, t.Any]) -> t.Optional[str]:
        return args.get("db_url") or task_vars.get("stratus_db_url")

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=dict(self.ARG_SPEC, **STORE_READ_ARG_SPEC))
        if validation.error_messages:
            result.update(error_result(StratusError("InvalidRequest", "; ".join(validation.error_messages))))
            return result
        try:
            out = self.read(args, task_vars)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        except Exception as exc:  # a bug, not bad input: say so without a traceback on screen
            result.update(error_result(StratusError("InternalError", "%s: %s" % (type(exc).__name__, exc)),
                                       exception=traceback.format_exc()))
            return result
        result.update(out, changed=False)
        return result
