# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The second half of the resize and cold-migration steps on one hypervisor (Nova's compute manager):

- as a destination, finish_resize: task_state resize_finish; the copied root disk backs onto this host's base
  image (uploaded when missing) and grows to the new flavor's size; the network and DHCP entry, a new config
  drive, the domain defined with the new flavor and started (powered off again when the server was stopped);
  then VERIFY_RESIZE on this host; a failure here removes this host's copy (its volume copies too) and leaves the
  server in ERROR back on its source (a same-host resize: ERROR here);
- as a source, finish_revert_resize: a same-host resize's `.resize` clones back in place; the old domain
  (old flavor, old disks) started unless the server was stopped; ACTIVE or SHUTOFF as it was.

See plugins/modules/compute_finish_resize.py."""
from __future__ import annotations

import os
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import (
    ServerSteps, remember_disks, with_domain_options, with_pool_paths,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, resize
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

MODULE = "stratus.compute.compute_finish_resize"
NETWORK = "stratus.compute.compute_network"
DOMAIN = "stratus.compute.compute_domain"
BLOCK_DEVICES = "stratus.compute.compute_block_devices"


class ActionModule(ServerSteps):
    _VALID_ARGS = frozenset(("uri", "run_uuids", "db_url", "base_pool_path", "instance_pool_path", "domain_type",
                             "parallel"))

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        # ActionBase's run, not the build step's (this class borrows the build step's image uploads only)
        result = ActionBase.run(self, tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self.store_url(task_vars)
        uuids = self._task.args.get("run_uuids")
        try:
            self.launch_guard(task_vars)
            with store.transaction(db_url) as conn:
                finishing = [(r, m) for r, m in resize.moving_on_host(conn, host, ("post-migrating",), "dest", uuids)
                             if r.task_state in ("resize_migrated", "resize_finish")]
                returning = [(r, m) for r, m in resize.moving_on_host(conn, host, ("reverted",), "source", uuids)
                             if r.task_state == resize.REVERT.task_state and r.host == host]
            if not (finishing or returning):
                result.update(changed=False, instances={}, msg="nothing to do on %s" % host)
                return result
            if self._task.check_mode:
                result.update(changed=True, instances={
                    r.uuid: {"ok": True, "changed": True} for r, _m in finishing + returning})
                return result
            start = lifecycle.now()
            faults: dict[str, dict[str, t.Any]] = {}
            self._finish(db_url, finishing, task_vars, faults)
            self._return(returning, task_vars, faults)
            torn = self._tear_down_failed(db_url, finishing, task_vars, faults)
            self._end(db_url, host, finishing, returning, faults, start, torn)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(changed=True, instances={r.uuid: {"ok": r.uuid not in faults, **(
            {"error": faults[r.uuid]} if r.uuid in faults else {})} for r, _m in finishing + returning})
        if faults:
            result.update(failed=True, msg="%d server(s) failed on %s" % (len(faults), host))
        return result

    def _options(self, task_vars: dict[str, t.Any]) -> tuple[str, dict[str, t.Any]]:
        uri = self._task.args.get("uri") or task_vars.get("stratus_libvirt_uri", "qemu:///system")
        pools = with_pool_paths({k: self._task.args[k] for k in ("base_pool_path", "instance_pool_path")
                                 if self._task.args.get(k)}, task_vars)
        return uri, pools

    def _module(self, uri: str, pools: dict[str, t.Any], entries: list[dict[str, t.Any]],
                task_vars: dict[str, t.Any], faults: dict[str, dict[str, t.Any]]) -> None:
        """This step's own module (the disks' rebase and growth, or a same-host revert's restore)."""
        args: dict[str, t.Any] = {"uri": uri}
        if pools.get("instance_pool_path"):
            args["instance_pool_path"] = pools["instance_pool_path"]
        self.call_entries(MODULE, args, entries, task_vars, faults, "MigrationError")

    def _finish(self, db_url: t.Optional[str], finishing: list, task_vars: dict[str, t.Any],
                faults: dict[str, dict[str, t.Any]]) -> None:
        """Nova's finish_resize on this host, for the servers whose disks arrived."""
        if not finishing:
            return
        with store.transaction(db_url, locked=True) as conn:
            for row, record in finishing:
                resize.step_to(conn, row, record, "resize_finish", "post-migrating")
        uri, pools = self._options(task_vars)
        plans = [read_plan(r.plan, uuid=r.uuid) for r, _m in finishing]
        base = str(pools["base_pool_path"])

        def roots(grow: bool) -> list[dict[str, t.Any]]:
            return [{"uuid": p.uuid, "op": "finish", "disks": [
                {"name": d.name, "size_bytes": d.size_bytes if grow else 0,
                 "base_path": os.path.join(base, d.image_id or ""), "base_format": d.base_format or "qcow2"}
                for d in p.block_devices if d.kind == "image"]} for p in plans]
        # the overlay backs onto this host's base image first (qemu-img rebase -u needs no base file), so that
        # the block device step finds it as its own; it grows once the base is there (qemu-img opens the chain)
        self._module(uri, pools, roots(False), task_vars, faults)
        self.call_for(NETWORK, {"uri": uri, "state": "present"}, plans, task_vars, faults, "MigrationError")
        per = self.call_for(BLOCK_DEVICES, dict(pools, uri=uri, state="present",
                                                image_checksums=self.image_checksums(plans)),
                            plans, task_vars, faults, "MigrationError")
        self._module(uri, pools, roots(True), task_vars, faults)
        with store.transaction(db_url) as conn:
            for plan in plans:
                if plan.uuid not in faults and "disks" in (per.get(plan.uuid) or {}):
                    remember_disks(conn, plan.uuid, per[plan.uuid]["disks"])
            plans = [read_plan(conn.execute(instances.select().where(instances.c.uuid == p.uuid)).first().plan,
                               uuid=p.uuid) for p in plans]
        self.call_for(DOMAIN, with_domain_options({"uri": uri, "state": "present"}, task_vars), plans, task_vars,
                      faults, "MigrationError")
        self.power_off_at_once(uri, [p for p, (_r, m) in zip(plans, finishing) if m.old_vm_state == "stopped"],
                               task_vars, faults)

    def _return(self, returning: list, task_vars: dict[str, t.Any], faults: dict[str, dict[str, t.Any]]) -> None:
        """Nova's finish_revert_resize on this host (the source): the old server back."""
        if not returning:
            return
        uri, pools = self._options(task_vars)
        same = [(r, m) for r, m in returning if m.dest_compute == m.source_compute]
        self._module(uri, pools, [{"uuid": r.uuid, "op": "restore", "disks": [
            {"name": d.name} for d in read_plan(r.plan, uuid=r.uuid).block_devices if d.kind in resize.LOCAL_KINDS]}
            for r, _m in same], task_vars, faults)
        plans = [read_plan(r.plan, uuid=r.uuid) for r, _m in returning]
        self.call_for(NETWORK, {"uri": uri, "state": "present"}, plans, task_vars, faults, "MigrationError")
        self.call_for(DOMAIN, with_domain_options({"uri": uri, "state": "present"}, task_vars), plans, task_vars,
                      faults, "MigrationError")
        self.power_off_at_once(uri, [p for p, (_r, m) in zip(plans, returning) if m.old_vm_state == "stopped"],
                               task_vars, faults)

    def _tear_down_failed(self, db_url: t.Optional[str], finishing: list, task_vars: dict[str, t.Any],
                          faults: dict[str, dict[str, t.Any]]) -> dict[str, t.Optional[str]]:
        """The copies of the cross-host moves that failed here removed (domain, disks, volume copies, DHCP entry),
        as a revert removes them: the source holds the server's own. Returns why each one could not be."""
        copies = []
        with store.transaction(db_url) as conn:
            for row, record in finishing:
                if row.uuid not in faults:
                    continue
                fresh = conn.execute(instances.select().where(instances.c.uuid == row.uuid)).first()
                copy = resize.failed_destination_copy(record, read_plan(fresh.plan, uuid=row.uuid))
                if copy is not None:
                    copies.append(copy)
        return self.clean(copies, task_vars) if copies else {}

    @staticmethod
    def _end(db_url: t.Optional[str], host: str, finishing: list, returning: list,
             faults: dict[str, dict[str, t.Any]], start: t.Any, torn: dict[str, t.Optional[str]]) -> None:
        with store.transaction(db_url, locked=True) as conn:
            for row, record in finishing:
                if row.uuid in torn:  # a cross-host move: back on the source
                    fresh = conn.execute(instances.select().where(instances.c.uuid == row.uuid)).first()
                    resize.finish_failed(conn, fresh, record, host, start, faults[row.uuid], torn[row.uuid])
                elif row.uuid in faults:
                    resize.resize_failed(conn, row, record, host, "compute_finish_resize", start, faults[row.uuid])
                else:
                    resize.resize_finished(conn, row, record, host, start)
            for row, record in returning:
                if row.uuid in faults:
                    resize.resize_failed(conn, row, record, host, "compute_finish_revert_resize", start,
                                         faults[row.uuid])
                else:
                    resize.revert_finished(conn, row, record, host, start)
