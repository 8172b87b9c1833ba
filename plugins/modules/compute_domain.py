#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_domain
short_description: Define, start and wait for libvirt domains on a hypervisor
version_added: 0.1.0
description:
  - The spawn step of a build (Nova's task_state C(spawning)) makes the domain XML generated from the plan
    (instance uuid as domain uuid, fixed MACs, serial console logged to a file, a C(<metadata>) element
    in the Stratus namespace), define, start, and wait until running.
  - Idempotency compares a hash of the canonical spec kept in the domain metadata, never raw XML.
  - With I(state=absent) it destroys and undefines the domains (dropping managed save, snapshot metadata and NVRAM).
  - Takes the whole plan of one hypervisor in one call and is idempotent per instance;
    the failure of one instance is reported in its entry of RV(instances), not as the host's failure.
  - Normally called by the provision playbook through the action plugin of the same name,
    which reads the host's plans from the state store and records the result there.
options: {}
extends_documentation_fragment:
  - stratus.compute.hypervisor
  - stratus.compute.spawn
  - stratus.compute.attributes
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
"""

EXAMPLES = r"""
- name: Run the step for this hypervisor's plans (the action plugin fills in the instances)
  stratus.compute.compute_domain:
    run_uuids: "{{ hostvars['localhost']['stratus_run_uuids'] }}"
"""

RETURN = r"""
instances:
  description: Per instance uuid, the step's outcome.
  returned: always
  type: dict
  sample:
    6b0f...:
      ok: true
      changed: true
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import (
    SPAWN_ARG_SPEC, run_module, step_argument_spec)
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import run_domain


def main() -> None:
    run_module(run_domain, step_argument_spec(SPAWN_ARG_SPEC))


if __name__ == "__main__":
    main()
