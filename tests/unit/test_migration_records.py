"""The base of moves (resize, cold and live migration): Nova's rules for naming them, their statuses in the
views, migration records and the old resources a source holds, and the destination the scheduler picks,
against a real store (a SQLite file and a PostgreSQL server)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions as rules
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.views import server_status
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, move
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage, migration_records
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, instances

from test_server_actions import ALICE, CATALOG, caller

HOSTVARS = {h: {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40} for h in ("hv1", "hv2")}


@pytest.mark.parametrize("args, field", [
    (("resize",), "flavor"),                                  # a resize names its flavor
    (("stop", None, None, "m1.tiny"), "flavor"),               # and only a resize does
    (("stop", None, None, None, "hv2"), "host"),               # host: evacuate, migrate, live_migrate
    (("migrate", None, None, None, None, True), "force"),     # force: only with a host, not for migrate
    (("live_migrate", None, None, None, None, True), "force"),
    (("unknown",), "action"),
])
def test_a_request_names_what_its_action_takes(args: tuple, field: str) -> None:
    with pytest.raises(StratusError) as err:
        rules.action_of(*args)
    assert (err.value.code, err.value.field) == ("InvalidRequest", field)


def test_moves_have_novas_rules() -> None:
    assert rules.action_of("resize", flavor="m1.small").policy == "os_compute_api:servers:resize"
    assert rules.action_of("migrate", host="hv2").policy == "os_compute_api:os-migrate-server:migrate"
    live = rules.action_of("live_migrate", host="hv2", force=True)
    assert (live.policy, live.task_state, live.vm_states) == (
        "os_compute_api:os-migrate-server:migrate_live", "migrating", ("active",))
    assert rules.action_of("confirm_resize").task_state is None
    assert rules.action_of("revert_resize").task_state == "resize_reverting"
    # none of them is a power step's work
    assert not {"resize_prep", "migrating", "resize_reverting"} & set(rules.POWER_TASK_STATES)


@pytest.mark.parametrize("vm_state, task_state, status", [
    ("active", "resize_prep", "RESIZE"), ("stopped", "resize_migrating", "RESIZE"), ("active", "resize_finish", "RESIZE"),
    ("resized", None, "VERIFY_RESIZE"), ("resized", "resize_reverting", "REVERT_RESIZE"),
    ("active", "migrating", "MIGRATING"), ("active", None, "ACTIVE"),
])
def test_statuses_of_a_moving_server(vm_state: str, task_state: str, status: str) -> None:
    assert server_status(vm_state, task_state) == status


def test_a_migrations_source_holds_the_old_claim_until_it_ends(db_url: str) -> None:
    req = {"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}], "min_count": 1,
           "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    uuid = create_servers(req, caller(ALICE), CATALOG, ["hv1"], HOSTVARS, db_url, False, "req-create").servers[0]["id"]
    with store.transaction(db_url, locked=True) as conn:
        lifecycle.mark_active(conn, uuid)
        row = conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()
        before = host_usage.usage_by_host(conn)["hv1"]
        # the scheduler never picks the server's own host for a migration
        dest = move.select_destination(conn, row, read_plan(row.plan, uuid=uuid), row.flavor, ["hv1", "hv2"],
                                       HOSTVARS, Catalog(CATALOG), SchedulerConfig.from_dict(None))
        assert dest == "hv2"
        with pytest.raises(StratusError) as err:
            move.select_destination(conn, row, read_plan(row.plan, uuid=uuid), row.flavor, ["hv1", "hv2"],
                                    HOSTVARS, Catalog(CATALOG), SchedulerConfig.from_dict(None), target="hv1")
        assert (err.value.code, err.value.field) == ("UnableToMigrateToSelf", "host")
        record = migration_records.start(conn, row, "migration", dest, row.flavor, "pre-migrating", "req-1",
                                         lifecycle.now())
        # the claim moves to hv2; hv1 keeps the old resources while the record holds
        conn.execute(claims.update().where(claims.c.instance_uuid == uuid).values(host="hv2"))
        used = host_usage.usage_by_host(conn)
        assert used["hv1"] == before and used["hv2"]["memory_mb"] == before["memory_mb"]
        assert migration_records.in_progress(conn, uuid).id == record.id
        migration_records.set_status(conn, record.id, "confirmed", lifecycle.now())
        assert "hv1" not in host_usage.usage_by_host(conn)
        assert migration_records.in_progress(conn, uuid) is None
        assert [r.id for r in migration_records.records(conn, host="hv1")] == [record.id]
