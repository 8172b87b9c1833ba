"""Filter and weigher cases in the style of Nova's scheduler unit tests, run the way a user runs them:
`query('stratus.compute.scheduler', spec, host_states=..., explain=true)` in a real ansible-playbook.

All cases go through one playbook run (a loop), whose results are written as JSON and checked here.
"""
from __future__ import annotations

import json
import subprocess
import typing as t

import pytest

from frontend_helpers import ROOT, VENV_BIN

PLAYBOOK = """---
- name: Ask the scheduler, as a user would
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Every case through the lookup
      ansible.builtin.set_fact:
        answers: "{{ answers | default({}) | combine({item.key: query('stratus.compute.scheduler', *item.value.specs,
                     host_states=item.value.hosts, config=item.value.config | default({}), explain=true,
                     seed=7)}) }}"
      loop: "{{ cases | dict2items }}"
      loop_control:
        label: "{{ item.key }}"
    - name: Write the answers
      ansible.builtin.copy:
        content: "{{ answers | to_nice_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def host(name: str, **kw: t.Any) -> dict[str, t.Any]:
    """A host state with Nova's field names: 4 vCPU, 2048 MB, 20 GB, all free, unless told."""
    state: dict[str, t.Any] = {"host": name, "vcpus": 4, "vcpus_used": 0, "memory_mb": 2048, "free_ram_mb": 2048,
                               "local_gb": 20, "free_disk_mb": 20 * 1024, "num_instances": 0}
    state.update(kw)
    return state


def spec(vcpus: int = 1, memory_mb: int = 512, root_gb: int = 1, **kw: t.Any) -> dict[str, t.Any]:
    flavor = {"vcpus": vcpus, "memory_mb": memory_mb, "root_gb": root_gb, "extra_specs": kw.pop("extra_specs", {})}
    return dict({"flavor": flavor, "project_id": "p1"}, **kw)


CASES: dict[str, dict[str, t.Any]] = {
    # ComputeFilter: a disabled service and a down one take nothing
    "compute_service": {"hosts": [host("h1", service={"disabled": True}), host("h2", service={"up": False}),
                                  host("h3")], "specs": [spec()]},
    # the placement rule: (total - reserved) x ratio; 4 x 1.5 = 6 vCPU with 5 used leaves 1
    "vcpu_ratio": {"hosts": [host("h1", vcpus_used=5, cpu_allocation_ratio=1.5),
                             host("h2", vcpus_used=4, cpu_allocation_ratio=1.5, reserved_host_cpus=1),
                             host("h3", vcpus_used=6, cpu_allocation_ratio=2.0)],
                   "specs": [spec(vcpus=2)]},
    # Nova's free_ram_mb already has the reserved memory taken off: h1 runs 2048 - 512 - 768 = 768 MB
    "ram_reserved": {"hosts": [host("h1", free_ram_mb=768, reserved_host_memory_mb=512, ram_allocation_ratio=1.0),
                               host("h2", free_ram_mb=1024, ram_allocation_ratio=1.5)],
                     "specs": [spec(memory_mb=1024)]},
    # ComputeCapabilitiesFilter with Nova's operators on cpu_info and stats
    "capabilities": {"hosts": [host("h1", cpu_info={"arch": "x86_64", "features": ["avx", "sse4.2"]},
                                    stats={"gpu": "2"}),
                               host("h2", cpu_info={"arch": "aarch64", "features": ["neon"]}, stats={"gpu": "4"}),
                               host("h3", cpu_info={"arch": "x86_64", "features": ["sse4.2"]}, stats={"gpu": "8"})],
                     "specs": [spec(extra_specs={"capabilities:cpu_info:arch": "s== x86_64",
                                                 "capabilities:cpu_info:features": "<in> avx",
                                                 "capabilities:gpu": ">= 2"})]},
    # ImagePropertiesFilter: architecture, hypervisor type and vm mode in one supported_instances entry
    "image_properties": {"hosts": [host("h1", supported_instances=[["x86_64", "qemu", "hvm"]]),
                                   host("h2", supported_instances=[["aarch64", "qemu", "hvm"]]),
                                   host("h3")],
                         "specs": [spec(image={"properties": {"hw_architecture": "aarch64",
                                                              "img_hv_type": "qemu"}})]},
    # AggregateMultiTenancyIsolation: a tenant-bound aggregate takes only its tenants
    "tenant_isolation": {"hosts": [host("h1", aggregates=[{"name": "a", "hosts": ["h1"],
                                                           "metadata": {"filter_tenant_id": "p2,p3"}}]),
                                   host("h2", free_ram_mb=512 + 1, aggregates=[
                                       {"name": "b", "hosts": ["h2"], "metadata": {"filter_tenant_id": "p1"}}])],
                         "config": {"enabled_filters": ["ComputeFilter", "RamFilter",
                                                        "AggregateMultiTenancyIsolation"]},
                         "specs": [spec()]},
    # ServerGroupAntiAffinityFilter: one member per host
    "anti_affinity": {"hosts": [host("h1", instances=["m1"]), host("h2"), host("h3", instances=["m2"])],
                      "specs": [spec(instance_group={"policy": "anti-affinity", "members": ["m1", "m2"],
                                                     "hosts": ["h1", "h3"]})]},
    # SameHostFilter / DifferentHostFilter hints (not among Nova's default filters)
    "different_host": {"hosts": [host("h1", instances=["u1"]), host("h2", instances=["u2"]), host("h3")],
                       "config": {"enabled_filters": ["ComputeFilter", "RamFilter", "DifferentHostFilter"]},
                       "specs": [spec(scheduler_hints={"different_host": ["u1", "u3"]})]},
    # RAMWeigher with a negative multiplier stacks: the fullest host that fits wins
    "ram_stacking": {"hosts": [host("h1", free_ram_mb=2048), host("h2", free_ram_mb=1024),
                               host("h3", free_ram_mb=1536)],
                     "config": {"ram_weight_multiplier": -1.0, "cpu_weight_multiplier": 0.0,
                                "disk_weight_multiplier": 0.0},
                     "specs": [spec()]},
    # per-aggregate multiplier overrides the configured one for that host
    "aggregate_multiplier": {"hosts": [host("h1", free_ram_mb=2048),
                                       host("h2", free_ram_mb=1024, aggregates=[
                                           {"name": "pack", "hosts": ["h2"],
                                            "metadata": {"ram_weight_multiplier": "-3.0"}}])],
                             "config": {"cpu_weight_multiplier": 0.0, "disk_weight_multiplier": 0.0},
                             "specs": [spec()]},
    # multi-create consumes each chosen host before the next instance: 2 fit per host
    "multi_create": {"hosts": [host("h1", memory_mb=1024, free_ram_mb=1024),
                               host("h2", memory_mb=1024, free_ram_mb=1024)],
                     "config": {"ram_weight_multiplier": 1.0},
                     "specs": [spec(memory_mb=512, num_instances=4)]},
    # nothing fits: an entry with host null, the error, and why each host said no
    "no_valid_host": {"hosts": [host("h1", vcpus_used=4, cpu_allocation_ratio=1.0),
                                host("h2", free_ram_mb=128, ram_allocation_ratio=1.0),
                                host("h3", service={"disabled": True})],
                      "specs": [spec()]},
}


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, t.Any]]]:
    tmp = tmp_path_factory.mktemp("lookup")
    (tmp / "cases.yml").write_text(PLAYBOOK)
    out = tmp / "answers.json"
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), str(tmp / "cases.yml"),
         "-e", json.dumps({"cases": CASES, "out": str(out)})],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def rejected(entry: dict[str, t.Any]) -> dict[str, t.Optional[str]]:
    return {h: why["rejected_by"] for h, why in entry["explain"].items()}


def test_compute_filter(answers: dict) -> None:
    (entry,) = answers["compute_service"]
    assert entry["host"] == "h3"
    assert rejected(entry) == {"h1": "ComputeFilter", "h2": "ComputeFilter", "h3": None}


def test_vcpu_fit_uses_reserved_and_ratio(answers: dict) -> None:
    (entry,) = answers["vcpu_ratio"]
    # h1: 5 + 2 > 6; h2: 4 + 2 > (4 - 1) x 1.5 = 4.5; h3: 6 + 2 <= 8
    assert entry["host"] == "h3"
    assert rejected(entry) == {"h1": "VCPUFilter", "h2": "VCPUFilter", "h3": None}


def test_ram_fit_uses_reserved_and_ratio(answers: dict) -> None:
    (entry,) = answers["ram_reserved"]
    # h1: used 768 + 1024 > 2048 - 512; h2: used 1024 + 1024 <= 2048 x 1.5
    assert rejected(entry) == {"h1": "RamFilter", "h2": None} and entry["host"] == "h2"


def test_capabilities_operators(answers: dict) -> None:
    (entry,) = answers["capabilities"]
    assert rejected(entry) == {"h1": None, "h2": "ComputeCapabilitiesFilter", "h3": "ComputeCapabilitiesFilter"}


def test_image_properties(answers: dict) -> None:
    (entry,) = answers["image_properties"]
    # h3 reports no supported instances: an image that asks for an architecture cannot go there
    assert rejected(entry) == {"h1": "ImagePropertiesFilter", "h2": None, "h3": "ImagePropertiesFilter"}


def test_tenant_isolation(answers: dict) -> None:
    (entry,) = answers["tenant_isolation"]
    assert rejected(entry) == {"h1": "AggregateMultiTenancyIsolation", "h2": None} and entry["host"] == "h2"


def test_anti_affinity(answers: dict) -> None:
    (entry,) = answers["anti_affinity"]
    assert entry["host"] == "h2"
    assert rejected(entry) == {"h1": "ServerGroupAntiAffinityFilter", "h2": None,
                               "h3": "ServerGroupAntiAffinityFilter"}


def test_different_host_hint(answers: dict) -> None:
    (entry,) = answers["different_host"]
    assert rejected(entry)["h1"] == "DifferentHostFilter" and entry["host"] in ("h2", "h3")


def test_negative_ram_multiplier_stacks(answers: dict) -> None:
    (entry,) = answers["ram_stacking"]
    assert entry["host"] == "h2" and entry["alternates"] == ["h3", "h1"]
    weights = {h: e["weights"]["RAMWeigher"] for h, e in entry["explain"].items()}
    # minval 0: free RAM as a share of the most free, times -1
    assert weights == {"h1": -1.0, "h2": -0.5, "h3": -0.75}


def test_aggregate_multiplier_overrides_config(answers: dict) -> None:
    (entry,) = answers["aggregate_multiplier"]
    weights = {h: e["weights"]["RAMWeigher"] for h, e in entry["explain"].items()}
    assert weights == {"h1": 1.0, "h2": -1.5} and entry["host"] == "h1"


def test_multi_create_consumes_the_chosen_host(answers: dict) -> None:
    hosts = [e["host"] for e in answers["multi_create"]]
    assert len(hosts) == 4 and sorted(hosts) == ["h1", "h1", "h2", "h2"]


def test_no_valid_host_explains_every_host(answers: dict) -> None:
    (entry,) = answers["no_valid_host"]
    assert entry["host"] is None and entry["error"]["code"] == "NoValidHost"
    assert rejected(entry) == {"h1": "VCPUFilter", "h2": "RamFilter", "h3": "ComputeFilter"}
