# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clean a hypervisor of its leftovers (see plugins/modules/compute_cleanup.py)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import HostCleaner
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


class ActionModule(HostCleaner):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("uri", "base_pool_path", "instance_pool_path", "db_url"))

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self.store_url(task_vars)
        try:
            self.launch_guard(task_vars)
            with store.transaction(db_url) as conn:
                found = lifecycle.leftovers_on_host(conn, host)
            if not found:
                result.update(changed=False, cleaned=[], pending={})
                return result
            errors = self.clean([read_plan(left.plan, uuid=left.instance_uuid) for left in found], task_vars)
            with store.transaction(db_url) as conn:
                for left in found:
                    error = errors.get(left.instance_uuid)
                    if error:
                        lifecycle.leftover_failed(conn, left.id, error)
                    else:
                        lifecycle.clear_leftover(conn, left.id)
                        lifecycle.record_event(conn, left.instance_uuid, "compute_cleanup_leftover", host,
                                               "Success", "cleaned: %s" % left.reason)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        cleaned = sorted(u for u, e in errors.items() if not e)
        result.update(changed=bool(cleaned), cleaned=cleaned, pending={u: e for u, e in errors.items() if e})
        return result
