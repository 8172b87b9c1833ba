# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power step of a server action for bare-metal servers (conductor/baremetal_power.py): the BMC
calls run here, on the controller, where the BMCs are reachable; the BMC password comes from each
node's host variables."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.deploy import POWER_TIMEOUT_S
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.power import PowerWaiting
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.baremetal_power import NodePower

# Nova's [DEFAULT] shutdown_timeout (the hypervisors' variable too); a node's own host variable wins.
TIMEOUT_VAR = "stratus_shutdown_timeout"
PARALLEL_VAR = "stratus_power_parallel"
DEFAULTS = {TIMEOUT_VAR: 60, PARALLEL_VAR: 4}


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "run_uuids": {"type": "list", "elements": "str"},
        "timeout": {"type": "int"},
        "parallel": {"type": "int"},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        nodes = self.baremetal_nodes(task_vars)
        if not nodes:
            return {"changed": False, "instances": {}, "msg": "no bare-metal nodes"}
        timeout = self._count(args.get("timeout"), task_vars, TIMEOUT_VAR, "timeout")
        parallel = self._count(args.get("parallel"), task_vars, PARALLEL_VAR, "parallel")
        node_vars = task_vars.get("hostvars") or {}

        def waiting(node: BaremetalNode) -> PowerWaiting:
            """The task's timeout, else the node's variable (its own, or its groups'), else the controller's."""
            own = (node_vars.get(node.name) or {}).get(TIMEOUT_VAR)
            seconds = timeout if own is None or args.get("timeout") is not None else self._count(
                None, {TIMEOUT_VAR: own}, TIMEOUT_VAR, "hostvars[%s].%s" % (node.name, TIMEOUT_VAR))
            return PowerWaiting(shutdown_timeout=seconds, power_timeout=POWER_TIMEOUT_S)

        if self._task.check_mode:
            return {"changed": False, "instances": {}, "msg": "check mode: no node is touched"}
        step = NodePower(nodes, self.store_url(task_vars), waiting, max(1, parallel))
        failed = step.run(args.get("run_uuids"))
        out: dict[str, t.Any] = {"changed": any(o.get("changed") for o in step.instances.values()),
                                 "instances": step.instances}
        if failed:
            out.update(failed_uuids=failed, msg="power action failed for %d bare-metal server(s)" % len(failed))
        return out

    def _count(self, given: t.Any, task_vars: t.Mapping[str, t.Any], variable: str, field: str) -> int:
        """The option, else the variable (templated), else Nova's default; a whole number of 0 or more."""
        value = given if given is not None else self._templar.template(task_vars.get(variable, DEFAULTS[variable]))
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = -1
        if number < 0 or str(value).strip() != str(number):
            raise StratusError("InvalidRequest", "%s must be a whole number of 0 or more, not %r" % (field, value), field)
        return number
