# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host filters, one module per family as in Nova (nova/scheduler/filters/)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.affinity import (
    DifferentHostFilter, SameHostFilter, ServerGroupAffinityFilter, ServerGroupAntiAffinityFilter,
    SimpleCIDRAffinityFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.aggregate import (
    AggregateImagePropertiesIsolation, AggregateInstanceExtraSpecsFilter, AggregateMultiTenancyIsolation,
    AggregateTypeAffinityFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.availability_zone import (
    AvailabilityZoneFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.capabilities import (
    ComputeCapabilitiesFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.compute import (
    AllHostsFilter, ComputeFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.image_props import (
    ImagePropertiesFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.io_ops import (
    AggregateIoOpsFilter, IoOpsFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.isolated_hosts import (
    IsolatedHostsFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.network import NetworkFilter
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.num_instances import (
    AggregateNumInstancesFilter, NumInstancesFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.resources import (
    AggregateCoreFilter, AggregateDiskFilter, AggregateRamFilter, CoreFilter, DiskFilter, MaxCoresFilter,
    PlacementFilter, RamFilter, VCPUFilter,
)

__all__ = [
    "ALL_FILTERS", "DEFAULT_FILTERS", "BaseHostFilter", "Check", "load_filters",
    "AggregateCoreFilter", "AggregateDiskFilter", "AggregateImagePropertiesIsolation",
    "AggregateInstanceExtraSpecsFilter", "AggregateIoOpsFilter", "AggregateMultiTenancyIsolation",
    "AggregateNumInstancesFilter", "AggregateRamFilter", "AggregateTypeAffinityFilter", "AllHostsFilter",
    "AvailabilityZoneFilter", "ComputeCapabilitiesFilter", "ComputeFilter", "CoreFilter", "DifferentHostFilter",
    "DiskFilter", "ImagePropertiesFilter", "IoOpsFilter", "IsolatedHostsFilter", "MaxCoresFilter",
    "NetworkFilter", "NumInstancesFilter", "PlacementFilter", "RamFilter", "SameHostFilter",
    "ServerGroupAffinityFilter", "ServerGroupAntiAffinityFilter", "SimpleCIDRAffinityFilter", "VCPUFilter",
]

ALL_FILTERS: dict[str, type[BaseHostFilter]] = {cls.name: cls for cls in (
    ComputeFilter, AllHostsFilter,
    VCPUFilter, CoreFilter, RamFilter, DiskFilter, PlacementFilter,
    AggregateCoreFilter, AggregateRamFilter, AggregateDiskFilter, MaxCoresFilter,
    AvailabilityZoneFilter, ComputeCapabilitiesFilter, ImagePropertiesFilter,
    AggregateInstanceExtraSpecsFilter, AggregateMultiTenancyIsolation, AggregateImagePropertiesIsolation,
    AggregateTypeAffinityFilter,
    ServerGroupAffinityFilter, ServerGroupAntiAffinityFilter, SameHostFilter, DifferentHostFilter,
    SimpleCIDRAffinityFilter,
    IsolatedHostsFilter, NumInstancesFilter, AggregateNumInstancesFilter, IoOpsFilter, AggregateIoOpsFilter,
    NetworkFilter,
)}

# Nova's defaults (Compute, ComputeCapabilities, ImageProperties, the two server group filters)
# plus what Nova does in placement and its pre-filters: the zone, the three resource classes
# and the networks a host serves.
DEFAULT_FILTERS = (
    "ComputeFilter", "AvailabilityZoneFilter", "VCPUFilter", "RamFilter", "DiskFilter", "NetworkFilter",
    "ComputeCapabilitiesFilter", "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
)


def load_filters(names: t.Iterable[str], config: t.Any = None) -> list[BaseHostFilter]:
    return [ALL_FILTERS[name](config) for name in names]
