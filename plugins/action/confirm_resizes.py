# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's resize confirm window (its _poll_unconfirmed_resizes periodic task): resizes and migrations waiting in
VERIFY_RESIZE longer than stratus_resize_confirm_window seconds are confirmed; the sources' compute_resize step
(playbooks/action_steps.yml) then cleans their copies. See plugins/modules/confirm_resizes.py."""
from __future__ import annotations

import typing as t
import uuid

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import resize


class ActionModule(StoreReadAction):
    ARG_SPEC = {"window": {"type": "int"}}

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        window = args.get("window")
        if window is None:
            window = int(self._templar.template(task_vars.get("stratus_resize_confirm_window", 0)) or 0)
        if window < 0:
            raise StratusError("InvalidRequest", "the resize confirm window is 0 (never) or more seconds", "window")
        request_id = "req-" + str(uuid.uuid4())
        done = resize.confirm_due(self.store_url(task_vars), window, bool(self._task.check_mode), request_id)
        return {"changed": bool(done), "confirmed": [m.server["name"] for m in done], "request_id": request_id,
                "move_first": sorted({str(m.first) for m in done}),
                "server_uuids": [m.server["id"] for m in done]}
