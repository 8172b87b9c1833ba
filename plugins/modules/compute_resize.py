#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_resize
short_description: The first half of Nova's resize and cold migration on a hypervisor
version_added: 0.1.0
description:
  - Normally run by C(playbooks/action_steps.yml) through the action plugin of the same name, on the controller.
    It takes this hypervisor's servers from the state store and ends each one there. As the source of a resize or
    cold migration that M(stratus.compute.server_action) recorded (Nova's C(resize_instance), task states
    C(resize_migrating) then C(resize_migrated)), the module powers the server off cleanly and copies its local
    disks and volumes to the destination. As the source of a confirmed one it deletes the source's copy (a
    cross-host move's domain, disks, volume copies and DHCP entry by the build's own modules, as
    M(stratus.compute.compute_cleanup) does). As the destination of a reverted one it removes the destination's
    copy.
  - C(migrate_disks) is Nova's clean shutdown (ACPI, re-sent every I(retry_interval) seconds, destroyed after
    I(timeout) seconds), then each local disk (root overlay, ephemeral, swap; not the config drive, which the
    destination makes anew) copied to the destination's instance pool through a libvirt connection to
    I(instances[].dest_uri) - a volume download stream piped into an upload stream, holes kept when libvirt allows;
    then each of I(instances[].volumes) the same way into the destination's C(stratus-volumes) pool.
    Without I(instances[].dest_uri) (a same-host resize) each disk is cloned to C(<name>.resize) beside it, what a
    revert restores. A copy a killed run left is made again. When a copy fails, the partial copies are deleted and
    the domain is started again if I(instances[].restart_on_failure).
  - C(drop_copies) deletes a same-host resize's C(.resize) clones. C(power_off) destroys the domain.
  - The source's domain, disks and volumes stay until the resize is confirmed.
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
        description: The instance uuid, which is also its domain's uuid.
        type: str
        required: true
      domain_name:
        description: The instance's domain name, C(instance-<uuid>).
        type: str
        required: true
      op:
        description: C(migrate_disks), C(drop_copies) or C(power_off).
        type: str
        required: true
        choices: [migrate_disks, drop_copies, power_off]
      disks:
        description: The server's local disks in the instance pool (C(<uuid>-disk), C(<uuid>-disk.eph<N>), C(<uuid>-disk.swap)).
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The volume's name.
            type: str
            required: true
          size_bytes:
            description: Not used by this module.
            type: int
            default: 0
          base_path:
            description: Not used by this module.
            type: str
          base_format:
            description: Not used by this module.
            type: str
            default: qcow2
      volumes:
        description:
          - The server's volumes in this hypervisor's C(stratus-volumes) pool (C(volume-<id>)), copied for a
            C(migrate_disks) to another host into the destination's C(stratus-volumes) pool (beside its instance
            pool); a same-host resize leaves them as they are.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: C(volume-<id>), checked whole.
            type: str
            required: true
      dest_uri:
        description:
          - The destination's libvirt URI (its C(stratus_migration_uri) host variable) - C(qemu+tcp), C(qemu+tls) or
            C(qemu+ssh), a host, C(/system). Omitted, a same-host resize.
        type: str
      dest_pool_path:
        description: The destination's instance pool directory (made there when missing).
        type: path
      restart_on_failure:
        description: Start the domain again when the copy fails (the server was running).
        type: bool
        default: false
  timeout:
    description: Seconds a clean shutdown may take before the domain is destroyed (Nova's C(shutdown_timeout)).
    type: int
    default: 60
  retry_interval:
    description: Seconds between ACPI shutdown requests (Nova's C(shutdown_retry_interval)).
    type: int
    default: 10
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
  - The host variables C(stratus_shutdown_timeout) and C(stratus_shutdown_retry_interval) give I(timeout) and
    I(retry_interval); the destination's C(stratus_migration_uri) and C(stratus_instance_pool_path) give
    I(instances[].dest_uri) and I(instances[].dest_pool_path).
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
  - module: stratus.compute.server_action
  - module: stratus.compute.compute_finish_resize
"""

EXAMPLES = r"""
- name: The first half of this run's resizes on this hypervisor
  stratus.compute.compute_resize:
    run_uuids: "{{ hostvars['localhost']['stratus_power_uuids'] }}"
"""

RETURN = r"""
instances:
  description:
    - Per server uuid, C(ok) and C(changed); for C(migrate_disks) C(forced) (destroyed after the shutdown timeout),
      C(copied) (the disks' and volumes' names) and C(bytes_sent). Or C(ok=false) and C(error) (C(code), C(message), C(field)),
      such as C(MigrationError) (a copy failed; the server is back as it was).
  returned: always
  type: dict
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.resize import RESIZE_ARG_SPEC, run_module, run_resize


def main() -> None:
    run_module(run_resize, RESIZE_ARG_SPEC)


if __name__ == "__main__":
    main()
