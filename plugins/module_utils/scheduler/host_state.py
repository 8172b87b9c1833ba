# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HostState and RequestSpec, with Nova's field names."""
from __future__ import annotations

import dataclasses
import typing as t


@dataclasses.dataclass
class HostState:
    host: str
    vcpus: int = 0
    vcpus_used: int = 0
    memory_mb: int = 0
    memory_mb_used: int = 0
    local_gb: int = 0
    local_gb_used: int = 0
    num_instances: int = 0
    num_io_ops: int = 0
    availability_zone: str = "nova"
    aggregates: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 0
    reserved_host_disk_mb: int = 0
    reserved_host_cpus: int = 0
    hypervisor_type: str = "QEMU"
    hypervisor_version: int = 0
    cpu_info: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    supported_instances: list[list[str]] = dataclasses.field(default_factory=list)
    service: dict[str, t.Any] = dataclasses.field(default_factory=lambda: {"disabled": False, "up": True})
    networks: list[str] = dataclasses.field(default_factory=list)
    instances: list[str] = dataclasses.field(default_factory=list)
    failed_builds: int = 0

    @property
    def free_ram_mb(self) -> int:
        return self.memory_mb - self.reserved_host_memory_mb - self.memory_mb_used

    @property
    def free_disk_mb(self) -> int:
        return (self.local_gb - self.local_gb_used) * 1024 - self.reserved_host_disk_mb

    def consume(self, spec: "RequestSpec", instance_uuid: t.Optional[str] = None) -> None:
        """What Nova's consume_from_request does, so multi-create sees earlier picks."""
        self.vcpus_used += spec.vcpus
        self.memory_mb_used += spec.memory_mb
        self.local_gb_used += spec.disk_gb
        self.num_instances += 1
        self.num_io_ops += 1
        if instance_uuid:
            self.instances.append(instance_uuid)

    def to_dict(self) -> dict[str, t.Any]:
        out = dataclasses.asdict(self)
        out["free_ram_mb"] = self.free_ram_mb
        out["free_disk_mb"] = self.free_disk_mb
        return out


@dataclasses.dataclass
class RequestSpec:
    flavor: dict[str, t.Any]
    num_instances: int = 1
    image: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    availability_zone: t.Optional[str] = None
    scheduler_hints: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    instance_group: t.Optional[dict[str, t.Any]] = None
    force_hosts: list[str] = dataclasses.field(default_factory=list)
    force_nodes: list[str] = dataclasses.field(default_factory=list)
    project_id: t.Optional[str] = None
    requested_networks: list[str] = dataclasses.field(default_factory=list)
    is_bfv: bool = False

    @property
    def vcpus(self) -> int:
        return int(self.flavor.get("vcpus", 0))

    @property
    def memory_mb(self) -> int:
        return int(self.flavor.get("memory_mb", self.flavor.get("ram", 0)))

    @property
    def disk_gb(self) -> int:
        """DISK_GB as placement counts it: root (unless boot from volume) + ephemeral + swap."""
        root = 0 if self.is_bfv else int(self.flavor.get("root_gb", self.flavor.get("disk", 0)))
        eph = int(self.flavor.get("ephemeral_gb", self.flavor.get("ephemeral", 0)))
        swap_mb = int(self.flavor.get("swap", 0))
        return root + eph + (swap_mb + 1023) // 1024
