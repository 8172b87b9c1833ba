"""Live migration as Nova's conductor checks and records it, and as the hypervisor steps end it (post or
rollback), against a real store (a SQLite file and a PostgreSQL server)."""
from __future__ import annotations

import types
import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.action import compute_live_migration as source_step
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.live_migration import LiveMigrationStep
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, live_migrate
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage, migration_records
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, instances, leftovers

from test_server_actions import ADMIN, ALICE, CATALOG, caller, log, row

SIZES = {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40}
HOSTVARS = {h: dict(SIZES, stratus_migration_address="10.245.251.%d" % k,
                    stratus_migration_uri="qemu+tcp://10.245.251.%d/system" % k)
            for k, h in enumerate(("hv1", "hv2", "hv3"), 1)}


@pytest.fixture()
def web(db_url: str) -> str:
    """An ACTIVE server web of alice's project on hv1; its uuid."""
    req = {"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}], "min_count": 1,
           "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    uuid = create_servers(req, caller(ALICE), CATALOG, ["hv1"], HOSTVARS, db_url, False, "req-create").servers[0]["id"]
    with store.transaction(db_url) as conn:
        lifecycle.mark_active(conn, uuid)
    return uuid


def live(db_url: str, ref: str, who: t.Optional[dict] = None, target: t.Optional[str] = None, force: bool = False,
         hostvars: t.Optional[dict] = None, check: bool = False,
         hypervisors: t.Sequence[str] = ("hv1", "hv2")) -> live_migrate.LiveMigration:
    return live_migrate.request_live_migrate(ref, caller(who or ADMIN), list(hypervisors), hostvars or HOSTVARS,
                                             Catalog(CATALOG, CATALOG), SchedulerConfig.from_dict(None), target,
                                             force, db_url, check, "req-live")


def claim_hosts(db_url: str, uuid: str) -> list[str]:
    with store.transaction(db_url) as conn:
        return [c.host for c in conn.execute(sa.select(claims).where(claims.c.instance_uuid == uuid))]


def record(db_url: str, uuid: str) -> t.Any:
    with store.transaction(db_url) as conn:
        return migration_records.latest(conn, uuid)


def test_a_live_migration_is_recorded_as_nova_does(db_url: str, web: str) -> None:
    out = live(db_url, web)
    assert out.changed and (out.host, out.dest) == ("hv1", "hv2") and out.server["task_state"] == "migrating"
    assert out.server["status"] == "MIGRATING"
    moved = row(db_url, web)
    assert (moved.host, moved.vm_state, moved.task_state) == ("hv1", "active", "migrating")
    assert claim_hosts(db_url, web) == ["hv2"]
    rec = record(db_url, web)
    assert (rec.migration_type, rec.source_compute, rec.dest_compute, rec.status) == (
        "live-migration", "hv1", "hv2", "queued")
    with store.transaction(db_url) as conn:  # the source keeps the old resources while it holds
        used = host_usage.usage_by_host(conn)
        assert used["hv1"]["memory_mb"] == used["hv2"]["memory_mb"] == 512
        assert [r.uuid for r, _m in live_migrate.migrating_to(conn, "hv2")] == [web]
        assert live_migrate.migrating_to(conn, "hv1") == [] and live_migrate.migrating_from(conn, "hv1") == []
    assert log(db_url, web)[-1] == ("live-migration", [("conductor_live_migrate_instance", "Success")])
    # asked again before the steps ran (a killed run): taken over, nothing recorded twice
    again = live(db_url, web)
    assert (again.host, again.dest) == ("hv1", "hv2") and len(log(db_url, web)) == 2
    with store.transaction(db_url) as conn:
        assert len(migration_records.records(conn, web)) == 1


@pytest.mark.parametrize("who, target, force, code, field", [
    (ALICE, None, False, "PolicyNotAuthorized", "action"),        # admin only
    (ADMIN, "hv1", False, "UnableToMigrateToSelf", "host"),
    (ADMIN, "hv9", False, "ComputeHostNotFound", "host"),
])
def test_refusals_change_nothing(db_url: str, web: str, who: dict, target: t.Optional[str], force: bool, code: str,
                                 field: str) -> None:
    with pytest.raises(StratusError) as err:
        live(db_url, web, who, target, force)
    assert (err.value.code, err.value.field) == (code, field)
    assert (row(db_url, web).task_state, claim_hosts(db_url, web), record(db_url, web)) == (None, ["hv1"], None)


def test_a_host_that_does_not_pass_the_filters_is_no_valid_host_unless_forced(db_url: str, web: str) -> None:
    small = dict(HOSTVARS, hv2=dict(HOSTVARS["hv2"], stratus_memory_mb=256))
    with pytest.raises(StratusError) as err:
        live(db_url, web, target="hv2", hostvars=small)
    assert err.value.code == "NoValidHost"
    assert (row(db_url, web).task_state, claim_hosts(db_url, web)) == (None, ["hv1"])
    out = live(db_url, web, target="hv2", force=True, hostvars=small)
    assert out.dest == "hv2" and claim_hosts(db_url, web) == ["hv2"]


def test_a_stopped_server_is_instance_invalid_state(db_url: str, web: str) -> None:
    with store.transaction(db_url) as conn:
        conn.execute(instances.update().where(instances.c.uuid == web).values(vm_state="stopped"))
    with pytest.raises(StratusError) as err:
        live(db_url, web)
    assert err.value.code == "InstanceInvalidState" and record(db_url, web) is None


@pytest.mark.parametrize("host, var, value", [
    ("hv1", "stratus_migration_uri", None),                                   # the source's
    ("hv2", "stratus_migration_uri", None),                                   # the destination's
    ("hv2", "stratus_migration_address", None),
    ("hv2", "stratus_migration_uri", "qemu+tcp://10.0.0.1/system?socket=/x"),  # whole, or refused
    ("hv2", "stratus_migration_uri", "qemu+tcp://user@10.0.0.1/system"),       # a user with ssh only
    ("hv2", "stratus_migration_address", "10.0.0.1; reboot"),
])
def test_both_hosts_need_their_migration_variables(db_url: str, web: str, host: str, var: str,
                                                   value: t.Optional[str]) -> None:
    hostvars = dict(HOSTVARS, **{host: {k: v for k, v in HOSTVARS[host].items() if k != var}})
    if value is not None:
        hostvars[host][var] = value
    with pytest.raises(StratusError) as err:
        live(db_url, web, hostvars=hostvars)
    if value is None or err.value.code == "MigrationPreCheckError":
        assert (err.value.code, err.value.field) == ("MigrationPreCheckError", var) and host in err.value.message
    else:  # the inventory's schema (schemas/hypervisor.json) refuses some malformed values first
        assert err.value.code == "InvalidCatalog" and var in err.value.message + str(err.value.field)
    assert record(db_url, web) is None and claim_hosts(db_url, web) == ["hv1"]


def test_a_bare_metal_server_is_refused(db_url: str, web: str) -> None:
    with store.transaction(db_url) as conn:
        plan = conn.execute(sa.select(instances.c.plan).where(instances.c.uuid == web)).scalar()
        conn.execute(instances.update().where(instances.c.uuid == web).values(plan=dict(plan, driver="baremetal")))
    with pytest.raises(StratusError) as err:
        live(db_url, web)
    assert err.value.code == "InvalidRequest" and record(db_url, web) is None


def test_check_mode_writes_nothing(db_url: str, web: str) -> None:
    out = live(db_url, web, check=True)
    assert out.changed and out.dest == "hv2"
    assert (row(db_url, web).task_state, claim_hosts(db_url, web), record(db_url, web)) == (None, ["hv1"], None)


def prepare(db_url: str, uuid: str, path: str = "/dst/disk") -> t.Any:
    with store.transaction(db_url, locked=True) as conn:
        ((_row, rec),) = live_migrate.migrating_to(conn, "hv2", [uuid])
        live_migrate.set_status(conn, rec, "preparing")
        live_migrate.prepared(conn, uuid, [{"name": "root", "device_name": "vda", "path": path}])
        ((_row, rec),) = live_migrate.migrating_from(conn, "hv1", [uuid])
    return rec


def test_post_live_migration_makes_the_server_the_destinations(db_url: str, web: str) -> None:
    live(db_url, web)
    rec = prepare(db_url, web)
    assert row(db_url, web).host == "hv1" and read_plan(row(db_url, web).plan).disks[0]["path"] == "/dst/disk"
    live_migrate.completed(db_url, web, rec.id, lifecycle.now(), "from hv1 to hv2 in 3.0 s")
    done = row(db_url, web)
    assert (done.host, done.vm_state, done.power_state, done.task_state, done.fault) == (
        "hv2", "active", "running", None, None)
    assert record(db_url, web).status == "completed" and claim_hosts(db_url, web) == ["hv2"]
    with store.transaction(db_url) as conn:
        assert "hv1" not in host_usage.usage_by_host(conn)  # the source's hold released
        assert live_migrate.migrating_from(conn, "hv1") == []
    assert log(db_url, web)[-1] == ("live-migration", [("conductor_live_migrate_instance", "Success"),
                                                       ("compute_live_migration", "Success")])
    # the source's step says no host has leftovers: action_steps.yml's clean-up play then runs nowhere; in check
    # mode or when the step failed as a whole it says nothing, and every destination of the run is cleaned
    assert source_step_result(db_url, {"changed": True}) == {"changed": True, "leftover_hosts": []}
    assert "leftover_hosts" not in source_step_result(db_url, {"changed": False}, check_mode=True)
    assert "leftover_hosts" not in source_step_result(db_url, {"failed": True, "error": {"code": "X"}})
    # asked again with the host it is on: nothing to do (a rerun); without a host it would move again
    again = live(db_url, web, target="hv2")
    assert not again.changed and len(log(db_url, web)) == 2


def test_a_source_that_cannot_be_cleaned_keeps_a_leftover(db_url: str, web: str) -> None:
    live(db_url, web)
    rec = prepare(db_url, web)
    live_migrate.completed(db_url, web, rec.id, lifecycle.now(), "done", source_left="pool busy")
    with store.transaction(db_url) as conn:
        left = list(conn.execute(sa.select(leftovers).where(leftovers.c.instance_uuid == web)))
    assert [(x.host, x.addresses) for x in left] == [("hv1", [])] and "pool busy" in left[0].reason


def source_step_result(db_url: str, step: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    """compute_live_migration's action plugin's result, its step (LiveMigrationStep.run) answering `step`."""
    module = object.__new__(source_step.ActionModule)
    module._task = types.SimpleNamespace(check_mode=check_mode, args={"db_url": db_url})
    module._templar = types.SimpleNamespace(template=lambda value: value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LiveMigrationStep, "run", lambda self, tmp=None, task_vars=None: dict(step))
        return module.run(None, {})


@pytest.mark.parametrize("lost", [False, True])
def test_rollback_puts_everything_back_on_the_source(db_url: str, web: str, lost: bool) -> None:
    before = row(db_url, web).plan
    live(db_url, web)
    rec = prepare(db_url, web)
    fault = {"code": "MigrationError", "message": "live migration of x failed: boom", "host": "hv1"}
    live_migrate.rolled_back(db_url, web, rec.id, lifecycle.now(), fault, dest_cleaned=False, lost=lost)
    back = row(db_url, web)
    assert (back.host, back.vm_state, back.task_state) == ("hv1", "error" if lost else "active", None)
    assert back.fault["code"] == "MigrationError" and back.plan == before
    assert claim_hosts(db_url, web) == ["hv1"] and record(db_url, web).status == ("error" if lost else "failed")
    with store.transaction(db_url) as conn:
        left = list(conn.execute(sa.select(leftovers).where(leftovers.c.instance_uuid == web)))
        used = host_usage.usage_by_host(conn)
    # the destination's half is a leftover there (its resources held until it is cleaned), no address kept
    assert [(x.host, x.addresses) for x in left] == [("hv2", [])]
    assert [d.kind for d in read_plan(left[0].plan).block_devices] == ["image"]
    with store.transaction(db_url) as conn:  # what the source's step reports: the clean-up play runs on hv2
        assert lifecycle.hosts_with_leftovers(conn) == ["hv2"]
    assert used["hv1"]["memory_mb"] == used["hv2"]["memory_mb"] == 512
    assert log(db_url, web)[-1][1][-1] == ("compute_live_migration", "Error")
    # the source's step says so after its migrations: action_steps.yml's clean-up play then runs on hv2 alone
    assert source_step_result(db_url, {"changed": True}) == {"changed": True, "leftover_hosts": ["hv2"]}
    # ended once: a second end (a rerun racing) changes nothing
    live_migrate.completed(db_url, web, rec.id, lifecycle.now(), "late")
    assert row(db_url, web).host == "hv1"
