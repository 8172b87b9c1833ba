# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NodeState: a bare-metal node as the scheduler sees it (Nova's IronicNodeState).

A node is a host with one unit of its resource class: whatever a request asks for, a pick takes
the whole node (``consume``), so a later instance of the same request, or a later request, never
gets it too. What the node filters (filters/baremetal.py) read beside the HostState fields:
its placement resource class, its traits, the maintenance flag (the inventory's or the store's),
its provision state and the instance that holds it.
"""
from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState

if t.TYPE_CHECKING:
    from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec

NODE_HYPERVISOR_TYPE = "ironic"  # what Nova's Ironic driver reports as a node's hypervisor_type


@dataclasses.dataclass(eq=False)
class NodeState(HostState):
    resource_class: str = ""  # the placement name: CUSTOM_...
    traits: t.List[str] = dataclasses.field(default_factory=list)
    maintenance: bool = False
    maintenance_reason: t.Optional[str] = None
    provision_state: str = "enroll"
    instance_uuid: t.Optional[str] = None  # the instance that holds the node
    driver: str = ""  # stratus_bm_driver
    boot_interface: t.Optional[str] = None  # how a deploy boots it (drivers.BOOT_INTERFACES); None: it cannot
    # True when an earlier instance of the request being scheduled took it (explain says so)
    taken_by_request: bool = False

    def consume(self, spec: "RequestSpec", instance_uuid: t.Optional[str] = None) -> None:
        """IronicNodeState's consume_from_request: all of the node, whatever the flavor says."""
        self.vcpus_used = self.vcpus
        self.memory_mb_used = self.memory_mb
        self.free_ram_mb = 0
        self.local_gb_used = self.local_gb
        self.free_disk_mb = 0
        self.num_instances += 1
        self.instance_uuid = instance_uuid or "pending"
        self.taken_by_request = True
        if instance_uuid:
            self.instances.append(instance_uuid)

    consume_from_request = consume
