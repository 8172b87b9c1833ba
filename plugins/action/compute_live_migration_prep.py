# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The destination's half of a live migration (Nova's pre_live_migration), see
plugins/modules/compute_live_migration_prep.py: for each server of the run migrating to this hypervisor, what
an earlier failed attempt left here cleaned, then the module of the same name once (the console directory,
the network and DHCP entry, the disks: the base image uploaded when missing, the root overlay, ephemeral and
swap disks, the config drive, with the build's own step code, and the volumes pre-created empty for libvirt's
copy); the plan gets their paths. A failure is
rolled back at once."""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.live_migration import LiveMigrationStep
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import with_pool_paths
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, live_migrate, move
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

MODULE = "stratus.compute.compute_live_migration_prep"


class ActionModule(LiveMigrationStep):
    SIDE = "to"
    _VALID_ARGS = frozenset(("uri", "run_uuids", "db_url", "base_pool_path", "instance_pool_path"))

    def select(self, conn: t.Any, host: str, uuids: t.Optional[list[str]]) -> list[tuple[t.Any, t.Any]]:
        return live_migrate.migrating_to(conn, host, uuids)

    def _prepare(self, args: dict[str, t.Any], plan: BuildPlan, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """The module once (twice when it asks for images); the plan's entry, or a fault (``error``)."""
        try:
            res = self.run_with_uploads(MODULE, dict(args, instances=[plan.to_dict()]), [plan], task_vars)
        except AnsibleConnectionFailure as exc:
            return {"ok": False, "error": {"code": "HypervisorUnavailable", "message": "unreachable: %s" % exc}}
        except StratusError as exc:
            return {"ok": False, "error": exc.to_dict()}
        one = (res.get("instances") or {}).get(plan.uuid)
        if one is None or not one.get("ok"):
            return {"ok": False, "error": dict((one or {}).get("error") or res.get("error") or {
                "code": "MigrationError", "message": res.get("msg") or "no result from %s" % MODULE})}
        return one

    def handle(self, db_url: t.Optional[str], host: str, row: t.Any, record: t.Any,
               task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        start = lifecycle.now()
        uri = self._task.args.get("uri") or task_vars.get("stratus_libvirt_uri", "qemu:///system")
        pools = with_pool_paths({k: self._task.args[k] for k in ("base_pool_path", "instance_pool_path")
                                 if self._task.args.get(k)}, task_vars)
        with store.transaction(db_url, locked=True) as conn:
            live_migrate.set_status(conn, record, "preparing")
            earlier = [left for left in lifecycle.leftovers_on_host(conn, host) if left.instance_uuid == row.uuid]
            plan = live_migrate.prepared_plan(read_plan(row.plan, uuid=row.uuid), move.volume_sizes_gb(conn, row.uuid))
        outcome: dict[str, t.Any] = {"ok": True}
        try:
            checksums = self.image_checksums([plan])
        except StratusError as exc:  # the image's file is gone from the controller
            outcome, checksums = {"ok": False, "error": exc.to_dict()}, {}
        if earlier and outcome["ok"]:  # a failed attempt to this host left its half here: gone before this one makes it again
            errors = self.clean([read_plan(left.plan, uuid=row.uuid) for left in earlier], task_vars)
            if errors.get(row.uuid):
                outcome = {"ok": False, "error": {"code": "MigrationError", "message": "what an earlier migration "
                                                  "left on %s cannot be cleaned: %s" % (host, errors[row.uuid])}}
            else:
                with store.transaction(db_url) as conn:
                    for left in earlier:
                        lifecycle.clear_leftover(conn, left.id)
        if outcome["ok"]:
            outcome = self._prepare(dict(pools, uri=uri, state="present", image_checksums=checksums), plan, task_vars)
        if outcome["ok"]:
            with store.transaction(db_url) as conn:
                live_migrate.prepared(conn, row.uuid, outcome.get("disks") or [])
                lifecycle.record_event(conn, row.uuid, "compute_pre_live_migration", host, "Success", None, start)
            return {"ok": True, "changed": True}
        # Nova's rollback_live_migration_at_destination: this host's half goes now (a leftover if it cannot)
        fault = dict(outcome["error"], host=host)
        cleaned = not self.clean([plan.for_cleanup()], task_vars).get(row.uuid)
        with store.transaction(db_url) as conn:
            lifecycle.record_event(conn, row.uuid, "compute_pre_live_migration", host, "Error", fault.get("message"),
                                   start)
        live_migrate.rolled_back(db_url, row.uuid, record.id, start, fault, dest_cleaned=cleaned)
        return {"ok": False, "changed": True, "error": fault}
