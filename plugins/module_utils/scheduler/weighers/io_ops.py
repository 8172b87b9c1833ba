# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IoOpsWeigher: busy hosts (builds, resizes under way) weigh less at the default -1.0."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import BaseHostWeigher


class IoOpsWeigher(BaseHostWeigher):
    name = "IoOpsWeigher"
    option = "io_ops_weight_multiplier"
    default_multiplier = -1.0
    minval = 0

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        return host.num_io_ops

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.num_io_ops for h in hosts]
