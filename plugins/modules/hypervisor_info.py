#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_info
short_description: Capacity and usage of each hypervisor
version_added: 0.1.0
description:
  - Reads, for each host of the C(hypervisors) inventory group, its capacity from the inventory
    (C(stratus_vcpus), C(stratus_memory_mb), C(stratus_local_gb), the allocation ratios and the
    reserved amounts) and its usage from the resource claims in the state store, as the scheduler
    sees them (an action plugin; runs on the controller; nothing is contacted).
  - The shape is Nova's C(GET /os-hypervisors/detail), plus the allocation ratios and the
    I(capacity) that the scheduler's filters allow, (total - reserved) * ratio.
  - Admin only by default, as in Nova, by the policy rule C(os_compute_api:os-hypervisors:list-detail)
    (default C(rule:context_is_admin)), which C(stratus_policy) may override.
options:
  hosts:
    description: Only these hypervisors (inventory host names of the C(hypervisors) group).
    type: list
    elements: str
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
  - stratus.compute.attributes.read
seealso:
  - module: stratus.compute.server_info
  - module: stratus.compute.quota_info
"""

EXAMPLES = r"""
- name: Capacity and usage of every hypervisor
  stratus.compute.hypervisor_info:
  vars:
    # the operator's playbook names an admin caller (never a launcher's extra var)
    stratus_context: {user_id: root, project_id: ops, roles: [admin]}
  register: hv

- name: Free vCPUs per host
  ansible.builtin.debug:
    msg: "{{ item.hypervisor_hostname }}: {{ item.capacity.vcpus - item.vcpus_used }} vCPUs free"
  loop: "{{ hv.hypervisors }}"
"""

RETURN = r"""
hypervisors:
  description: One entry per hypervisor, in inventory order.
  returned: success
  type: list
  elements: dict
  contains:
    hypervisor_hostname:
      description: The inventory host name.
      type: str
      sample: hv1
    state:
      description: C(up) (the store does not track liveness yet).
      type: str
    status:
      description:
        - C(enabled), or C(disabled) when the host has C(stratus_disabled=true) or the operator disabled it
          (M(stratus.compute.hypervisor_service), C(stratus hypervisor disable)); C(service.disabled_reason) says why.
      type: str
    availability_zone:
      description: The host's C(stratus_availability_zone) (default C(nova)).
      type: str
    vcpus:
      description: Physical vCPUs of the host (C(stratus_vcpus)).
      type: int
    vcpus_used:
      description: vCPUs claimed by servers on the host.
      type: int
    memory_mb:
      description: Memory of the host in MiB.
      type: int
    memory_mb_used:
      description: Memory claimed by servers, in MiB.
      type: int
    local_gb:
      description: Local disk of the host in GiB.
      type: int
    local_gb_used:
      description: Disk claimed by servers (root, ephemeral and swap), in GiB.
      type: int
    free_ram_mb:
      description: memory_mb - reserved - used, as Nova reports it (negative when overcommitted).
      type: int
    free_disk_gb:
      description: local_gb - used - reserved, in GiB.
      type: int
    running_vms:
      description: How many servers hold a claim on the host.
      type: int
    cpu_allocation_ratio:
      description: The host's CPU allocation ratio.
      type: float
    ram_allocation_ratio:
      description: The host's RAM allocation ratio.
      type: float
    disk_allocation_ratio:
      description: The host's disk allocation ratio.
      type: float
    capacity:
      description: What the scheduler may place on the host, C((total - reserved) * ratio), per resource.
      type: dict
      sample: {vcpus: 32, memory_mb: 12288, disk_gb: 40}
error:
  description: On failure, C(code) (for example C(PolicyNotAuthorized)), C(message) and C(field).
  returned: failure
  type: dict
"""
