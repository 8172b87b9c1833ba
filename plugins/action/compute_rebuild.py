# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rebuild step on one hypervisor (Nova's compute manager rebuild_instance, which evacuate runs on the
new host too), with the build's own hypervisor modules: the domain destroyed and undefined and the local
disks deleted (volumes and the DHCP entry kept), the network and DHCP entry ensured (made on an evacuate's
new host), then the block devices made again from the plan's image (task_state
rebuild_block_device_mapping: a new root disk and a new config drive), then the domain defined and
started (rebuild_spawning). A server that was stopped is powered off again. Each server ends ACTIVE (or
SHUTOFF) with the event compute_rebuild_instance, or in ERROR with the fault."""
from __future__ import annotations

import dataclasses
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import (
    ServerSteps, remember_disks, with_domain_options, with_pool_paths,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.server_actions import (
    ACTIONS, REBUILD_TASK_STATES,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

REBUILD = ACTIONS["rebuild"]
NETWORK = "stratus.compute.compute_network"
DOMAIN = "stratus.compute.compute_domain"
BLOCK_DEVICES = "stratus.compute.compute_block_devices"
LOCAL_KINDS = ("image", "blank")  # what a rebuild makes anew; volumes stay attached as they are


class ActionModule(ServerSteps):
    _VALID_ARGS = frozenset(("uri", "run_uuids", "db_url", "base_pool_path", "instance_pool_path", "domain_type",
                             "parallel"))

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        # ActionBase's run, not the build step's (this class borrows the build step's image uploads only)
        result = ActionBase.run(self, tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self.store_url(task_vars)
        try:
            self.launch_guard(task_vars)
            with store.transaction(db_url) as conn:
                rows = self._rows(conn, host)
            if not rows:
                result.update(changed=False, instances={}, msg="nothing to do on %s" % host)
                return result
            if self._task.check_mode:
                result.update(changed=True, instances={r.uuid: {"ok": True, "changed": True} for r in rows})
                return result
            start = lifecycle.now()
            faults = self._rebuild(db_url, rows, task_vars)
            self._record(db_url, host, rows, faults, start)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(changed=True, instances={r.uuid: {"ok": r.uuid not in faults, **(
            {"error": faults[r.uuid]} if r.uuid in faults else {})} for r in rows})
        if faults:
            result.update(failed=True, msg="rebuild failed for %d server(s) on %s" % (len(faults), host))
        return result

    def _rows(self, conn: t.Any, host: str) -> list[t.Any]:
        query = instances.select().where(instances.c.host == host, instances.c.deleted == "",
                                         instances.c.task_state.in_(REBUILD_TASK_STATES))
        uuids = self._task.args.get("run_uuids")
        if uuids is not None:
            query = query.where(instances.c.uuid.in_(uuids))
        return list(conn.execute(query.order_by(instances.c.name)))

    def _call(self, module: str, args: dict[str, t.Any], plans: list[BuildPlan], task_vars: dict[str, t.Any],
              faults: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
        return self.call_for(module, args, plans, task_vars, faults, "RebuildAbortException")

    def _step(self, db_url: t.Optional[str], plans: list[BuildPlan], faults: dict[str, t.Any], task_state: str) -> None:
        with store.transaction(db_url) as conn:
            lifecycle.set_task_state(conn, [p.uuid for p in plans if p.uuid not in faults], task_state)

    def _rebuild(self, db_url: t.Optional[str], rows: list[t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        uri = self._task.args.get("uri") or task_vars.get("stratus_libvirt_uri", "qemu:///system")
        pools = with_pool_paths({k: self._task.args[k] for k in ("base_pool_path", "instance_pool_path")
                                 if self._task.args.get(k)}, task_vars)
        plans = [read_plan(r.plan, uuid=r.uuid) for r in rows]
        faults: dict[str, dict[str, t.Any]] = {}
        # rebuilding: the old domain and local disks go (a rerun finds them gone: nothing to do)
        self._call(DOMAIN, {"uri": uri, "state": "absent"}, plans, task_vars, faults)
        local = [dataclasses.replace(p, block_devices=[d for d in p.block_devices if d.kind in LOCAL_KINDS])
                 for p in plans]
        self._call(BLOCK_DEVICES, dict(pools, uri=uri, state="absent"), local, task_vars, faults)
        # the server's network and DHCP entry: there already for a rebuild in place, made for an evacuate
        self._call(NETWORK, {"uri": uri, "state": "present"}, plans, task_vars, faults)
        self._step(db_url, plans, faults, "rebuild_block_device_mapping")
        per = self._call(BLOCK_DEVICES, dict(pools, uri=uri, state="present",
                                             image_checksums=self.image_checksums(plans)), plans, task_vars, faults)
        with store.transaction(db_url) as conn:
            for plan in plans:
                if plan.uuid not in faults and "disks" in (per.get(plan.uuid) or {}):
                    remember_disks(conn, plan.uuid, per[plan.uuid]["disks"])
            plans = [read_plan(conn.execute(instances.select().where(instances.c.uuid == p.uuid)).first().plan,
                               uuid=p.uuid) for p in plans]
        self._step(db_url, plans, faults, "rebuild_spawning")
        self._call(DOMAIN, with_domain_options({"uri": uri, "state": "present"}, task_vars), plans, task_vars, faults)
        # Nova keeps the power state: a server rebuilt while stopped is powered off again
        self.power_off_at_once(uri, [p for p, r in zip(plans, rows) if r.vm_state == "stopped"], task_vars, faults)
        return faults

    @staticmethod
    def _record(db_url: t.Optional[str], host: str, rows: list[t.Any], faults: dict[str, t.Any], start: t.Any) -> None:
        with store.transaction(db_url, locked=True) as conn:
            for row in rows:
                fresh = conn.execute(instances.select().where(instances.c.uuid == row.uuid)).first()
                if fresh is None or fresh.deleted or fresh.task_state not in REBUILD_TASK_STATES:
                    continue
                if row.uuid in faults:
                    server_actions.power_failed(conn, fresh, host, start, faults[row.uuid], action=REBUILD)
                else:
                    server_actions.power_done(conn, fresh, host, start, None, action=REBUILD,
                                              end=("stopped", "shutdown") if row.vm_state == "stopped" else None)
