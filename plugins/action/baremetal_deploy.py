# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare-metal deploy of a provision run: clean released nodes, deploy this run's bare-metal
builds (conductor/deploy.py). The BMC calls run here, on the controller, where the BMCs are
reachable (as the node lifecycle's); the BMC password comes from each node's host variables."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.deploy import DeploySite
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.read import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.deploy import Deployer

# The controller's variables that say where the deploy's media, node-network DHCP and TFTP root live.
SITE_VARS = ("stratus_baremetal_media_dir", "stratus_baremetal_media_url", "stratus_baremetal_host_root",
             "stratus_baremetal_tftp_root")


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "run_uuids": {"type": "list", "elements": "str"},
        "max_attempts": {"type": "int", "default": 3},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        nodes = self.baremetal_nodes(task_vars)
        if not nodes:
            return {"changed": False, "instances": {}, "cleaned": {}, "msg": "no bare-metal nodes"}
        site_vars = {name: self._templar.template(task_vars.get(name)) for name in SITE_VARS}
        site = DeploySite.checked(site_vars["stratus_baremetal_media_dir"], site_vars["stratus_baremetal_media_url"],
                                  site_vars["stratus_baremetal_host_root"] or "/", site_vars["stratus_baremetal_tftp_root"])
        if self._task.check_mode:
            return {"changed": False, "instances": {}, "cleaned": {}, "msg": "check mode: no node is touched"}
        deployer = Deployer(nodes, site, self.store_url(task_vars))
        deployer.clean_nodes()
        deployer.deploy(args.get("run_uuids"), int(args["max_attempts"]))
        return {"changed": deployer.changed, "instances": deployer.instances, "cleaned": deployer.cleaned}
