# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the two hypervisor steps of a live migration share (plugins/action/compute_live_migration_prep.py on
the destination, plugins/action/compute_live_migration.py on the source): this host's servers of the run
from the store, each handled in turn (one migration at a time), the outcomes reported."""
from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import BaseImageUploads
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


class LiveMigrationStep(BaseImageUploads):
    """A step of live migration on one hypervisor (the build step's image uploads and cleaning borrowed)."""

    SIDE = ""  # "to" (the destination) or "from" (the source), for the messages

    def select(self, conn: t.Any, host: str, uuids: t.Optional[list[str]]) -> list[tuple[t.Any, t.Any]]:
        """(server, migration record) pairs this host works on."""
        raise NotImplementedError

    def handle(self, db_url: t.Optional[str], host: str, row: t.Any, record: t.Any,
               task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """One server's part on this host, ended in the store; its outcome (``ok``, ``error``)."""
        raise NotImplementedError

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        # ActionBase's run, not the build step's
        result = ActionBase.run(self, tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self.store_url(task_vars)
        outcomes: dict[str, dict[str, t.Any]] = {}
        try:
            self.launch_guard(task_vars)
            with store.transaction(db_url) as conn:
                work = self.select(conn, host, self._task.args.get("run_uuids"))
            if not work or self._task.check_mode:
                result.update(changed=bool(work), instances={r.uuid: {"ok": True, "changed": True} for r, _m in work},
                              msg="" if work else "nothing to do on %s" % host)
                return result
            for row, record in work:  # one at a time (Nova's max_concurrent_live_migrations)
                outcomes[row.uuid] = self.handle(db_url, host, row, record, task_vars)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        failed = sorted(u for u, o in outcomes.items() if not o.get("ok"))
        result.update(changed=True, instances=outcomes)
        if failed:
            result.update(failed=True, msg="live migration %s %s failed for %s" % (self.SIDE, host, ", ".join(failed)))
        return result
