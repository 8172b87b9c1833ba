#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_converge
short_description: Check and repair a hypervisor's built servers in one call
version_added: 0.1.0
description:
  - Runs the network, block device and spawn steps (M(stratus.compute.compute_network),
    M(stratus.compute.compute_block_devices), M(stratus.compute.compute_domain)) one after the other in one
    module call, for servers that are built already (vm_state C(active)). Each step finds nothing to do when a
    server is as planned and repairs what drifted (a lost DHCP entry, a missing overlay, a stopped domain).
  - A server that fails a step skips the steps after it; the step is named in its entry of RV(instances).
  - The provision playbook calls it first in a build round, through the action plugin of the same name. When
    a build is under way on the host the action does not contact it and returns C(converged=false), and the
    three steps run one by one, so that each build walks Nova's task_state (networking, block_device_mapping,
    spawning). A run that changes nothing then costs one module call per hypervisor instead of three.
options: {}
extends_documentation_fragment:
  - stratus.compute.hypervisor
  - stratus.compute.block_devices
  - stratus.compute.spawn
  - stratus.compute.attributes
  - stratus.compute.attributes.step
"""

EXAMPLES = r"""
- name: Check and repair this hypervisor's built servers (the action plugin fills in the instances)
  stratus.compute.compute_converge:
    run_uuids: "{{ hostvars['localhost']['stratus_run_uuids'] }}"
  register: stratus_converge
"""

RETURN = r"""
converged:
  description: False when a build is under way on the host and the steps must run one by one (set by the action plugin).
  returned: always
  type: bool
images_needed:
  description: As in M(stratus.compute.compute_block_devices).
  returned: when an image must be uploaded first
  type: list
  elements: str
instances:
  description: Per instance uuid, the outcome; C(step) names the step that failed.
  returned: always
  type: dict
  sample:
    6b0f...:
      ok: false
      changed: false
      step: domain
      error: {code: BuildAbortException, message: "spawning 6b0f... failed: ...", field: null}
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import (
    BLOCK_DEVICE_ARG_SPEC, SPAWN_ARG_SPEC, run_module, step_argument_spec)
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import run_converge


def main() -> None:
    run_module(run_converge, step_argument_spec(BLOCK_DEVICE_ARG_SPEC, SPAWN_ARG_SPEC))


if __name__ == "__main__":
    main()
