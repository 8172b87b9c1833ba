#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_live_migration_prep
short_description: Prepare a hypervisor to receive live-migrated servers, Nova's way
version_added: 0.1.0
description:
  - The destination's half of Nova's live migration (its pre_live_migration) - the directory of the domains'
    console logs, then the build's network step (the network and the server's DHCP entry) and block device
    step (the root overlay on the cached base image, ephemeral and swap disks of the same names, sizes and
    formats as on the source, the config drive, which libvirt does not copy; each volume pre-created empty in
    the C(stratus-volumes) pool with its name, size and format, for the migration to copy into) in one call; the base images
    the pool lacks are asked for first (RV(images_needed)), as M(stratus.compute.compute_block_devices) does.
  - Normally run through the action plugin of the same name on the controller (C(playbooks/action_steps.yml)),
    for the servers of the run whose live migration M(stratus.compute.server_action) recorded to this hypervisor
    (migration status C(queued) or C(preparing)). It first cleans what a failed earlier attempt left here (its
    leftover); the migration's status becomes C(preparing) and the server's plan gets the disks' paths here (the
    migration record keeps the source's plan). Then the source's M(stratus.compute.compute_live_migration)
    migrates.
  - A failure is rolled back at once (Nova's rollback_live_migration_at_destination) - what was made here is
    removed (a leftover when it cannot be), the claim goes back to the source, the server stays there ACTIVE
    with the fault, the migration is C(failed).
  - I(state=absent) is refused (C(InvalidRequest)) - the build's steps remove.
options: {}
extends_documentation_fragment:
  - stratus.compute.hypervisor
  - stratus.compute.block_devices
  - stratus.compute.attributes
  - stratus.compute.attributes.step
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.server_action
  - module: stratus.compute.compute_live_migration
"""

EXAMPLES = r"""
- name: Prepare this hypervisor for the servers live-migrating to it in this run
  stratus.compute.compute_live_migration_prep:
    run_uuids: "{{ hostvars['localhost']['stratus_power_uuids'] }}"
"""

RETURN = r"""
images_needed:
  description: Ids of images the base pool lacks or holds with another checksum (see I(image_checksums)).
  returned: when an image must be uploaded first
  type: list
  elements: str
instances:
  description:
    - Per server uuid, C(ok), C(changed) and C(disks) (as M(stratus.compute.compute_block_devices) gives them), or
      C(error) (C(code), C(message)) and C(step) (C(network) or C(block_devices)); the migration is then rolled back.
  returned: always, unless refused
  type: dict
error:
  description: On failure before any server, C(code), C(message) and C(field).
  returned: failure
  type: dict
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.live_migration import run_prepare_module


def main() -> None:
    run_prepare_module()


if __name__ == "__main__":
    main()
