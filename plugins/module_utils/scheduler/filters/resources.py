# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity: VCPU, MEMORY_MB and DISK_GB as placement allocates them.

Placement's rule per resource class: ``used + requested <= (total - reserved) * allocation_ratio``,
and one instance may not ask for more than the host has (``max_unit``, which Nova's libvirt
driver reports as the total). ``used`` is ``usable - free`` for memory and disk, so a host
state given as ``free_ram_mb``/``free_disk_mb`` (Nova's fields) is checked the same way.
A host that reports no vCPU count is not checked for vCPUs (Nova's CoreFilter did the same).

Nova did this with RamFilter/CoreFilter/DiskFilter until Train and with placement since; the
three keep their filter names here (``CoreFilter`` is an alias of ``VCPUFilter``) so that
``explain`` says which resource was short. ``PlacementFilter`` checks all three at once. The
``Aggregate*`` variants take the allocation ratio from the host's aggregates' metadata
(smallest value; one that does not parse means the host's own ratio), as Nova's
AggregateCoreFilter/AggregateRamFilter/AggregateDiskFilter did.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.compiled import Expression
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import (
    BaseHostFilter, Check, InlineHostFilter, min_aggregate_value,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec

VCPU = ("not h.vcpus or ({req} <= h.vcpus and "
        "h.vcpus_used + {req} <= (h.vcpus - h.reserved_host_cpus) * h.cpu_allocation_ratio)")
MEMORY_MB = ("{req} <= h.memory_mb and (h.memory_mb - h.reserved_host_memory_mb) - h.free_ram_mb + {req}"
             " <= (h.memory_mb - h.reserved_host_memory_mb) * h.ram_allocation_ratio")
DISK_GB = ("{req} <= h.local_gb and (h.local_gb * 1024 - h.reserved_host_disk_mb) - h.free_disk_mb + {req} * 1024"
           " <= (h.local_gb * 1024 - h.reserved_host_disk_mb) * h.disk_allocation_ratio")


class VCPUFilter(InlineHostFilter):
    """VCPU: vcpus_used + vcpus <= (vcpus - reserved_host_cpus) * cpu_allocation_ratio, vcpus <= host vcpus."""

    name = "VCPUFilter"

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        return (VCPU, {"req": spec.vcpus}) if spec.vcpus > 0 else None


class CoreFilter(VCPUFilter):
    """Nova's old name for the VCPU check."""

    name = "CoreFilter"


class RamFilter(InlineHostFilter):
    """MEMORY_MB: used + memory_mb <= (memory_mb - reserved_host_memory_mb) * ram_allocation_ratio."""

    name = "RamFilter"

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        return (MEMORY_MB, {"req": spec.memory_mb}) if spec.memory_mb > 0 else None


class DiskFilter(InlineHostFilter):
    """DISK_GB (root + ephemeral + swap rounded up to GiB): used + requested <= (local_gb - reserved) * ratio."""

    name = "DiskFilter"

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        return (DISK_GB, {"req": spec.disk_gb}) if spec.disk_gb > 0 else None


class PlacementFilter(InlineHostFilter):
    """VCPU, MEMORY_MB and DISK_GB together: what one placement allocation-candidates query checks."""

    name = "PlacementFilter"
    cost = 2

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        wanted = ((VCPU, spec.vcpus), (MEMORY_MB, spec.memory_mb), (DISK_GB, spec.disk_gb))
        parts = [(template, req) for template, req in wanted if req > 0]
        if not parts:
            return None
        source = " and ".join("(%s)" % template.replace("{req}", "{req%d}" % i) for i, (template, _r) in enumerate(parts))
        return source, {"req%d" % i: req for i, (_t, req) in enumerate(parts)}


class AggregateCoreFilter(BaseHostFilter):
    name = "AggregateCoreFilter"

    def prepare(self, spec: RequestSpec) -> Check:
        req = spec.vcpus
        if req <= 0:
            return None

        def check(h: HostState) -> bool:
            if not h.vcpus:
                return True
            ratio = min_aggregate_value(h, "cpu_allocation_ratio", h.cpu_allocation_ratio, float)
            return req <= h.vcpus and h.vcpus_used + req <= (h.vcpus - h.reserved_host_cpus) * ratio
        return check


class AggregateRamFilter(BaseHostFilter):
    name = "AggregateRamFilter"

    def prepare(self, spec: RequestSpec) -> Check:
        req = spec.memory_mb
        if req <= 0:
            return None

        def check(h: HostState) -> bool:
            usable = h.memory_mb - h.reserved_host_memory_mb
            ratio = min_aggregate_value(h, "ram_allocation_ratio", h.ram_allocation_ratio, float)
            return req <= h.memory_mb and usable - t.cast(int, h.free_ram_mb) + req <= usable * ratio
        return check


class AggregateDiskFilter(BaseHostFilter):
    name = "AggregateDiskFilter"

    def prepare(self, spec: RequestSpec) -> Check:
        req = spec.disk_gb
        if req <= 0:
            return None

        def check(h: HostState) -> bool:
            usable = h.local_gb * 1024 - h.reserved_host_disk_mb
            ratio = min_aggregate_value(h, "disk_allocation_ratio", h.disk_allocation_ratio, float)
            return req <= h.local_gb and usable - t.cast(int, h.free_disk_mb) + req * 1024 <= usable * ratio
        return check


class MaxCoresFilter(InlineHostFilter):
    """The Essex SimpleScheduler's core limit: vcpus_used + vcpus <= max_cores (default 16), whatever the host."""

    name = "MaxCoresFilter"

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        return "h.vcpus_used + {req} <= {limit}", {"req": spec.vcpus, "limit": int(self.option("max_cores", 16))}
