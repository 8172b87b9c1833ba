# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source's half of a live migration (Nova's live_migration, _post_live_migration and
_rollback_live_migration), see plugins/modules/compute_live_migration.py: for each server of the run
migrating from this hypervisor whose destination is prepared, the module migrates it (on a rerun, first finds
where a killed run left it, asking both libvirts, and migrates a guest still here); a guest on the destination is
post-migrated (this host's disks, volume copies and DHCP entry go, the server is the destination's), a guest still
here after the migration failed is rolled back (the destination's half a leftover there, which the next step on
that host cleans)."""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.live_migration import LiveMigrationStep
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import with_pool_paths
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, live_migrate, move
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

MODULE = "stratus.compute.compute_live_migration"
# The host's variables for the module's options, unless the task gives them.
POOL_OPTIONS = ("base_pool_path", "instance_pool_path")
HOST_OPTIONS = {"completion_timeout": "stratus_live_migration_completion_timeout",
                "mode": "stratus_live_migration_mode", "disk_copy": "stratus_live_migration_disk_copy"}


class ActionModule(LiveMigrationStep):
    SIDE = "from"
    _VALID_ARGS = frozenset(("uri", "run_uuids", "db_url") + POOL_OPTIONS + tuple(HOST_OPTIONS))

    def select(self, conn: t.Any, host: str, uuids: t.Optional[list[str]]) -> list[tuple[t.Any, t.Any]]:
        return live_migrate.migrating_from(conn, host, uuids)

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        """The step, then the hosts with leftovers (a rollback's destination half among them): the clean-up play
        of action_steps.yml runs only on those of the run's destinations (no worker forked for the others)."""
        result = super().run(tmp, task_vars)
        if not self._task.check_mode and "error" not in result:
            try:
                with store.transaction(self.store_url(task_vars or {})) as conn:
                    result["leftover_hosts"] = lifecycle.hosts_with_leftovers(conn)
            except StratusError:  # not said: the clean-up play then runs on every destination
                pass
        return result

    def module_args(self, row: t.Any, record: t.Any, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """The module's options: the destination's libvirt and address (its hostvars), the disks' paths there."""
        dest_uri, dest_address = live_migrate.migration_vars(record.dest_compute, task_vars.get("hostvars") or {},
                                                             address=True)
        plan = read_plan(row.plan, uuid=row.uuid)
        args = {k: v for k, v in self._task.args.items() if k in tuple(HOST_OPTIONS) + POOL_OPTIONS}
        for option, variable in HOST_OPTIONS.items():
            if variable in task_vars:
                args.setdefault(option, task_vars[variable])
        args = with_pool_paths(args, task_vars)
        return dict(args, uri=self._task.args.get("uri") or task_vars.get("stratus_libvirt_uri", "qemu:///system"),
                    dest_uri=dest_uri, dest_address=dest_address,
                    resume=record.status != "preparing", instances=[{
                        "uuid": row.uuid, "domain_name": plan.domain_name,
                        "disks": [{"device_name": d.get("device_name"), "path": d.get("path")} for d in plan.disks or []
                                  if d.get("device_name") and d.get("path")],
                        # what goes from this host once the guest runs there (no secrets: nothing is built)
                        "source_plan": move.moved_copy(read_plan(record.old_plan, uuid=row.uuid))
                        .without_secrets()[0].to_dict()}])

    def handle(self, db_url: t.Optional[str], host: str, row: t.Any, record: t.Any,
               task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        start = lifecycle.now()
        try:
            args = self.module_args(row, record, task_vars)
        except StratusError as exc:  # the destination's variables went meanwhile: nothing moved
            live_migrate.rolled_back(db_url, row.uuid, record.id, start, dict(exc.to_dict(), host=host), False)
            return {"ok": False, "error": exc.to_dict()}
        if record.status == "preparing":
            with store.transaction(db_url) as conn:
                live_migrate.set_status(conn, record, "running")
        try:
            res = self._execute_module(MODULE, module_args=args, task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            res = {"msg": "unreachable: %s" % exc}
        res.pop("invocation", None)
        one = (res.get("instances") or {}).get(row.uuid) or {}
        where = one.get("location", "unknown")
        if where == "destination":
            left = one.get("source_left")  # the module removed the rest of this host's half
            how = "from %s to %s%s" % (host, record.dest_compute, " in %.1f s" % one["seconds"] if "seconds" in one else
                                       " (found there by a rerun)")
            live_migrate.completed(db_url, row.uuid, record.id, start, how, source_left=left)
            return dict(one, ok=True)
        fault = dict(one.get("error") or res.get("error") or {
            "code": "MigrationError", "message": res.get("msg") or "no result"}, host=host)
        if where == "source" and "error" not in one:  # a rerun found the guest here: the killed run's never moved
            fault = {"code": "MigrationError", "message": "live migration to %s interrupted before it ended; the "
                     "guest still runs on %s: rolled back" % (record.dest_compute, host), "host": host}
        if where in ("source", "nowhere"):
            live_migrate.rolled_back(db_url, row.uuid, record.id, start, fault, dest_cleaned=False,
                                     lost=where == "nowhere")
        else:  # the host did not answer: where the guest runs is unknown, and so left for a rerun to find
            with store.transaction(db_url) as conn:
                lifecycle.record_event(conn, row.uuid, live_migrate.LIVE.event, host, "Error", fault.get("message"),
                                       start)
        return {"ok": False, "location": where, "error": fault}
