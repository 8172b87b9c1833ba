# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller half of the power step: this hypervisor's servers with a power action in progress
(their task_state, set by server_action) in from the store, the module once for all of them on the
host, each one's end (Nova's compute manager: stop_instance, start_instance, reboot_instance) back."""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.base import StratusAction
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.server_actions import POWER_TASK_STATES
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

MODULE = "stratus.compute.compute_power"
# The host's variables for Nova's [DEFAULT] shutdown_timeout and shutdown_retry_interval.
HOST_OPTIONS = {"timeout": "stratus_shutdown_timeout", "retry_interval": "stratus_shutdown_retry_interval",
                "parallel": "stratus_power_parallel"}


class ActionModule(StratusAction):
    _VALID_ARGS = frozenset(("uri", "run_uuids", "db_url", "timeout", "retry_interval", "parallel"))

    def module_args(self, rows: list[t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        args = {k: v for k, v in self._task.args.items() if k not in ("run_uuids", "db_url")}
        args.setdefault("uri", task_vars.get("stratus_libvirt_uri", "qemu:///system"))
        for option, variable in HOST_OPTIONS.items():
            if variable in task_vars:
                args.setdefault(option, task_vars[variable])
        args["instances"] = [{"uuid": r.uuid, "domain_name": read_plan(r.plan, uuid=r.uuid).domain_name,
                              "action": POWER_TASK_STATES[r.task_state].step} for r in rows]
        return args

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self.store_url(task_vars)
        try:
            self.launch_guard(task_vars)
            with store.transaction(db_url) as conn:
                rows = server_actions.powering_on_host(conn, host, self._task.args.get("run_uuids"))
            if not rows:
                result.update(changed=False, instances={}, msg="nothing to do on %s" % host)
                return result
            start = lifecycle.now()
            try:
                module_result = self._execute_module(MODULE, module_args=self.module_args(rows, task_vars),
                                                     task_vars=task_vars)
            except AnsibleConnectionFailure as exc:
                module_result = {"unreachable": True, "msg": str(exc)}
            module_result.pop("invocation", None)
            if not self._task.check_mode:
                failed = self._record(db_url, host, rows, module_result, start)
                if failed:
                    module_result = dict(module_result, failed=True, failed_uuids=failed,
                                         msg="power action failed for %d server(s) on %s" % (len(failed), host))
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        module_result.pop("unreachable", None)  # recorded per server; the play goes on for the report
        result.update(module_result)
        return result

    @staticmethod
    def _record(db_url: t.Optional[str], host: str, rows: list[t.Any], module_result: dict[str, t.Any],
                start: t.Any) -> list[str]:
        """Each server's end (conductor/server_actions.record_power); returns the uuids that failed."""
        per_instance = module_result.get("instances") or {}
        host_error = None
        if module_result.get("unreachable"):
            host_error = {"code": "HypervisorUnavailable", "message": "host %s unreachable: %s"
                          % (host, module_result.get("msg", ""))}
        elif module_result.get("failed") and not per_instance:
            host_error = dict(module_result.get("error") or {"code": "InternalError",
                                                             "message": module_result.get("msg")})
        return server_actions.record_power(db_url, host, rows, per_instance, start, host_error)
