# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RAMWeigher: more free RAM weighs more (spreading); a negative multiplier stacks."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import BaseHostWeigher


class RAMWeigher(BaseHostWeigher):
    name = "RAMWeigher"
    option = "ram_weight_multiplier"
    minval = 0

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        return host.free_ram_mb  # type: ignore[return-value]

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.free_ram_mb for h in hosts]  # type: ignore[misc]
