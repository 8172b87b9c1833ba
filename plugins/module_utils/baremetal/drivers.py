# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry of BMC drivers: stratus_bm_driver -> its class. A vendor driver is one module
beside these and one entry here (and in schemas/baremetal_node.json's enum, which
tests/unit/test_baremetal_nodes.py keeps equal to this)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import BMCAccess, BMCDriver
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.ipmi import IPMIDriver
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.redfish import RedfishDriver
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

DRIVERS: t.Dict[str, t.Type[BMCDriver]] = {
    RedfishDriver.name: RedfishDriver,
    IPMIDriver.name: IPMIDriver,
}


def driver_for(driver: str, access: BMCAccess) -> BMCDriver:
    """The driver named driver for the node of access; an unknown name is InvalidCatalog."""
    cls = DRIVERS.get(driver)
    if cls is None:
        raise StratusError("InvalidCatalog", "hostvars[%s].stratus_bm_driver: unknown driver %r (known: %s)"
                           % (access.node, driver, ", ".join(sorted(DRIVERS))), access.field("stratus_bm_driver"))
    return cls(access)


# Ironic's boot interface of each driver for a deploy: how a node boots its deploy (Redfish: the
# deploy medium as virtual CD; IPMI has no virtual media: by PXE from the node network's TFTP root,
# docs/baremetal.md). A driver without one is never scheduled for a deploy.
BOOT_INTERFACES: t.Dict[str, str] = {RedfishDriver.name: "redfish-virtual-media", IPMIDriver.name: "pxe"}


def boot_interface(driver: str) -> t.Optional[str]:
    """The deploy boot interface of a driver, None when it has none yet."""
    return BOOT_INTERFACES.get(driver)
