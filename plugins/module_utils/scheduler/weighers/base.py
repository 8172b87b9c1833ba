# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every weigher is, and Nova's normalisation (nova/weights.py).

For each weigher the raw values of the candidate hosts are mapped onto 0..1 (``minval`` /
``maxval`` of a weigher widen the range: RAMWeigher's minval 0 means "free RAM as a share
of the most free RAM"), multiplied by the weigher's multiplier for that host and summed;
the highest total wins. A multiplier comes from the scheduler config (Nova's option name,
e.g. ``ram_weight_multiplier``) unless the host's aggregates set that same key in their
metadata: then the smallest of those values (one that does not parse means the config value).
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import (
    UNPARSABLE, HostState, RequestSpec,
)


def normalize(values: t.Sequence[float], minval: t.Optional[float] = None,
              maxval: t.Optional[float] = None) -> list[float]:
    """Map the values onto 0..1; ``minval``/``maxval`` widen the range; no range means all 0."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if minval is not None and minval < lo:
        lo = minval
    if maxval is not None and maxval > hi:
        hi = maxval
    lo, hi = float(lo), float(hi)
    if lo == hi:
        return [0.0] * len(values)
    span = hi - lo
    return [(v - lo) / span for v in values]


class BaseHostWeigher:
    """One weigher: a raw value per host (``weigh_object``) and a multiplier (``weight_multiplier``)."""

    name = "BaseHostWeigher"
    option = ""  # Nova's multiplier option name, e.g. ram_weight_multiplier
    default_multiplier = 1.0
    minval: t.Optional[float] = None
    maxval: t.Optional[float] = None
    # Multiplier applied negatively (BuildFailureWeigher: failures count against a host).
    negate_multiplier = False

    def __init__(self, config: t.Any = None) -> None:
        multipliers = getattr(config, "multipliers", None) or {}
        self.multiplier = float(multipliers.get(self.option, self.default_multiplier))

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        raise NotImplementedError

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [self.weigh_object(h, spec) for h in hosts]

    def relevant(self, spec: RequestSpec) -> bool:
        """False when every host weighs the same for this request (the weigher adds nothing)."""
        return True

    def weight_multiplier(self, host: HostState) -> float:
        value = host.aggregate_min(self.option) if host.aggregates else None
        if value is None or value is UNPARSABLE:
            value = self.multiplier
        return -value if self.negate_multiplier else value

    def uniform_multiplier(self) -> float:
        """The multiplier of a host in no aggregate that overrides it."""
        return -self.multiplier if self.negate_multiplier else self.multiplier
