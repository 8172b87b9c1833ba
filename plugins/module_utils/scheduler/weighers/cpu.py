# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU weighers.

CPUWeigher (Nova): more free vCPUs (``vcpus * cpu_allocation_ratio - vcpus_used``) weigh more.
CoresUsedWeigher (Stratus, for the Essex SimpleScheduler preset): fewer running cores
(``vcpus_used``) weigh more, whatever the size of the host. Not in the default set.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import BaseHostWeigher


class CPUWeigher(BaseHostWeigher):
    name = "CPUWeigher"
    option = "cpu_weight_multiplier"
    minval = 0

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        return host.vcpus * host.cpu_allocation_ratio - host.vcpus_used

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.vcpus * h.cpu_allocation_ratio - h.vcpus_used for h in hosts]


class CoresUsedWeigher(BaseHostWeigher):
    name = "CoresUsedWeigher"
    option = "cores_used_weight_multiplier"
    default_multiplier = -1.0

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        return host.vcpus_used

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.vcpus_used for h in hosts]
