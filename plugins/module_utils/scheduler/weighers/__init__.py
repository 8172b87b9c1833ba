# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host weighers, one module per family as in Nova (nova/scheduler/weights/)."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.affinity import (
    ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.base import (
    BaseHostWeigher, normalize,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.compute import BuildFailureWeigher
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.cpu import (
    CoresUsedWeigher, CPUWeigher,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.disk import DiskWeigher
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.hypervisor_version import (
    HypervisorVersionWeigher,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.io_ops import IoOpsWeigher
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.num_instances import (
    NumInstancesWeigher,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers.ram import RAMWeigher

__all__ = [
    "ALL_WEIGHERS", "DEFAULT_WEIGHERS", "MULTIPLIER_OPTIONS", "BaseHostWeigher", "normalize", "load_weighers",
    "BuildFailureWeigher", "CPUWeigher", "CoresUsedWeigher", "DiskWeigher", "HypervisorVersionWeigher",
    "IoOpsWeigher", "NumInstancesWeigher", "RAMWeigher", "ServerGroupSoftAffinityWeigher",
    "ServerGroupSoftAntiAffinityWeigher",
]

ALL_WEIGHERS: dict[str, type[BaseHostWeigher]] = {cls.name: cls for cls in (
    RAMWeigher, CPUWeigher, DiskWeigher, IoOpsWeigher, NumInstancesWeigher, BuildFailureWeigher,
    ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher, HypervisorVersionWeigher,
    CoresUsedWeigher,
)}

# Nova's default is every weigher it has (weight_classes = all_weighers); these are ours of them.
DEFAULT_WEIGHERS = (
    "RAMWeigher", "CPUWeigher", "DiskWeigher", "IoOpsWeigher", "NumInstancesWeigher", "BuildFailureWeigher",
    "ServerGroupSoftAffinityWeigher", "ServerGroupSoftAntiAffinityWeigher", "HypervisorVersionWeigher",
)

# Nova's multiplier option of each weigher -> its default.
MULTIPLIER_OPTIONS: dict[str, float] = {cls.option: cls.default_multiplier for cls in ALL_WEIGHERS.values()}


def load_weighers(names: t.Iterable[str], config: t.Any = None) -> list[BaseHostWeigher]:
    return [ALL_WEIGHERS[name](config) for name in names]
