# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Mirrors module_utils/compute/common.py SPAWN_ARG_SPEC.
    DOCUMENTATION = r"""
options:
  domain_type:
    description: C(kvm) or C(qemu) (TCG); C(auto) uses KVM where the host offers it.
    type: str
    default: auto
    choices: [auto, kvm, qemu]
  timeout:
    description: Seconds to wait for each domain to reach the running state.
    type: float
    default: 60.0
  parallel:
    description:
      - How many domains of this hypervisor to start, or stop and undefine, at once. The first
        instance of a call always runs alone, so that what it finds out about the host (a KVM that
        cannot run guests) holds for the others.
      - The action plugin takes it from the C(stratus_spawn_parallel) variable when not given.
    type: int
    default: 4
"""
