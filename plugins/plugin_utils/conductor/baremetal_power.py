# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power step of bare-metal servers (day 2): stop, start and reboot through each node's BMC, on
the controller where the BMCs are reachable, as Nova's Ironic driver does them.

server_action recorded the action (task_state, instance action) as for any server; this takes the
run's bare-metal servers in a power task_state, runs each one's step on its node's driver
(module_utils/baremetal/power.py; a node per server, so they run side by side, up to ``parallel``),
and ends each as soon as its step is done with the hypervisor step's own end
(``server_actions.record_power``: power_done / power_failed, the same events and details). No
transaction is held while a BMC answers. The node's row follows its power state.
"""
from __future__ import annotations

import concurrent.futures
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import power
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import POWER_OFF, POWER_ON, BMCDriver
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.server_actions import POWER_TASK_STATES
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.nodes import bmc_driver
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_nodes

DriverFactory = t.Callable[[BaremetalNode], BMCDriver]


class NodePower:
    """The power step of the bare-metal servers whose nodes this controller reaches."""

    def __init__(self, nodes: t.Sequence[BaremetalNode], db_url: t.Optional[str],
                 waiting: t.Callable[[BaremetalNode], power.PowerWaiting], parallel: int = 4,
                 driver_factory: DriverFactory = bmc_driver) -> None:
        self.nodes = {node.name: node for node in nodes}
        self.db_url = db_url
        self.waiting = waiting  # per node: its shutdown timeout may be its own
        self.parallel = max(1, parallel)
        self.driver_factory = driver_factory
        self.instances: dict[str, dict[str, t.Any]] = {}

    def pending(self, run_uuids: t.Optional[list[str]]) -> list[t.Any]:
        """This controller's bare-metal servers with a power action in progress (of this run when given)."""
        if not self.nodes:
            return []
        with store.transaction(self.db_url) as conn:
            return server_actions.powering_on_hosts(conn, list(self.nodes), run_uuids)

    def run(self, run_uuids: t.Optional[list[str]]) -> list[str]:
        """Each server's step, each ended as it is done; returns the uuids that failed."""
        rows = self.pending(run_uuids)
        failed: list[str] = []
        if not rows:
            return failed
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.parallel, len(rows))) as pool:
            started = {pool.submit(self._step, row): (row, lifecycle.now()) for row in rows}
            for future in concurrent.futures.as_completed(started):
                row, start = started[future]
                outcome = dict(future.result(), node=row.host)
                self.instances[row.uuid] = outcome
                failed += self._end(row, outcome, start)
        return failed

    def _step(self, row: t.Any) -> dict[str, t.Any]:
        node = self.nodes[row.host]
        try:
            driver = self.driver_factory(node)
        except StratusError as exc:
            return {"ok": False, "changed": False, "error": exc.to_dict()}
        return power.run_step(POWER_TASK_STATES[row.task_state].step, driver, self.waiting(node))

    def _end(self, row: t.Any, outcome: dict[str, t.Any], start: t.Any) -> list[str]:
        failed = server_actions.record_power(self.db_url, row.host, [row], {row.uuid: outcome}, start)
        if outcome.get("ok"):
            with store.transaction(self.db_url) as conn:
                conn.execute(baremetal_nodes.update().where(baremetal_nodes.c.name == row.host).values(
                    power_state=POWER_OFF if outcome.get("power_state") == POWER_OFF else POWER_ON,
                    updated_at=lifecycle.now()))
        return failed
