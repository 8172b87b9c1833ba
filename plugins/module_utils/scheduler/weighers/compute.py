# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BuildFailureWeigher: hosts with recent failed builds weigh less.

The raw value is ``failed_builds``; the multiplier (``build_failure_weight_multiplier``,
default 1000000.0, so one failure outweighs everything else) is applied negatively.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import BaseHostWeigher


class BuildFailureWeigher(BaseHostWeigher):
    name = "BuildFailureWeigher"
    option = "build_failure_weight_multiplier"
    default_multiplier = 1000000.0
    negate_multiplier = True

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        return host.failed_builds

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.failed_builds for h in hosts]
