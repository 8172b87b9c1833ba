# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IoOpsFilter: fewer than ``max_io_ops_per_host`` (default 8) builds, resizes, snapshots... under way.

AggregateIoOpsFilter takes the limit from the aggregates' ``max_io_ops_per_host`` metadata
(smallest value; one that does not parse means the configured limit).
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.compiled import Expression
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import (
    BaseHostFilter, Check, InlineHostFilter, min_aggregate_value,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec


class IoOpsFilter(InlineHostFilter):
    name = "IoOpsFilter"

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        return "h.num_io_ops < {limit}", {"limit": int(self.option("max_io_ops_per_host", 8))}


class AggregateIoOpsFilter(BaseHostFilter):
    name = "AggregateIoOpsFilter"

    def prepare(self, spec: RequestSpec) -> Check:
        limit = int(self.option("max_io_ops_per_host", 8))
        return lambda h: h.num_io_ops < min_aggregate_value(h, "max_io_ops_per_host", limit, int)
