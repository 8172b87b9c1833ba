#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_cleanup
short_description: Clean a hypervisor of what servers that left it still hold there
version_added: 0.1.0
description:
  - The state store records a leftover when a server leaves a host without being cleaned off it
    (it was deleted while the host was unreachable or its libvirt was down, it was replaced with
    C(recreate), or a failed build could not be cleaned before its reschedule).
    A leftover's resources and addresses count as used on that host until it is cleaned.
  - This step walks each leftover of the host backwards (domain destroyed and undefined, disks deleted
    unless they are volumes to keep, DHCP host entries dropped) and forgets the leftovers it cleaned;
    one that still fails stays recorded with its error and the number of attempts.
  - An action plugin, it reads the leftovers on the controller and runs the hypervisor steps with
    I(state=absent) on the host, only when there is something to clean (no connection otherwise).
    The provision playbook runs it on every hypervisor before anything is deleted or built there.
options:
  uri:
    description: The libvirt connection URI on the hypervisor (default the C(stratus_libvirt_uri) variable).
    type: str
  base_pool_path:
    description: The base image pool directory (default the C(stratus_base_pool_path) variable).
    type: str
  instance_pool_path:
    description: The instance disk pool directory (default the C(stratus_instance_pool_path) variable).
    type: str
  db_url:
    description: The state store URL; defaults as for M(stratus.compute.server).
    type: str
extends_documentation_fragment:
  - stratus.compute.attributes
  - stratus.compute.attributes.step
"""

EXAMPLES = r"""
- name: Clean what deleted, replaced or rescheduled servers left on this hypervisor
  stratus.compute.compute_cleanup:
"""

RETURN = r"""
cleaned:
  description: The instance uuids whose leftovers on this host were cleaned.
  returned: always
  type: list
  elements: str
pending:
  description: Per instance uuid, why its leftover on this host could not be cleaned yet.
  returned: always
  type: dict
"""
