#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_block_devices
short_description: Cached base images, overlays, ephemeral, swap and config drives on a hypervisor
version_added: 0.1.0
description:
  - The block device step of a build (Nova's task_state C(block_device_mapping)) makes a qcow2 overlay
    on the cached base image for the root disk, blank ephemeral and swap disks, and a content-addressed
    config drive ISO labelled C(config-2), all as libvirt storage volumes.
  - With I(state=absent) it deletes the volumes marked C(delete_on_termination) and the config drive.
options: {}
extends_documentation_fragment:
  - stratus.compute.hypervisor
  - stratus.compute.block_devices
  - stratus.compute.attributes
  - stratus.compute.attributes.step
"""

EXAMPLES = r"""
- name: Make the disks and config drives of this run's servers on this hypervisor
  stratus.compute.compute_block_devices:
    run_uuids: "{{ hostvars['localhost']['stratus_run_uuids'] }}"
"""

RETURN = r"""
images_needed:
  description: Ids of images the base pool lacks or holds with another checksum (see I(image_checksums)).
  returned: when an image must be uploaded first
  type: list
  elements: str
instances:
  description:
    - Per instance uuid, C(ok), C(changed) and, when building, C(disks) (name, path, device name, bus,
      device type and format of each disk the spawn step attaches), or C(error) when the step failed.
  returned: always
  type: dict
  sample:
    6b0f...:
      ok: true
      changed: true
      disks: [{name: 6b0f...-disk, device_name: vda, bus: virtio, device_type: disk, format: qcow2}]
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import (
    BLOCK_DEVICE_ARG_SPEC, run_module, step_argument_spec)
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import run_block_devices


def main() -> None:
    run_module(run_block_devices, step_argument_spec(BLOCK_DEVICE_ARG_SPEC))


if __name__ == "__main__":
    main()
