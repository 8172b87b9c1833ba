#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_service
short_description: Disable or enable a hypervisor for scheduling, or force it down, as Nova's os-services does
version_added: 0.1.0
description:
  - Takes one hypervisor of the C(hypervisors) group out of scheduling (I(disabled=true), with a
    I(reason)) or puts it back, in the state store - Nova's C(PUT /os-services) with
    C(disabled_reason). The scheduler's C(ComputeFilter) leaves a disabled host out (C(explain) names
    it), as it does a host whose inventory sets C(stratus_disabled); the servers on it stay where
    they are. M(stratus.compute.hypervisor_info) shows C(status) and C(service.disabled_reason).
  - Admin only by default (policy C(os_compute_api:os-services:update)). An action plugin; it runs on
    the controller and contacts no hypervisor. Asking for what is already so changes nothing.
options:
  host:
    description: The hypervisor, a host of the C(hypervisors) group; C(ComputeHostNotFound) otherwise.
    type: str
    required: true
  disabled:
    description: C(true) disables the host, C(false) enables it. One of I(disabled) and I(forced_down) at least.
    type: bool
  reason:
    description: Why it is disabled (with I(disabled=true) only), one line of 1 to 255 printable characters.
    type: str
  forced_down:
    description:
      - C(true) says the host is down (Nova's C(force_down), after the operator fenced it - powered it off
        or cut it from the network) - the scheduler leaves it out and C(evacuate) may rebuild its servers
        elsewhere; C(false) says it is up again (its leftovers are cleaned by the next run that reaches it).
    type: bool
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
attributes:
  check_mode:
    support: full
    details: Says whether the host would change; nothing is recorded.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.hypervisor_info
"""

EXAMPLES = r"""
- name: Take hv2 out of scheduling for a firmware update
  stratus.compute.hypervisor_service:
    host: hv2
    disabled: true
    reason: firmware update

- name: Put it back
  stratus.compute.hypervisor_service:
    host: hv2
    disabled: false

- name: hv3 is fenced (powered off by its BMC) - say it is down, so its servers may be evacuated
  stratus.compute.hypervisor_service:
    host: hv3
    forced_down: true
"""

RETURN = r"""
service:
  description:
    - The host's compute service as Nova's os-services shows it - C(host), C(binary), C(status)
      (C(enabled) or C(disabled)), C(disabled_reason), C(forced_down), C(updated_at) and C(updated_by) (the user who
      changed it last). A host the inventory disables (C(stratus_disabled)) is disabled whatever this says.
  returned: success
  type: dict
error:
  description:
    - On failure, C(code), C(message) and C(field) - C(ComputeHostNotFound), C(PolicyNotAuthorized),
      C(InvalidRequest), C(Forbidden) (a launch override); nothing was changed.
  returned: failure
  type: dict
"""
