# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host weighers: each scores one property; scores are normalised to 0..1 and multiplied."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec


class BaseHostWeigher:
    name = "BaseHostWeigher"
    default_multiplier = 1.0

    def raw_weight(self, host: HostState, spec: RequestSpec) -> float:
        raise NotImplementedError


class RAMWeigher(BaseHostWeigher):
    """More free RAM weighs more: spreads instances (Nova's default)."""

    name = "RAMWeigher"

    def raw_weight(self, host: HostState, spec: RequestSpec) -> float:
        return float(host.free_ram_mb)


class CPUWeigher(BaseHostWeigher):
    name = "CPUWeigher"

    def raw_weight(self, host: HostState, spec: RequestSpec) -> float:
        return float(host.vcpus * host.cpu_allocation_ratio - host.vcpus_used)


class NumInstancesWeigher(BaseHostWeigher):
    """Fewer instances weigh more: the Essex SimpleScheduler's "least busy first"."""

    name = "NumInstancesWeigher"
    default_multiplier = -1.0

    def raw_weight(self, host: HostState, spec: RequestSpec) -> float:
        return float(host.num_instances)


ALL_WEIGHERS: dict[str, type[BaseHostWeigher]] = {
    cls.name: cls for cls in (RAMWeigher, CPUWeigher, NumInstancesWeigher)
}
DEFAULT_WEIGHERS = ("RAMWeigher", "CPUWeigher")


def normalize(values: list[float]) -> list[float]:
    """Nova's normalisation: map the range onto 0..1; all-equal values become 0."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi == lo:
        return [0.0] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


def load_weighers(names: t.Iterable[str]) -> list[BaseHostWeigher]:
    return [ALL_WEIGHERS[name]() for name in names]
