# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkFilter: the host serves every network the request asks for (a catalog network's
``hypervisors`` list; Nova-network's hosts had every network, Neutron's routed networks do not)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.compiled import Expression
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import InlineHostFilter
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec


class NetworkFilter(InlineHostFilter):
    name = "NetworkFilter"
    run_filter_once_per_request = True

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        wanted = tuple(dict.fromkeys(spec.requested_networks))
        if not wanted:
            return None
        if len(wanted) == 1:
            return "{net} in h.networks", {"net": wanted[0]}
        return "all(n in h.networks for n in {nets})", {"nets": wanted}
