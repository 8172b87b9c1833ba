# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NumInstancesWeigher: the host's instance count; Nova's default multiplier 0.0 turns it off,
a negative one prefers emptier hosts, a positive one packs."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import BaseHostWeigher


class NumInstancesWeigher(BaseHostWeigher):
    name = "NumInstancesWeigher"
    option = "num_instances_weight_multiplier"
    default_multiplier = 0.0

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        return host.num_instances

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.num_instances for h in hosts]
