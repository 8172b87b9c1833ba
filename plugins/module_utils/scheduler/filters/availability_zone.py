# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AvailabilityZoneFilter: the host is in the requested zone.

A host's zones are the ``availability_zone`` metadata of its aggregates; a host in no
zoned aggregate is in its own ``availability_zone`` (the inventory's
``stratus_availability_zone``), else in ``default_availability_zone`` ('nova').
Nova replaced this filter by a placement pre-filter in 2023.2; the rule is the same.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.compiled import Expression
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec


class AvailabilityZoneFilter(BaseHostFilter):
    name = "AvailabilityZoneFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        zone = spec.availability_zone
        if not zone:
            return None
        default = str(self.option("default_availability_zone", "nova"))

        def check(h: HostState) -> bool:
            zones = h.aggregate_metadata().get("availability_zone") if h.aggregates else None
            if zones:
                return zone in zones
            return (h.availability_zone or default) == zone
        return check

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        check = self.prepare(spec)
        if check is None:
            return None
        # the common case (no aggregates) inline; aggregates through the full check
        return ("({zone} == (h.availability_zone or {default})) if not h.aggregates else {check}(h)",
                {"zone": spec.availability_zone, "default": str(self.option("default_availability_zone", "nova")),
                 "check": check})
