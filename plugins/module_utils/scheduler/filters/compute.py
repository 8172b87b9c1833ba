# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the compute service there at all: ComputeFilter, and AllHostsFilter which asks nothing."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.compiled import Expression
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import (
    BaseHostFilter, Check, InlineHostFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec


class ComputeFilter(InlineHostFilter):
    """The host's compute service is enabled and up (not disabled by an operator, heartbeat fresh)."""

    name = "ComputeFilter"
    run_filter_once_per_request = True

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        return 'not h.service.get("disabled", False) and h.service.get("up", True)', {}


class AllHostsFilter(BaseHostFilter):
    """Every host passes."""

    name = "AllHostsFilter"
    run_filter_once_per_request = True
    cost = 0

    def prepare(self, spec: RequestSpec) -> Check:
        return None
