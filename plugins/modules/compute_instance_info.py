#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_instance_info
short_description: What libvirt on a hypervisor says of instances, and their console's ready line
version_added: 0.1.0
description:
  - Reads, for each instance uuid, the libvirt domain state and the last C(STRATUS-GUEST ready)
    line of its serial console log, which proves that the guest booted with its config drive and address.
options:
  uri:
    description: The libvirt connection URI on the hypervisor.
    type: str
    default: qemu:///system
  uuids:
    description: Instance uuids to look at.
    type: list
    elements: str
    required: true
  console_lines:
    description:
      - Also return the last this many lines of each instance's console log (C(-1) as many as fit) in
        C(console_tail), read from at most the log's last 100 KiB (Nova's bound). At most 10000.
      - The guest's output may hold anything; set C(no_log) on a task that asks for it.
    type: int
extends_documentation_fragment:
  - stratus.compute.attributes
  - stratus.compute.attributes.read
"""

EXAMPLES = r"""
- name: Show domain states and console lines
  stratus.compute.compute_instance_info:
    uuids: ["6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"]
  register: info
"""

RETURN = r"""
instances:
  description: Per uuid, C(state) (running, shutoff, absent, ...) and C(console_ready) (the ready line or null);
    with I(console_lines), C(console_tail) (the log's last lines, or null when there is no log).
  returned: always
  type: dict
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import run_module
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import run_instance_info


def main() -> None:
    run_module(run_instance_info, {"uri": {"type": "str", "default": "qemu:///system"},
                                   "uuids": {"type": "list", "elements": "str", "required": True},
                                   "console_lines": {"type": "int"}},
               supports_check_mode=True, exclusive=False)


if __name__ == "__main__":
    main()
