# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import StepAction, with_domain_options


class ActionModule(StepAction):
    """The spawn step; a running domain ends the build walk: vm_state active."""

    STEP = "domain"
    MODULE = "stratus.compute.compute_domain"

    def module_args(self, plans: list[BuildPlan], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        return with_domain_options(super().module_args(plans, task_vars), task_vars)

    def after_module(self, conn: t.Any, host: str, uuid: str, outcome: dict[str, t.Any]) -> None:
        if self._task.args.get("state", "present") == "present":
            lifecycle.mark_active(conn, uuid)
