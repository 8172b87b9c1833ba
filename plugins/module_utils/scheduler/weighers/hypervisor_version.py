# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HypervisorVersionWeigher: newer hypervisors weigh more (a negative multiplier prefers older)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import BaseHostWeigher


class HypervisorVersionWeigher(BaseHostWeigher):
    name = "HypervisorVersionWeigher"
    option = "hypervisor_version_weight_multiplier"

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        return host.hypervisor_version or 0

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.hypervisor_version or 0 for h in hosts]
