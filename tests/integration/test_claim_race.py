"""Claims under a real race: separate OS processes, each with its own store connection, create at the
same instant against hosts that hold fewer servers than are asked for. On a SQLite file and on
PostgreSQL, no host may end past (total - reserved) x ratio on any resource, and exactly as many
servers as fit are created; everyone else gets NoValidHost.
"""
from __future__ import annotations

import typing as t

import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer

from race_helpers import race

CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
                        {"id": "2", "name": "m1.wide", "vcpus": 2, "ram": 256, "disk": 1}],
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "net-1", "name": "demo", "cidr": "10.9.0.0/24", "gateway": "10.9.0.1"}],
    "stratus_quotas": {"defaults": {"instances": 50, "cores": 100, "ram": 512000}},
}
# hv1: 4 vCPU, 1 reserved, ratio 2.0 -> 6 vCPU; RAM 4096 - 512 reserved at 1.0 -> 3584 MB (7 tiny).
# hv2: 2 vCPU at ratio 1.0 -> 2 vCPU; plenty of RAM. Together 8 vCPU for the whole race.
HOSTVARS = {
    "hv1": {"stratus_vcpus": 4, "stratus_reserved_host_cpus": 1, "stratus_cpu_allocation_ratio": 2.0,
            "stratus_memory_mb": 4096, "stratus_reserved_host_memory_mb": 512, "stratus_ram_allocation_ratio": 1.0,
            "stratus_local_gb": 40},
    "hv2": {"stratus_vcpus": 2, "stratus_cpu_allocation_ratio": 1.0, "stratus_memory_mb": 16384,
            "stratus_local_gb": 40},
}
LIMITS = {"hv1": (6, 3584, 40), "hv2": (2, 16384, 40)}
RACERS = 10


def racer(db_url: str, n: int, start: t.Any, out: t.Any) -> None:
    """One run: a project of its own (quota is not the limit here), 1 or 2 vCPU servers."""
    flavor = "m1.wide" if n % 3 == 0 else "m1.tiny"
    req = {"name": "race%d" % n, "flavor": flavor, "image": "guest", "networks": [{"name": "demo"}],
           "min_count": 1, "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    ctx = {"user_id": "u%d" % n, "project_id": "p%d" % n, "roles": ["member"]}
    start.wait()
    try:
        made = create_servers(req, Caller(ctx, Enforcer()), CATALOG, ["hv1", "hv2"], HOSTVARS, db_url, False, "req-race-%d" % n)
        out.put((n, "created", made.servers[0]["host"]))
    except StratusError as exc:
        out.put((n, exc.code, exc.message))
    except Exception as exc:  # a traceback in a racer must fail the test, not hang it
        out.put((n, "crash", repr(exc)))


def test_concurrent_runs_never_overcommit_a_host(db_url: str) -> None:
    # Create the schema first, so the race is about claims and not migrations.
    warm = create_servers({"name": "warm", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}],
                           "min_count": 1, "max_count": 1, "metadata": {}, "tags": [], "config_drive": True},
                          Caller({"user_id": "w", "project_id": "warm", "roles": ["member"]}, Enforcer()),
                          CATALOG, ["hv1", "hv2"], HOSTVARS, db_url, False, "req-warm")
    assert warm.changed
    results = race(racer, db_url, RACERS)
    outcomes = sorted(r[1] for r in results)
    assert "crash" not in outcomes, results
    assert set(outcomes) <= {"created", "NoValidHost"}, results
    assert "NoValidHost" in outcomes, "the race must ask for more than fits: %s" % results

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            used = {row[0]: tuple(row[1:]) for row in conn.execute(sa.text(
                "SELECT host, sum(vcpus), sum(memory_mb), sum(disk_gb) FROM resource_claims GROUP BY host"))}
            live = conn.execute(sa.text("SELECT count(*) FROM instances WHERE deleted = ''")).scalar()
            claimed = conn.execute(sa.text("SELECT count(DISTINCT instance_uuid) FROM resource_claims")).scalar()
    finally:
        engine.dispose()
    for host, (vcpus, ram, disk) in used.items():
        cap = LIMITS[host]
        assert vcpus <= cap[0] and ram <= cap[1] and disk <= cap[2], (host, used[host], cap)
    # No refusal was spurious: room only shrinks during the race, so a refused request must not fit
    # anywhere even now.
    free = {h: tuple(c - u for c, u in zip(cap, used.get(h, (0, 0, 0)))) for h, cap in LIMITS.items()}
    for n, outcome, _detail in results:
        if outcome == "NoValidHost":
            need = (2, 256, 1) if n % 3 == 0 else (1, 512, 1)
            assert not any(all(f >= w for f, w in zip(room, need)) for room in free.values()), (n, free)
    assert live == claimed == 1 + outcomes.count("created")
