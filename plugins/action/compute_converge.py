# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import (
    BaseImageUploads, remember_disks, with_domain_options, with_pool_paths)


class ActionModule(BaseImageUploads):
    """The three steps in one module call for a host whose servers of this run are all built.

    A build under way on the host must walk Nova's task_states one step at a time (and be
    rescheduled when a step fails), so then nothing is done here (converged=false) and the
    playbook runs the steps.
    """

    STEP = "converge"
    MODULE = "stratus.compute.compute_converge"
    TRANSFERS_FILES = False

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        self._under_way: list[str] = []
        if self._task.args.get("state", "present") != "present" or self._task.args.get("building_only"):
            return {"changed": False, "converged": False, "instances": {},
                    "msg": "converge only checks built servers"}
        result = super().run(tmp, task_vars)
        if self._under_way:
            result["msg"] = "%d build(s) under way on this host: the steps run one by one" % len(self._under_way)
        # A host-wide failure is recorded per instance already: the steps one by one would meet it again.
        return dict(result, converged=not self._under_way)

    def select_rows(self, conn: t.Any, host: str, run_uuids: t.Optional[list[str]], state: str) -> list[t.Any]:
        rows = lifecycle.instances_on_host(conn, host, run_uuids)
        self._under_way = [r.uuid for r in rows if r.vm_state != "active" or r.task_state is not None]
        return [] if self._under_way else rows

    def module_args(self, plans: list[BuildPlan], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        args = with_domain_options(with_pool_paths(super().module_args(plans, task_vars), task_vars), task_vars)
        args["image_checksums"] = self.image_checksums(plans)
        return args

    def event_name(self, outcome: t.Optional[dict[str, t.Any]], deleting: bool) -> str:
        return lifecycle.STEP_EVENTS.get((outcome or {}).get("step") or "", "compute_converge")

    def after_module(self, conn: t.Any, host: str, uuid: str, outcome: dict[str, t.Any]) -> None:
        if "disks" in outcome:
            remember_disks(conn, uuid, outcome["disks"])
