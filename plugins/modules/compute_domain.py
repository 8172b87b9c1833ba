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
options: {}
extends_documentation_fragment:
  - stratus.compute.hypervisor
  - stratus.compute.spawn
  - stratus.compute.attributes
  - stratus.compute.attributes.step
"""

EXAMPLES = r"""
- name: Start this run's domains on this hypervisor, two at a time
  stratus.compute.compute_domain:
    run_uuids: "{{ hostvars['localhost']['stratus_run_uuids'] }}"
    parallel: 2
"""

RETURN = r"""
instances:
  description:
    - Per instance uuid, C(ok), C(changed) and, when building, C(spec_hash) (the hash of the canonical domain
      spec kept in its metadata), C(restart_needed), C(console_log) and C(domain_type); or C(error).
  returned: always
  type: dict
  sample:
    6b0f...: {ok: true, changed: true, spec_hash: 3f2a..., restart_needed: false, domain_type: kvm}
domain_type:
  description: The domain type this host's domains got (C(qemu) after a KVM that could not run guests).
  returned: when the host had instances to handle
  type: str
  sample: kvm
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import (
    SPAWN_ARG_SPEC, run_module, step_argument_spec)
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import run_domain


def main() -> None:
    run_module(run_domain, step_argument_spec(SPAWN_ARG_SPEC))


if __name__ == "__main__":
    main()
