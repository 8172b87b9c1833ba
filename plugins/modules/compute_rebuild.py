#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_rebuild
short_description: Rebuild servers on a hypervisor, Nova's way (a new root disk and config drive)
version_added: 0.1.0
description:
  - The hypervisor half of Nova's C(rebuild) for the servers of one hypervisor whose rebuild
    M(stratus.compute.server_action) recorded. An action plugin on the controller that runs the build's
    own hypervisor modules - M(stratus.compute.compute_domain) and M(stratus.compute.compute_block_devices)
    with I(state=absent) (the domain destroyed and undefined, the local disks deleted; volumes and the
    DHCP entry kept), then M(stratus.compute.compute_block_devices) (task_state
    C(rebuild_block_device_mapping) - a new root disk from the plan's image, uploaded to the base pool
    when missing, ephemeral and swap disks, a new config drive) and M(stratus.compute.compute_domain)
    (C(rebuild_spawning) - defined and started).
  - A server that was stopped is powered off again (M(stratus.compute.compute_power), at once). Each
    server ends ACTIVE or SHUTOFF with the event C(compute_rebuild_instance), or in ERROR with the fault.
  - A run killed half way leaves the server in one of the rebuild task states; C(server_action) asked
    again takes it over and this step starts the walk again.
  - Run by C(playbooks/server_action.yml) (C(playbooks/action_steps.yml)); a host with nothing to
    rebuild is not contacted.
options:
  run_uuids:
    description: The servers of this run; those of this host in a rebuild task state are rebuilt. Omitted, every such server of the host.
    type: list
    elements: str
  uri:
    description: The libvirt connection URI on the hypervisor (default the C(stratus_libvirt_uri) variable).
    type: str
  base_pool_path:
    description: The base image pool directory (default the C(stratus_base_pool_path) variable).
    type: str
  instance_pool_path:
    description: The instance disk pool directory (default the C(stratus_instance_pool_path) variable).
    type: str
  domain_type:
    description: The domain type (default the C(stratus_domain_type) variable, C(auto)).
    type: str
  parallel:
    description: Domains started at once (default the C(stratus_spawn_parallel) variable).
    type: int
  db_url:
    description: The state store URL; defaults as for M(stratus.compute.server).
    type: str
extends_documentation_fragment:
  - stratus.compute.attributes
attributes:
  check_mode:
    support: partial
    details: Names the servers it would rebuild; changes nothing and contacts no host.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.server_action
"""

EXAMPLES = r"""
- name: Rebuild this run's servers on this hypervisor
  stratus.compute.compute_rebuild:
    run_uuids: "{{ hostvars['localhost']['stratus_power_uuids'] }}"
"""

RETURN = r"""
instances:
  description: Per server uuid, C(ok) and on failure C(error) (C(code), C(message)); the server is then in ERROR.
  returned: always, unless refused
  type: dict
error:
  description: On failure before any server, C(code), C(message) and C(field).
  returned: failure
  type: dict
"""
