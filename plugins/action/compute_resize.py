# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The first half of the resize and cold-migration steps on one hypervisor (Nova's compute manager):

- as a source, resize_instance: task_state resize_migrating (migration migrating), the module powers the
  server off and copies its local disks and volumes to the destination (or its local disks beside them, for a
  same-host resize), then resize_migrated (post-migrating); a failure rolls the server back on the source
  (InstanceFaultRollback);
- as a source, confirm_resize: the source's copy cleaned (a cross-host move's leftover: domain, disks, volume
  copies, DHCP entry; a same-host resize's `.resize` clones), the migration confirmed, the server ACTIVE or SHUTOFF;
- as a destination, revert_resize: its copy goes (domain, disks, volume copies, DHCP entry; for a same-host resize
  the domain is only powered off), the claim, plan and flavor back on the source, the migration reverted.

compute_finish_resize then finishes on the other side. See plugins/modules/compute_resize.py."""
from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.compute import resize as hv
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import ServerSteps
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, move, resize
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

MODULE = "stratus.compute.compute_resize"
HOST_OPTIONS = {"timeout": "stratus_shutdown_timeout", "retry_interval": "stratus_shutdown_retry_interval"}


def local_disks(plan: t.Any) -> list[dict[str, t.Any]]:
    return [{"name": dev.name} for dev in plan.block_devices if dev.kind in resize.LOCAL_KINDS]


class ActionModule(ServerSteps):
    _VALID_ARGS = frozenset(("uri", "run_uuids", "db_url", "instance_pool_path", "timeout", "retry_interval"))

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        # ActionBase's run, not the build step's
        result = ActionBase.run(self, tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self.store_url(task_vars)
        uuids = self._task.args.get("run_uuids")
        try:
            self.launch_guard(task_vars)
            with store.transaction(db_url) as conn:
                moving = [(r, m) for r, m in resize.moving_on_host(conn, host, ("pre-migrating", "migrating"),
                                                                   "source", uuids)
                          if r.task_state in ("resize_prep", "resize_migrating")]
                confirming = resize.moving_on_host(conn, host, ("confirming",), "source", uuids)
                reverting = [(r, m) for r, m in resize.moving_on_host(conn, host, ("reverting",), "dest", uuids)
                             if r.task_state == resize.REVERT.task_state]
            if not (moving or confirming or reverting):
                result.update(changed=False, instances={}, msg="nothing to do on %s" % host)
                return result
            if self._task.check_mode:
                result.update(changed=True, instances={
                    r.uuid: {"ok": True, "changed": True} for r, _m in moving + confirming + reverting})
                return result
            outcomes = self._work(db_url, host, moving, confirming, reverting, task_vars)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        failed = sorted(u for u, o in outcomes.items() if not o.get("ok"))
        result.update(changed=True, instances=outcomes)
        if failed:
            result.update(failed=True, msg="%d server(s) failed on %s" % (len(failed), host))
        return result

    def _work(self, db_url: t.Optional[str], host: str, moving: list, confirming: list, reverting: list,
              task_vars: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
        start = lifecycle.now()
        with store.transaction(db_url, locked=True) as conn:
            for row, record in moving:
                resize.step_to(conn, row, record, "resize_migrating", "migrating")
        elements, faults = [], {}
        for row, record in moving:
            try:
                elements.append(self._migrate_element(row, record, host, task_vars))
            except StratusError as exc:
                faults[row.uuid] = exc.to_dict()
        same_confirms = [(r, m) for r, m in confirming if m.dest_compute == host]
        same_reverts = [(r, m) for r, m in reverting if m.source_compute == host]
        elements += [{"uuid": r.uuid, "domain_name": read_plan(r.plan, uuid=r.uuid).domain_name, "op": "drop_copies",
                      "disks": local_disks(read_plan(m.old_plan, uuid=r.uuid))} for r, m in same_confirms]
        elements += [{"uuid": r.uuid, "domain_name": read_plan(r.plan, uuid=r.uuid).domain_name, "op": "power_off"}
                     for r, m in same_reverts]
        per = self._module(elements, task_vars, faults)
        # a cross-host confirm cleans the source's leftover; a cross-host revert the destination's copy
        cleaned = self._clean_leftovers(db_url, host, [r.uuid for r, m in confirming if m.dest_compute != host],
                                        task_vars)
        torn = self.clean([move.moved_copy(read_plan(r.plan, uuid=r.uuid)) for r, m in reverting
                           if m.source_compute != host], task_vars)
        outcomes: dict[str, dict[str, t.Any]] = {}
        with store.transaction(db_url, locked=True) as conn:
            for row, record in moving:
                fault = faults.get(row.uuid)
                if fault is None:
                    resize.step_to(conn, row, record, "resize_migrated", "post-migrating")
                    lifecycle.record_event(conn, row.uuid, resize.RESIZE.event, host, "Success",
                                           "forced off after the shutdown timeout"
                                           if (per.get(row.uuid) or {}).get("forced") else None, start)
                else:
                    resize.resize_rolled_back(conn, row, record, host, start, fault)
                outcomes[row.uuid] = {"ok": fault is None, **({"error": fault} if fault else {})}
            for row, record in confirming:
                fault = faults.get(row.uuid)
                if fault is None:  # a source that did not answer keeps its leftover for a later run
                    resize.confirmed(conn, row, record, host, start, cleaned.get(row.uuid))
                outcomes[row.uuid] = {"ok": fault is None, **({"error": fault} if fault else {})}
            for row, record in reverting:
                fault = faults.get(row.uuid)
                if fault is not None:
                    resize.resize_failed(conn, row, record, host, resize.REVERT.event, start, fault)
                    outcomes[row.uuid] = {"ok": False, "error": fault}
                    continue
                details = None
                if torn.get(row.uuid):  # the destination keeps a leftover, cleaned when it answers again
                    lifecycle.record_leftover(conn, host, row, "resize reverted: %s" % torn[row.uuid],
                                              keep_addresses=False,
                                              plan=move.moved_copy(read_plan(row.plan, uuid=row.uuid)))
                    details = "the destination's copy is left for a later clean-up: %s" % torn[row.uuid]
                resize.reverted_on_dest(conn, row, record, host, start, details)
                outcomes[row.uuid] = {"ok": True}
        return outcomes

    def _migrate_element(self, row: t.Any, record: t.Any, host: str, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """The module's entry for a source's resize_instance: where the disks go."""
        plan = read_plan(row.plan, uuid=row.uuid)
        element = {"uuid": row.uuid, "domain_name": plan.domain_name, "op": "migrate_disks",
                   "disks": local_disks(plan), "volumes": [{"name": name} for name in move.volume_names(plan)],
                   "restart_on_failure": record.old_vm_state == "active"}
        if record.dest_compute != host:
            dest = (task_vars.get("hostvars") or {}).get(record.dest_compute) or {}
            uri = self._templar.template(dest.get("stratus_migration_uri"))
            if not uri:
                raise StratusError("MigrationError", "host %s has no stratus_migration_uri: its libvirtd cannot be "
                                   "reached for the disks" % record.dest_compute, "stratus_migration_uri")
            element["dest_uri"] = hv.checked_uri(str(uri))
            element["dest_pool_path"] = self._templar.template(
                dest.get("stratus_instance_pool_path") or hv.DEFAULT_INSTANCE_POOL_PATH)
        return element

    def _module(self, elements: list[dict[str, t.Any]], task_vars: dict[str, t.Any],
                faults: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
        """The module once for every entry; each entry's failure is its server's fault."""
        args = {k: v for k, v in self._task.args.items() if k not in ("run_uuids", "db_url")}
        args.setdefault("uri", task_vars.get("stratus_libvirt_uri", "qemu:///system"))
        args.setdefault("instance_pool_path", task_vars.get("stratus_instance_pool_path")
                        or hv.DEFAULT_INSTANCE_POOL_PATH)
        for option, variable in HOST_OPTIONS.items():
            if variable in task_vars:
                args.setdefault(option, task_vars[variable])
        return self.call_entries(MODULE, args, elements, task_vars, faults, "MigrationError")

    def _clean_leftovers(self, db_url: t.Optional[str], host: str, uuids: list[str],
                         task_vars: dict[str, t.Any]) -> dict[str, str]:
        """The confirmed servers' leftovers on this host cleaned (compute_cleanup's walk); what is not cleaned stays
        for a later run. Returns each server's event details."""
        if not uuids:
            return {}
        with store.transaction(db_url) as conn:
            found = [left for left in lifecycle.leftovers_on_host(conn, host) if left.instance_uuid in uuids]
        errors = self.clean([read_plan(left.plan, uuid=left.instance_uuid) for left in found], task_vars)
        details = {}
        with store.transaction(db_url) as conn:
            for left in found:
                error = errors.get(left.instance_uuid)
                if error:
                    lifecycle.leftover_failed(conn, left.id, error)
                    details[left.instance_uuid] = "the source's copy is left for a later clean-up: %s" % error
                else:
                    lifecycle.clear_leftover(conn, left.id)
                    details[left.instance_uuid] = "the source's copy cleaned"
        return details
