# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the read-only controller actions (server_info, hypervisor_info, quota_info), and of
the bare-metal node actions that share it (baremetal_node says itself whether it changed something).

Each refuses launch overrides, checks its arguments against its spec plus the shared ``db_url``
option (documented by the ``stratus.compute.store_read`` doc fragment), resolves the caller and
the catalog as every action does (base.py), reads the state store, and maps failures in
one place: a StratusError is the error result, anything else an InternalError.
"""
from __future__ import annotations

import traceback
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.base import StratusAction
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import (
    BaremetalNode, nodes_from_task_vars,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog

# Mirrored by plugins/doc_fragments/store_read.py.
STORE_READ_ARG_SPEC: dict[str, dict[str, t.Any]] = {
    "db_url": {"type": "str", "no_log": True},
}


class StoreReadAction(StratusAction):
    _requires_connection = False
    ARG_SPEC: dict[str, dict[str, t.Any]] = {}

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """What the action returns (changed=False unless it says otherwise)."""
        raise NotImplementedError

    def catalog(self, task_vars: t.Mapping[str, t.Any]) -> Catalog:
        values, raw = self.catalog_vars(task_vars)
        return Catalog(values, raw)

    def baremetal_nodes(self, task_vars: t.Mapping[str, t.Any]) -> list[BaremetalNode]:
        """The inventory's baremetal_nodes group, checked against the catalog's networks (templated)."""
        networks = self.catalog_vars(task_vars).values.get("stratus_networks") or []
        return nodes_from_task_vars({"groups": task_vars.get("groups") or {},
                                     "hostvars": task_vars.get("hostvars") or {}, "stratus_networks": networks})

    def arguments(self) -> dict[str, t.Any]:
        """The task's arguments against the spec; InvalidRequest names what is wrong.

        The validator itself, not ActionBase.validate_argument_spec, which fails without an error code.
        """
        validation = ArgumentSpecValidator(dict(self.ARG_SPEC, **STORE_READ_ARG_SPEC)).validate(self._task.args)
        if validation.error_messages:
            context_hint = (" A request cannot name its caller: who asks is the environment's or "
                            "stratus_context's" if "context" in self._task.args else "")
            raise StratusError("InvalidRequest", "; ".join(validation.error_messages) + context_hint,
                               "context" if context_hint else None)
        return validation.validated_parameters

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        try:
            self.launch_guard(task_vars)
            out = self.read(self.arguments(), task_vars)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        except Exception as exc:  # a bug, not bad input: say so without a traceback on screen
            result.update(error_result(StratusError("InternalError", "%s: %s" % (type(exc).__name__, exc)),
                                       exception=traceback.format_exc()))
            return result
        result.update(changed=False)
        result.update(out)
        return result
