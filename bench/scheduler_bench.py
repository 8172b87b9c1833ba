# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placements per second of the scheduler at 100, 1,000 and 10,000 hosts (make bench-scheduler).

What is timed: ``FilterScheduler.select_destinations`` on host states that are built
beforehand (not timed) and consumed by every placement, as the conductor's multi-create
and a stream of requests would. Each scenario runs ``--repeats`` times on a fresh fleet
and seed; the median is reported with the spread. No assertion: the numbers are reported.

Scenarios:
  default    the default filters and weighers and config (hosts_to_score 100), explain off,
             single-instance requests of one flavor: the issue's 1000 placements/s target.
  realistic  explain off, more filters (aggregate extra specs, tenant isolation, instance and
             io-op limits, different_host), a fleet with zones, aggregates, networks, failed
             builds and uneven load, and a request mix: 4 flavors, a zone in half of them,
             extra specs in a quarter, anti-affinity groups, and some 2-4 instance requests.
  exact      the default one with hosts_to_score 0: every host evaluated, Nova's result
             (a time budget caps the placements; the point is the contrast).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import typing as t

# The collection is importable in .venv (setup/bootstrap.sh): the scheduler is pure Python.
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SIZES = (100, 1000, 10000)
FLAVORS = [{"vcpus": 1, "memory_mb": 1024, "root_gb": 10}, {"vcpus": 2, "memory_mb": 4096, "root_gb": 20},
           {"vcpus": 4, "memory_mb": 8192, "root_gb": 40, "ephemeral_gb": 10},
           {"vcpus": 8, "memory_mb": 16384, "root_gb": 80, "swap": 2048}]
REALISTIC_FILTERS = [
    "ComputeFilter", "AvailabilityZoneFilter", "VCPUFilter", "RamFilter", "DiskFilter", "NetworkFilter",
    "ComputeCapabilitiesFilter", "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter",
    "AggregateInstanceExtraSpecsFilter", "AggregateMultiTenancyIsolation", "NumInstancesFilter", "IoOpsFilter",
    "DifferentHostFilter",
]


def plain_fleet(n: int, rng: random.Random) -> list[HostState]:
    return [HostState(host="hv%05d" % i, vcpus=64, memory_mb=262144, local_gb=4000, cpu_allocation_ratio=4.0,
                      ram_allocation_ratio=1.0, vcpus_used=rng.randrange(0, 64),
                      memory_mb_used=rng.randrange(0, 131072), local_gb_used=rng.randrange(0, 2000))
            for i in range(n)]


def realistic_fleet(n: int, rng: random.Random) -> list[HostState]:
    aggregates = [
        {"name": "ssd", "hosts": [], "metadata": {"disk": "ssd"}},
        {"name": "gpu", "hosts": [], "metadata": {"gpu": "a100", "ram_weight_multiplier": "0.5"}},
        {"name": "tenant-x", "hosts": [], "metadata": {"filter_tenant_id": "project-x"}},
    ]
    fleet = []
    for i in range(n):
        member = [a for a, p in zip(aggregates, (0.3, 0.05, 0.02)) if rng.random() < p]
        vcpus = rng.choice([32, 64, 96])
        memory = rng.choice([131072, 262144, 524288])
        fleet.append(HostState(
            host="hv%05d" % i, vcpus=vcpus, memory_mb=memory, local_gb=rng.choice([2000, 4000]),
            vcpus_used=rng.randrange(0, vcpus * 2), memory_mb_used=rng.randrange(0, memory // 2),
            local_gb_used=rng.randrange(0, 1500), cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
            num_instances=rng.randrange(0, 30), num_io_ops=rng.randrange(0, 4),
            failed_builds=1 if rng.random() < 0.01 else 0, availability_zone="az%d" % (i % 3),
            aggregates=member, networks=["net-a", "net-b"] if rng.random() < 0.95 else ["net-a"],
            hypervisor_version=rng.choice([8002000, 9001000]),
            supported_instances=[["x86_64", "kvm", "hvm"]],
            service={"disabled": rng.random() < 0.01, "up": rng.random() > 0.005},
            instances=["inst-%d-%d" % (i, k) for k in range(3)]))
    return fleet


def default_requests(rng: random.Random) -> t.Iterator[RequestSpec]:
    while True:
        yield RequestSpec(flavor=dict(FLAVORS[1]))


def realistic_requests(rng: random.Random, n: int) -> t.Iterator[RequestSpec]:
    serial = 0
    while True:
        serial += 1
        flavor = dict(rng.choice(FLAVORS))
        if rng.random() < 0.25:
            flavor["extra_specs"] = {"disk": "ssd"}
        group = None
        if rng.random() < 0.1:
            group = {"policy": "anti-affinity", "hosts": [], "members": []}
        hints = {}
        if rng.random() < 0.1:
            hints["different_host"] = ["inst-%d-0" % rng.randrange(n)]
        yield RequestSpec(
            flavor=flavor, num_instances=rng.choice([1, 1, 1, 1, 1, 1, 2, 3, 4]),
            image={"id": "img", "properties": {"hw_architecture": "x86_64"}},
            availability_zone="az%d" % rng.randrange(3) if rng.random() < 0.5 else None,
            scheduler_hints=hints, instance_group=group,
            project_id="project-x" if rng.random() < 0.05 else "project-%d" % (serial % 50),
            requested_networks=["net-a", "net-b"] if rng.random() < 0.5 else ["net-a"])


SCENARIOS: dict[str, dict[str, t.Any]] = {
    "default": {"config": {}, "fleet": plain_fleet, "requests": "default"},
    "realistic": {"config": {"enabled_filters": REALISTIC_FILTERS}, "fleet": realistic_fleet, "requests": "realistic"},
    "exact": {"config": {"hosts_to_score": 0}, "fleet": plain_fleet, "requests": "default"},
}


def run_once(scenario: str, size: int, placements: int, seed: int, budget: float) -> dict[str, t.Any]:
    """One timed run: as many placements as asked (or as fit in the time budget)."""
    spec = SCENARIOS[scenario]
    rng = random.Random(seed)
    fleet = spec["fleet"](size, rng)
    scheduler = FilterScheduler(SchedulerConfig.from_dict(spec["config"]), random.Random(seed))
    requests = default_requests(rng) if spec["requests"] == "default" else realistic_requests(rng, size)
    done = refused = 0
    start = time.perf_counter()
    deadline = start + budget
    while done < placements and time.perf_counter() < deadline:
        request = next(requests)
        try:
            done += len(scheduler.select_destinations(fleet, request))
        except Exception as exc:  # NoValidHost: counts as a placement attempt, reported apart
            if getattr(exc, "code", None) != "NoValidHost":
                raise
            refused += 1
            done += 1
    elapsed = time.perf_counter() - start
    return {"placements": done, "refused": refused, "seconds": elapsed, "per_second": done / elapsed}


def bench(sizes: t.Sequence[int], scenarios: t.Sequence[str], repeats: int, placements: int,
          budget: float) -> dict[str, t.Any]:
    results: dict[str, t.Any] = {}
    for scenario in scenarios:
        results[scenario] = {}
        for size in sizes:
            runs = [run_once(scenario, size, placements, 1000 * r + size, budget) for r in range(repeats)]
            rates = [r["per_second"] for r in runs]
            results[scenario][str(size)] = {
                "placements_per_second_median": round(statistics.median(rates), 1),
                "placements_per_second_min": round(min(rates), 1),
                "placements_per_second_max": round(max(rates), 1),
                "placements_per_run": [r["placements"] for r in runs],
                "no_valid_host_per_run": [r["refused"] for r in runs],
                "repeats": repeats,
            }
            print("%-9s %6d hosts: %8.1f placements/s (median of %d)" % (
                scenario, size, statistics.median(rates), repeats), file=sys.stderr)
    return results


def machine() -> dict[str, t.Any]:
    info: dict[str, t.Any] = {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                              "implementation": platform.python_implementation(), "platform": platform.platform(),
                              "machine": platform.machine()}
    try:
        with open("/proc/cpuinfo") as handle:
            models = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        if models:
            info["cpu_model"] = models[0]
    except OSError:
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--placements", type=int, default=2000, help="placements per timed run")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds at most per timed run")
    parser.add_argument("--output", default=os.path.join(ROOT, "bench-scheduler.json"))
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats: at least 3, the report is a median")
    info = machine()
    results = bench(args.sizes, args.scenarios, args.repeats, args.placements, args.budget)
    report = {
        "benchmark": "stratus scheduler placements per second",
        "measured": "FilterScheduler.select_destinations per placement (one instance placed = one placement), "
                    "host states prebuilt and consumed by each placement, explain off; median of repeats",
        "machine": info,
        "parameters": {"sizes": args.sizes, "repeats": args.repeats, "placements_per_run": args.placements,
                       "time_budget_seconds_per_run": args.budget},
        "results": results,
    }
    text = json.dumps(report, indent=2)
    with open(args.output, "w") as handle:
        handle.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
