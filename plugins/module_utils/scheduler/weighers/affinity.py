# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Soft server-group policies: weigh by the group's members already on the host.

ServerGroupSoftAffinityWeigher (policy ``soft-affinity``) prefers hosts with more members,
ServerGroupSoftAntiAffinityWeigher (``soft-anti-affinity``) hosts with fewer. Requests of
other policies (or no group) weigh every host the same.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.affinity import members_on_host
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import BaseHostWeigher


class _SoftAffinityBase(BaseHostWeigher):
    policy = ""
    sign = 1

    def relevant(self, spec: RequestSpec) -> bool:
        return spec.instance_group is not None and spec.group_policy == self.policy

    def weigh_object(self, host: HostState, spec: RequestSpec) -> float:
        if not self.relevant(spec):
            return 0
        return self.sign * members_on_host(host, t.cast(dict, spec.instance_group))

    def raw_weights(self, hosts: t.Sequence[HostState], spec: RequestSpec) -> list[float]:
        if not self.relevant(spec):
            return [0] * len(hosts)
        group = t.cast(dict, spec.instance_group)
        members = set(group["members"]) if group.get("members") is not None else None
        return [self.sign * members_on_host(h, group, members) for h in hosts]


class ServerGroupSoftAffinityWeigher(_SoftAffinityBase):
    name = "ServerGroupSoftAffinityWeigher"
    option = "soft_affinity_weight_multiplier"
    policy = "soft-affinity"


class ServerGroupSoftAntiAffinityWeigher(_SoftAffinityBase):
    name = "ServerGroupSoftAntiAffinityWeigher"
    option = "soft_anti_affinity_weight_multiplier"
    policy = "soft-anti-affinity"
    sign = -1
