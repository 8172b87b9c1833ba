#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: baremetal_node_info
short_description: Bare-metal nodes and their provision states
version_added: 0.1.0
description:
  - Lists the bare-metal nodes (the hosts of the C(baremetal_nodes) inventory group), or shows one,
    as Ironic does - what the inventory says a node is (driver, BMC address, resource class,
    properties, NICs) and where the state store says it is (provision state, power state,
    maintenance, last error, what inspection found) - an action plugin that runs on the
    controller; no BMC is contacted.
  - A node the store has no row for yet is shown in C(enroll); a row whose node left the inventory
    is shown too, with C(in_inventory=false). The BMC credentials are never returned.
  - Admin only by default, by the policy rules C(baremetal:node:list) and C(baremetal:node:get)
    (default C(rule:context_is_admin)), which C(stratus_policy) may override.
options:
  name:
    description: Show this node only; C(NodeNotFound) when neither the inventory nor the store has it.
    type: str
  events:
    description: Add each node's event log (every move, who asked, how it ended), oldest first.
    type: bool
    default: false
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
  - stratus.compute.attributes.read
seealso:
  - module: stratus.compute.baremetal_node
"""

EXAMPLES = r"""
- name: Every node
  stratus.compute.baremetal_node_info:
  vars:
    stratus_context: {user_id: root, project_id: ops, roles: [admin]}
  register: bm

- name: One node with its event log
  stratus.compute.baremetal_node_info:
    name: node-1
    events: true
  register: node1
"""

RETURN = r"""
nodes:
  description:
    - One entry per node, Ironic's fields - C(name), C(provision_state), C(target_provision_state),
      C(power_state), C(maintenance) (the inventory's or the store's flag), C(maintenance_reason),
      C(maintenance_set_by) (C(inventory), C(store)), C(last_error), C(instance_uuid), C(inspected)
      (what the BMC reported and its C(differences) from the inventory), C(created_at),
      C(updated_at), C(provision_updated_at), C(in_inventory), C(recorded) (whether the store has a row);
      and from the inventory C(driver), C(bmc_address), C(resource_class),
      C(placement_resource_class), C(properties), C(traits), C(availability_zone), C(nics).
    - With I(events), C(events) - C(event), C(from_state), C(to_state), C(result) (C(start),
      C(success), C(error)), C(message), C(user_id), C(project_id), C(request_id), C(time).
  returned: success
  type: list
  elements: dict
  sample:
    - name: node-1
      driver: redfish
      provision_state: available
      power_state: power off
      maintenance: false
      last_error: null
error:
  description: On failure, C(code) (for example C(PolicyNotAuthorized), C(NodeNotFound)), C(message) and C(field).
  returned: failure
  type: dict
"""
