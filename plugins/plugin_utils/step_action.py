# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller half of a hypervisor step: plans in from the store, results back into it.

Each step's action plugin runs on the controller for one hypervisor: it reads
the plans of the instances placed there, moves them to the step's task_state,
runs the module on the host once for all of them, and records one action-log
event per instance. An instance that fails a step ends in ERROR with a fault
(claims and IPs released); its siblings on the same host go on.
"""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


class StepAction(ActionBase):
    STEP = ""
    MODULE = ""
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("uri", "state", "run_uuids", "db_url", "base_pool_path", "instance_pool_path",
                             "domain_type", "timeout"))

    def module_args(self, plans: list[dict[str, t.Any]], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        args = {k: v for k, v in self._task.args.items() if k not in ("run_uuids", "db_url")}
        args.setdefault("uri", task_vars.get("stratus_libvirt_uri", "qemu:///system"))
        args["instances"] = plans
        return args

    def after_module(self, conn: t.Any, host: str, uuid: str, outcome: dict[str, t.Any]) -> None:
        """Hook for steps that keep something of the outcome (disk paths) or finish the walk."""

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self._task.args.get("db_url") or task_vars.get("stratus_db_url")
        run_uuids = self._task.args.get("run_uuids")
        state = self._task.args.get("state", "present")
        try:
            with store.transaction(db_url) as conn:
                rows = lifecycle.instances_on_host(conn, host, run_uuids, deleting=state == "absent")
                building = [r.uuid for r in rows if r.vm_state == "building"]
                if state == "present":
                    lifecycle.set_task_state(conn, building, lifecycle.STEP_TASK_STATES[self.STEP])
            if not rows:
                result.update(changed=False, instances={}, msg="nothing to do on %s" % host)
                return result
            plans = [dict(r.plan, vm_state=r.vm_state) for r in rows]
            start = lifecycle.now()
            try:
                module_args = self.module_args(plans, task_vars)
                module_result = self._execute_module(self.MODULE, module_args=module_args, task_vars=task_vars)
            except AnsibleConnectionFailure as exc:
                module_result = {"unreachable": True, "msg": str(exc)}
            except StratusError as exc:
                # Refused before reaching the host (a missing image file): every instance gets the fault.
                module_result = error_result(exc)
            self._record(db_url, host, rows, module_result, start)
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(module_result)
        return result

    def _record(self, db_url: t.Optional[str], host: str, rows: list[t.Any],
                module_result: dict[str, t.Any], start: t.Any) -> None:
        per_instance = module_result.get("instances") or {}
        host_error = None
        if module_result.get("unreachable"):
            host_error = {"code": "BuildAbortException", "message": "host %s unreachable: %s"
                          % (host, module_result.get("msg", "")), "host": host}
        elif module_result.get("failed"):
            err = module_result.get("error") or {"code": "BuildAbortException", "message": module_result.get("msg")}
            host_error = dict(err, host=host)
        deleting = self._task.args.get("state", "present") == "absent"
        event = (lifecycle.DELETE_EVENTS if deleting else lifecycle.STEP_EVENTS)[self.STEP]
        with store.transaction(db_url) as conn:
            for row in rows:
                outcome = per_instance.get(row.uuid)
                if host_error is not None or outcome is None or not outcome.get("ok"):
                    fault = host_error or dict((outcome or {}).get("error") or
                                               {"code": "BuildAbortException", "message": "no result"}, host=host)
                    lifecycle.record_event(conn, row.uuid, event, host, "Error", fault.get("message"), start)
                    if deleting:
                        lifecycle.mark_delete_failed(conn, row.uuid, fault)
                    elif row.vm_state == "building":
                        lifecycle.mark_error(conn, row.uuid, fault)
                    continue
                if row.vm_state == "building" or deleting:
                    lifecycle.record_event(conn, row.uuid, event, host, "Success", None, start)
                self.after_module(conn, host, row.uuid, outcome)
