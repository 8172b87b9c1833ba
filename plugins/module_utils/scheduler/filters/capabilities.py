# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ComputeCapabilitiesFilter: flavor extra specs against what the host reports.

An extra spec applies when it has no scope and names a host attribute or stat, or when its
scope is ``capabilities:`` (``capabilities:cpu_info:vendor`` walks into ``cpu_info``, which
may be a JSON string); other scopes belong to other filters. The host value, as a string,
must match the requirement with the extra-spec operators. ``hw:maxphysaddr_bits`` asks for
at least that many bits in ``cpu_info.maxphysaddr.bits``.
"""
from __future__ import annotations

import dataclasses
import json
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler import extra_specs_ops
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec

SCOPE = "capabilities"
# Host attributes an extra spec may name: HostState's fields, and Nova's names for some of them.
ATTRIBUTES = frozenset(f.name for f in dataclasses.fields(HostState)) | {"nodename"}
NOVA_NAMES = {"vcpus_total": "vcpus", "total_usable_ram_mb": "memory_mb", "total_usable_disk_gb": "local_gb"}
_MISSING = object()


def _attribute(host: HostState, name: str) -> t.Any:
    name = NOVA_NAMES.get(name, name)
    if name in ATTRIBUTES:
        value = getattr(host, name, None)
        if value is not None:
            return value
    return host.stats.get(name)


def capability(host: HostState, path: list[str]) -> t.Any:
    """Walk ``path`` from the host (attributes, then stats) into nested mappings and JSON strings."""
    value: t.Any = host
    for name in path:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        if isinstance(value, HostState):
            value = _attribute(value, name)
        elif isinstance(value, t.Mapping):
            value = value.get(name)
        else:
            return None
        if value is None:
            return None
    return value


def _has(host: HostState, key: str) -> bool:
    return (NOVA_NAMES.get(key, key) in ATTRIBUTES) or key in host.stats


class ComputeCapabilitiesFilter(BaseHostFilter):
    name = "ComputeCapabilitiesFilter"
    run_filter_once_per_request = True
    cost = 3

    def prepare(self, spec: RequestSpec) -> Check:
        scoped: list[tuple[list[str], str]] = []
        unscoped: list[tuple[str, str]] = []
        for key, req in spec.extra_specs.items():
            if key == "hw:maxphysaddr_bits":
                scoped.append((["cpu_info", "maxphysaddr", "bits"], ">= %s" % req))
                continue
            parts = key.split(":")
            if len(parts) == 1:
                unscoped.append((key, req))
            elif parts[0] == SCOPE:
                scoped.append((parts[1:], req))
        if not scoped and not unscoped:
            return None

        def check(h: HostState) -> bool:
            for key, req in unscoped:
                if not _has(h, key):
                    continue  # a spec this host knows nothing of is someone else's
                value = capability(h, [key])
                if value is None or not extra_specs_ops.match(str(value), req):
                    return False
            for path, req in scoped:
                value = capability(h, path)
                if value is None or not extra_specs_ops.match(str(value), req):
                    return False
            return True
        return check
