"""ComputeCapabilitiesFilter (cases after Nova's test_compute_capabilities_filters)."""
from __future__ import annotations

import json

from sched_helpers import passes

CPU = json.dumps({"vendor": "AMD", "model": "EPYC", "arch": "x86_64", "features": ["svm", "aes"],
                  "topology": {"cores": 4, "threads": 2, "sockets": 1}, "maxphysaddr": {"bits": 48}})


def caps(extra_specs: dict, **host: object) -> bool:
    return passes("ComputeCapabilitiesFilter", dict({"host": "hv1", "free_ram_mb": 2048}, **host),
                  {"flavor": {"memory_mb": 512, "extra_specs": extra_specs}})


def test_no_extra_specs_passes() -> None:
    assert caps({}) is True


def test_empty_cpu_info_fails_a_cpu_requirement() -> None:
    assert caps({"capabilities:cpu_info:vendor": "AMD"}, cpu_info=" { } ") is False


def test_cpu_info_as_json_text() -> None:
    assert caps({"capabilities:cpu_info:vendor": "AMD"}, cpu_info=CPU) is True
    assert caps({"capabilities:cpu_info:topology:threads": ">= 2"}, cpu_info=CPU) is True
    assert caps({"capabilities:cpu_info:features": "<all-in> svm aes"}, cpu_info=CPU) is True
    assert caps({"capabilities:cpu_info:features": "<all-in> avx512"}, cpu_info=CPU) is False


def test_cpu_info_as_mapping() -> None:
    assert caps({"capabilities:cpu_info:model": "s== EPYC"}, cpu_info=json.loads(CPU)) is True


def test_whole_cpu_info_unscoped_compares_the_text() -> None:
    assert caps({"cpu_info": CPU}, cpu_info=CPU) is True
    assert caps({"cpu_info": ""}, cpu_info=CPU) is False


def test_cpu_info_that_is_not_json_fails() -> None:
    assert caps({"capabilities:cpu_info:vendor": "AMD"}, cpu_info="not json") is False


def test_stats_simple() -> None:
    assert caps({"gpu": "2", "nic": "4"}, stats={"gpu": 2, "nic": 4}) is True
    assert caps({"gpu": "2", "nic": "444"}, stats={"gpu": 2, "nic": 4}) is False


def test_scoped_stat() -> None:
    assert caps({"capabilities:gpu": "2"}, stats={"gpu": 2}) is True


def test_key_named_like_the_scope() -> None:
    assert caps({"capabilities": "7"}, stats={"capabilities": 7}) is True


def test_specs_the_host_knows_nothing_of_are_ignored() -> None:
    assert caps({"quota:cpu_shares": "1024", "hw:cpu_policy": "dedicated", "ZZ": "1"}, stats={"gpu": 2}) is True


def test_nested_stats_through_the_scope_only() -> None:
    stats = {"pci": {"count": 3, "vendor": {"id": "8086"}}}
    assert caps({"pci:count": "9", "capabilities:pci:vendor:id": "8086"}, stats=stats) is True
    assert caps({"capabilities:pci:vendor:id": "10de"}, stats=stats) is False


def test_host_attributes_by_name() -> None:
    assert caps({"free_ram_mb": ">= 1024"}) is True
    assert caps({"free_ram_mb": "<= 1024"}) is False
    assert caps({"vcpus_used": "<= 8"}, vcpus_used=2) is True
    assert caps({"vcpus_used": ">= 8"}, vcpus_used=2) is False
    assert caps({"free_disk_mb": "0"}) is True
    assert caps({"free_disk_mb": "1"}) is False
    assert caps({"hypervisor_type": "s== QEMU"}) is True


def test_unknown_host_keys_become_stats() -> None:
    assert caps({"rack": "r12"}, rack="r12") is True


def test_maxphysaddr_bits() -> None:
    assert caps({"hw:maxphysaddr_bits": "46"}, cpu_info=CPU) is True
    assert caps({"hw:maxphysaddr_bits": "52"}, cpu_info=CPU) is False
