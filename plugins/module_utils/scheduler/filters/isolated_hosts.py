# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IsolatedHostsFilter: isolated images run on isolated hosts (config ``isolated_images``, ``isolated_hosts``).

With ``restrict_isolated_hosts_to_isolated_images`` (default true) an isolated host takes only
isolated images, and an isolated image only isolated hosts; without it, isolated hosts take
anything. With no isolated images configured, isolated hosts take nothing when restricting,
and every host passes otherwise.
"""
from __future__ import annotations

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec


class IsolatedHostsFilter(BaseHostFilter):
    name = "IsolatedHostsFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        hosts = frozenset(self.option("isolated_hosts", ()))
        images = frozenset(self.option("isolated_images", ()))
        restrict = bool(self.option("restrict_isolated_hosts_to_isolated_images", True))
        if not images:
            if not restrict or not hosts:
                return None
            return lambda h: h.host not in hosts
        image_ref = (spec.image or {}).get("id")
        image_isolated = image_ref is not None and str(image_ref) in images
        if restrict:
            return lambda h: (h.host in hosts) == image_isolated
        if not image_isolated:
            return None
        return lambda h: h.host in hosts
