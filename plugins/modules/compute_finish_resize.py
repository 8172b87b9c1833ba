#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_finish_resize
short_description: The second half of Nova's resize and cold migration on a hypervisor
version_added: 0.1.0
description:
  - Normally run by C(playbooks/action_steps.yml) through the action plugin of the same name, on the controller.
    It takes this hypervisor's servers from the state store and ends each one there. As the destination of a resize
    or cold migration whose disks arrived (Nova's C(finish_resize), task state C(resize_finish)) - C(finish)
    below, then the build's own modules - M(stratus.compute.compute_network) (network and DHCP entry),
    M(stratus.compute.compute_block_devices) (the base image uploaded when missing, a new config drive) and
    M(stratus.compute.compute_domain) (defined with the new flavor and started; powered off again when the server
    was stopped). The server is then C(VERIFY_RESIZE) on this host. On a failure here the copy of a move from another
    host is removed (domain, disks, volume copies, DHCP entry - a leftover when it cannot be) and the server is in
    ERROR with the fault back on its source; a same-host resize's server is in ERROR here.
  - As the source of a reverted one (Nova's C(finish_revert_resize)) - C(restore) for a same-host resize, then the
    old domain (old flavor, old disks) started unless the server was stopped.
  - C(finish) points the copied root overlay's backing file at this host's base image (C(qemu-img rebase -u),
    only when the path differs) and grows it to I(instances[].disks[].size_bytes); a disk is never shrunk.
  - C(restore) puts each C(<name>.resize) clone back in place of the resized disk (a same-host revert).
options:
  uri:
    description: The libvirt connection URI on this hypervisor.
    type: str
    default: qemu:///system
  instance_pool_path:
    description: This hypervisor's instance pool directory (default the C(stratus_instance_pool_path) variable).
    type: path
    default: /var/lib/libvirt/stratus/instances
  instances:
    description: What to do, per server. Normally filled in by the action plugin from the state store.
    type: list
    elements: dict
    default: []
    suboptions:
      uuid:
        description: The instance uuid.
        type: str
        required: true
      op:
        description: C(finish) or C(restore).
        type: str
        required: true
        choices: [finish, restore]
      disks:
        description: The server's local disks (for C(finish), the root overlay with its size and base image).
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The volume's name in the instance pool.
            type: str
            required: true
          size_bytes:
            description: The size the disk grows to (the new flavor's root disk); 0 leaves it.
            type: int
            default: 0
          base_path:
            description: The base image file the overlay backs onto on this host.
            type: str
          base_format:
            description: The base image's format.
            type: str
            default: qcow2
  run_uuids:
    description: For the action plugin - the servers of this run. Omitted, every server of this host with such work.
    type: list
    elements: str
  db_url:
    description: For the action plugin - the state store URL; defaults as for M(stratus.compute.server).
    type: str
requirements:
  - libvirt-python and qemu-img on the hypervisor
notes:
  - The failure of one server is reported in its entry of RV(instances), not as the host's failure.
  - Holds the hypervisor's Stratus step lock while it works.
extends_documentation_fragment:
  - stratus.compute.attributes
attributes:
  check_mode:
    support: partial
    details: The action plugin names the servers it would handle; changes nothing and contacts no host (the module alone does nothing).
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.compute_resize
  - module: stratus.compute.server_action
"""

EXAMPLES = r"""
- name: The second half of this run's resizes on this hypervisor
  stratus.compute.compute_finish_resize:
    run_uuids: "{{ hostvars['localhost']['stratus_power_uuids'] }}"
"""

RETURN = r"""
instances:
  description:
    - Per server uuid, C(ok), and on failure C(error) (C(code), C(message)); the server is then in ERROR.
  returned: always
  type: dict
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.resize import (
    FINISH_ARG_SPEC, run_finish_resize, run_module,
)


def main() -> None:
    run_module(run_finish_resize, FINISH_ARG_SPEC)


if __name__ == "__main__":
    main()
