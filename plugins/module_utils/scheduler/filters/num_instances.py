# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NumInstancesFilter: fewer than ``max_instances_per_host`` (default 50) instances on the host.

AggregateNumInstancesFilter takes the limit from the aggregates' ``max_instances_per_host``
metadata (smallest value; one that does not parse means the configured limit).
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.compiled import Expression
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import (
    BaseHostFilter, Check, InlineHostFilter, min_aggregate_value,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec


class NumInstancesFilter(InlineHostFilter):
    name = "NumInstancesFilter"

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        return "h.num_instances < {limit}", {"limit": int(self.option("max_instances_per_host", 50))}


class AggregateNumInstancesFilter(BaseHostFilter):
    name = "AggregateNumInstancesFilter"

    def prepare(self, spec: RequestSpec) -> Check:
        limit = int(self.option("max_instances_per_host", 50))
        return lambda h: h.num_instances < min_aggregate_value(h, "max_instances_per_host", limit, int)
