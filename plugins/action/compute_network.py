# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import StepAction


class ActionModule(StepAction):
    """The network step; in the delete walk it is the last one, so it ends the delete."""

    STEP = "network"
    MODULE = "stratus.compute.compute_network"

    def after_module(self, conn: t.Any, host: str, uuid: str, outcome: dict[str, t.Any]) -> None:
        if self._task.args.get("state", "present") == "absent":
            lifecycle.mark_deleted(conn, uuid)
