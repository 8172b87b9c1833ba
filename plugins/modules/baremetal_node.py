#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: baremetal_node
short_description: Move a bare-metal node through Ironic's provision states, or in and out of maintenance
version_added: 0.1.0
description:
  - Moves one node of the C(baremetal_nodes) inventory group as Ironic's C(baremetal node manage),
    C(inspect), C(provide) and C(maintenance set/unset) do, keeping its provision state and event
    log in the state store (an action plugin; the BMC calls run on the controller, where the task
    runs; the BMC credentials are the node's C(stratus_bm_username) and C(stratus_bm_password),
    from Ansible Vault or an AWX credential, and never appear in a result, message or the store).
  - C(manage) (from C(enroll), C(available), C(inspect failed), C(clean failed)) verifies the BMC -
    reachable, credentials right, power state readable - through C(verifying) to C(manageable);
    a BMC fault leaves the node in C(enroll) with C(last_error). From C(available) it is a plain
    move, no BMC call.
  - C(inspect) (from C(manageable), C(inspect failed)) reads CPUs, memory and NIC MACs from the BMC
    through C(inspecting) back to C(manageable), records them with where they differ from the
    inventory (reported, not a failure); a BMC fault ends in C(inspect failed).
  - C(provide) (from C(manageable)) cleans the node through C(cleaning) to C(available) - powered off
    at once and confirmed off, its virtual media ejected; a BMC fault ends in C(clean failed). A node
    in maintenance is refused (C(NodeInMaintenance)).
  - A verb Ironic does not allow in the node's state is C(InvalidStateRequested) and changes nothing;
    a verb asked of a node already where it leads changes nothing. A run killed half-way leaves the
    node in the transient state; the same verb again finishes it.
  - With both I(maintenance) and I(provision_action), maintenance is set first.
  - Admin only by default, by the policy rules C(baremetal:node:set_provision_state),
    C(baremetal:node:set_maintenance) and C(baremetal:node:clear_maintenance).
options:
  name:
    description: The node, a host of the C(baremetal_nodes) group; C(NodeNotFound) otherwise.
    type: str
    required: true
  provision_action:
    description: Ironic's verb.
    type: str
    choices: [manage, inspect, provide]
  maintenance:
    description:
      - C(true) puts the node in maintenance with I(reason) (the store's flag); C(false) clears the
        store's flag only - a node whose inventory says C(stratus_bm_maintenance) stays in maintenance.
    type: bool
  reason:
    description: Why the node is in maintenance; required with I(maintenance=true), one line of 1 to 255 printable characters.
    type: str
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
attributes:
  check_mode:
    support: full
    details: Says what the move would do (C(changed), C(moves)); nothing is recorded, no BMC is contacted.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.baremetal_node_info
"""

EXAMPLES = r"""
- name: Verify, inspect and clean a new node
  stratus.compute.baremetal_node:
    name: node-1
    provision_action: "{{ item }}"
  loop: [manage, inspect, provide]
  vars:
    stratus_context: {user_id: root, project_id: ops, roles: [admin]}

- name: Take a node out of service
  stratus.compute.baremetal_node:
    name: node-2
    maintenance: true
    reason: replacing a DIMM
"""

RETURN = r"""
node:
  description: The node after the moves, as M(stratus.compute.baremetal_node_info) shows it.
  returned: always, unless refused
  type: dict
moves:
  description:
    - What was done (in check mode, what would be), in order - C(action) (C(maintenance on),
      C(maintenance off), C(manage), C(inspect), C(provide)), C(changed), C(from_state), C(to_state) and
      C(message) (the BMC's fault when it failed).
  returned: always, unless refused
  type: list
  elements: dict
request_id:
  description: The id the event log records.
  returned: always, unless refused
  type: str
enrolled:
  description: Nodes of the inventory this run recorded for the first time (in C(enroll)).
  returned: always, unless refused
  type: list
  elements: str
departed:
  description: Nodes the store has a row for that are no longer in the inventory (kept, not deleted).
  returned: always, unless refused
  type: list
  elements: str
error:
  description:
    - On failure, C(code), C(message) and C(field) - a refusal (C(NodeNotFound), C(InvalidStateRequested),
      C(NodeInMaintenance), C(PolicyNotAuthorized), C(InvalidRequest)) that changed nothing, or the BMC's
      fault (C(BMCUnreachable), C(BMCAuthFailed), C(BMCError), C(BMCUnsupported)) recorded as the node's
      C(last_error).
  returned: failure
  type: dict
"""
