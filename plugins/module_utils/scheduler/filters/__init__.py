# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host filters: each a small class with one job, as in Nova."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec


class BaseHostFilter:
    """A filter passes or rejects one host for one request."""

    name = "BaseHostFilter"
    # Nova runs some filters once per request rather than per instance.
    run_filter_once_per_request = False

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        raise NotImplementedError


class ComputeFilter(BaseHostFilter):
    """The compute service on the host is up and not disabled."""

    name = "ComputeFilter"

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return bool(host.service.get("up", True)) and not host.service.get("disabled", False)


class AvailabilityZoneFilter(BaseHostFilter):
    """The host is in the requested availability zone."""

    name = "AvailabilityZoneFilter"
    run_filter_once_per_request = True

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return not spec.availability_zone or host.availability_zone == spec.availability_zone


def _fits(used: float, requested: float, total: float, reserved: float, ratio: float) -> bool:
    # Placement's rule: used + requested <= (total - reserved) * allocation_ratio.
    return used + requested <= (total - reserved) * ratio


class VCPUFilter(BaseHostFilter):
    name = "VCPUFilter"

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return _fits(host.vcpus_used, spec.vcpus, host.vcpus, host.reserved_host_cpus, host.cpu_allocation_ratio)


class RamFilter(BaseHostFilter):
    name = "RamFilter"

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return _fits(host.memory_mb_used, spec.memory_mb, host.memory_mb,
                     host.reserved_host_memory_mb, host.ram_allocation_ratio)


class DiskFilter(BaseHostFilter):
    name = "DiskFilter"

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return _fits(host.local_gb_used * 1024, spec.disk_gb * 1024, host.local_gb * 1024,
                     host.reserved_host_disk_mb, host.disk_allocation_ratio)


class NetworkFilter(BaseHostFilter):
    """The host serves every network the request asks for."""

    name = "NetworkFilter"
    run_filter_once_per_request = True

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return all(net in host.networks for net in spec.requested_networks)


ALL_FILTERS: dict[str, type[BaseHostFilter]] = {
    cls.name: cls for cls in (ComputeFilter, AvailabilityZoneFilter, VCPUFilter, RamFilter, DiskFilter, NetworkFilter)
}
DEFAULT_FILTERS = ("ComputeFilter", "AvailabilityZoneFilter", "VCPUFilter", "RamFilter", "DiskFilter", "NetworkFilter")


def load_filters(names: t.Iterable[str]) -> list[BaseHostFilter]:
    return [ALL_FILTERS[name]() for name in names]
