# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the request's other instances are: server groups and the same_host/different_host hints.

Server groups: the request's ``instance_group`` has ``policy``, ``hosts`` (where members
are), ``members`` (instance uuids) and ``rules``. Anti-affinity counts the group's members
on the host (``instances`` ∩ ``members``) against ``max_server_per_host`` (default 1);
without a ``members`` list it counts the host's appearances in ``hosts``. The scheduler adds
each pick of a multi-create to ``hosts``, ``members`` and the host's ``instances``.
"""
from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec


def members_on_host(host: HostState, group: t.Mapping[str, t.Any],
                    members: t.Optional[t.AbstractSet[str]] = None) -> int:
    """How many of the group's servers are on this host (``members`` may be the group's, as a set)."""
    if members is None and group.get("members") is not None:
        members = set(group["members"])
    if members is not None:
        if not members or not host.instances:
            return 0
        return sum(1 for uuid in host.instances if uuid in members)
    return sum(1 for h in group.get("hosts") or () if h == host.host)


def _uuids(value: t.Any) -> list[str]:
    if not value:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


class ServerGroupAntiAffinityFilter(BaseHostFilter):
    name = "ServerGroupAntiAffinityFilter"

    def prepare(self, spec: RequestSpec) -> Check:
        group = spec.instance_group
        if spec.group_policy != "anti-affinity" or group is None:
            return None
        limit = int((group.get("rules") or {}).get("max_server_per_host") or 1)
        me = spec.instance_uuid
        members = set(group["members"]) if group.get("members") is not None else None

        def check(h: HostState) -> bool:
            if me and me in h.instances:
                return True  # the instance itself is already there (a move): it may stay
            return members_on_host(h, group, members) < limit
        return check


class ServerGroupAffinityFilter(BaseHostFilter):
    name = "ServerGroupAffinityFilter"

    def prepare(self, spec: RequestSpec) -> Check:
        group = spec.instance_group
        if spec.group_policy != "affinity" or group is None:
            return None
        hosts = frozenset(group.get("hosts") or ())
        if not hosts:
            # the group's first member goes anywhere; the scheduler adds the pick to the
            # group's hosts, so the next member of a multi-create follows it
            return None
        return lambda h: h.host in hosts


class SameHostFilter(BaseHostFilter):
    """Hint ``same_host``: the host runs at least one of these instances."""

    name = "SameHostFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        wanted = set(_uuids(spec.hint("same_host")))
        if not wanted:
            return None
        return lambda h: not wanted.isdisjoint(h.instances)


class DifferentHostFilter(BaseHostFilter):
    """Hint ``different_host``: the host runs none of these instances."""

    name = "DifferentHostFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        avoid = set(_uuids(spec.hint("different_host")))
        if not avoid:
            return None
        return lambda h: avoid.isdisjoint(h.instances)


class SimpleCIDRAffinityFilter(BaseHostFilter):
    """Hint ``build_near_host_ip`` (with ``cidr``, default ``/24``): the host's ``host_ip`` is in that network."""

    name = "SimpleCIDRAffinityFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        near = spec.hint("build_near_host_ip")
        if not near:
            return None
        cidr = str(spec.hint("cidr", "/24"))
        net = ipaddress.ip_network(str(near) + cidr, strict=False)

        def check(h: HostState) -> bool:
            try:
                return h.host_ip is not None and ipaddress.ip_address(h.host_ip) in net
            except ValueError:
                return False
        return check
