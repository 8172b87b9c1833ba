"""Resize, cold migration, confirm and revert as Nova's compute API checks and records them, and as the hypervisor
steps end them, against a real store (a SQLite file and a PostgreSQL server)."""
from __future__ import annotations

import datetime
import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions as rules
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.views import server_status
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, resize
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage, migration_records
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, leftovers, migrations

from test_server_actions import ADMIN, ALICE, BOB, caller, log, row

CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
                        {"id": "2", "name": "m1.small", "vcpus": 2, "ram": 1024, "disk": 2},
                        {"id": "0", "name": "m1.nano", "vcpus": 1, "ram": 256, "disk": 0},
                        {"id": "3", "name": "m1.big", "vcpus": 16, "ram": 1024, "disk": 2}],
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2"},
                       {"id": "img-2", "name": "bigmin", "file": "/nonexistent", "disk_format": "qcow2",
                        "min_ram": 768}],
    "stratus_networks": [{"id": "net-1", "name": "demo", "cidr": "10.9.0.0/29", "gateway": "10.9.0.1"}],
    "stratus_quotas": {"defaults": {"instances": 4, "cores": 20, "ram": 51200}},
}
HOSTVARS = {h: {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40} for h in ("hv1", "hv2")}
HOSTS = ["hv1", "hv2"]


@pytest.fixture()
def web(db_url: str) -> str:
    """An ACTIVE m1.tiny server web of alice's project on hv1; its uuid."""
    req = {"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}], "min_count": 1,
           "max_count": 1, "metadata": {}, "tags": [], "config_drive": True, "availability_zone": None}
    out = create_servers(req, caller(ALICE), CATALOG, ["hv1"], HOSTVARS, db_url, False, "req-create")
    uuid = out.servers[0]["id"]
    with store.transaction(db_url) as conn:
        lifecycle.mark_active(conn, uuid)
    return uuid


def ask_resize(db_url: str, ref: str, flavor: t.Optional[str] = "m1.small", who: t.Optional[dict] = None,
               check: bool = False, same_host: bool = False, hosts: t.Sequence[str] = tuple(HOSTS),
               quotas: t.Optional[dict] = None, target: t.Optional[str] = None) -> resize.MoveResult:
    action = rules.action_of("resize", flavor=flavor) if flavor else rules.action_of("migrate", host=target)
    return resize.request_move(ref, action, caller(who or ALICE), list(hosts), HOSTVARS, Catalog(CATALOG),
                               SchedulerConfig.from_dict(None), db_url, check, "req-move", flavor=flavor,
                               target=target, allow_same_host=same_host,
                               quotas=quotas or CATALOG["stratus_quotas"])


def record_of(db_url: str, uuid: str) -> t.Any:
    with store.transaction(db_url) as conn:
        return migration_records.latest(conn, uuid)


def claim_of(db_url: str, uuid: str) -> tuple:
    with store.transaction(db_url) as conn:
        c = conn.execute(sa.select(claims).where(claims.c.instance_uuid == uuid)).first()
        return (c.host, c.vcpus, c.memory_mb, c.disk_gb)


def walk_to_verify(db_url: str, uuid: str) -> None:
    """What the source's and the destination's steps record when they work."""
    with store.transaction(db_url, locked=True) as conn:
        for host, status, task in (("src", "migrating", "resize_migrating"), ("src", "post-migrating",
                                                                              "resize_migrated"),
                                   ("dest", "post-migrating", "resize_finish")):
            server = conn.execute(sa.select(resize.instances).where(resize.instances.c.uuid == uuid)).first()
            record = migration_records.latest(conn, uuid)
            resize.step_to(conn, server, record, task, status)
        server = conn.execute(sa.select(resize.instances).where(resize.instances.c.uuid == uuid)).first()
        resize.resize_finished(conn, server, migration_records.latest(conn, uuid), "hv2", lifecycle.now())


def test_resize_records_the_move_and_holds_the_old_claim(db_url: str, web: str) -> None:
    out = ask_resize(db_url, "web")
    assert (out.changed, out.first, out.then) == (True, "hv1", "hv2")
    server = row(db_url, web)
    assert (server.vm_state, server.task_state, server.host, server.flavor["name"]) == (
        "active", "resize_prep", "hv1", "m1.small")
    assert server_status(server.vm_state, server.task_state) == "RESIZE"
    plan = read_plan(server.plan)
    assert [d.size_bytes for d in plan.block_devices if d.kind == "image"] == [2 * 1024 ** 3]
    record = record_of(db_url, web)
    assert (record.migration_type, record.status, record.source_compute, record.dest_compute) == (
        "resize", "pre-migrating", "hv1", "hv2")
    assert read_plan(record.old_plan).flavor["name"] == "m1.tiny"
    # the claim is on hv2 with the new sizes; hv1 keeps the old ones while the record holds
    assert claim_of(db_url, web) == ("hv2", 2, 1024, 2)
    with store.transaction(db_url) as conn:
        used = host_usage.usage_by_host(conn)
    assert (used["hv1"]["vcpus"], used["hv1"]["memory_mb"]) == (1, 512)
    assert log(db_url, web)[-1] == ("resize", [])
    # asked again while under way: the same move, nothing new; another move is refused
    again = ask_resize(db_url, web)
    assert (again.changed, again.first, again.then) == (True, "hv1", "hv2")
    for flavor, who in (("m1.big", ALICE), (None, ADMIN)):
        with pytest.raises(StratusError) as err:
            ask_resize(db_url, web, flavor, who=who)
        assert err.value.code == "InstanceInvalidState"
    with store.transaction(db_url) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(migrations)).scalar() == 1


@pytest.mark.parametrize("flavor, code, field", [
    ("m1.tiny", "CannotResizeToSameFlavor", "flavor"),
    ("m1.nano", "CannotResizeDisk", "flavor"),
    ("nope", "FlavorNotFound", "flavor"),
])
def test_a_resize_is_checked_first_and_changes_nothing(db_url: str, web: str, flavor: str, code: str,
                                                       field: str) -> None:
    with pytest.raises(StratusError) as err:
        ask_resize(db_url, web, flavor)
    assert (err.value.code, err.value.field) == (code, field)
    assert row(db_url, web).task_state is None and record_of(db_url, web) is None


def test_the_disk_never_shrinks_and_the_image_fits_the_new_flavor(db_url: str, web: str) -> None:
    walk = ask_resize(db_url, web, "m1.small")
    assert walk.changed
    walk_to_verify(db_url, web)
    resize.request_confirm(web, caller(ALICE), db_url, False, "req-c")
    with store.transaction(db_url, locked=True) as conn:
        server = conn.execute(sa.select(resize.instances).where(resize.instances.c.uuid == web)).first()
        resize.confirmed(conn, server, migration_records.latest(conn, web), "hv1", lifecycle.now())
    with pytest.raises(StratusError) as err:  # m1.small (2 GB) to m1.tiny (1 GB)
        ask_resize(db_url, web, "m1.tiny")
    assert (err.value.code, err.value.message, err.value.field) == ("ResizeError", "Unable to resize disk down.",
                                                                    "flavor")


def test_the_upsize_must_fit_the_quota(db_url: str, web: str) -> None:
    with pytest.raises(StratusError) as err:
        ask_resize(db_url, web, "m1.big", quotas={"defaults": {"cores": 4}})
    assert err.value.code == "QuotaExceeded"
    assert err.value.message == "Quota exceeded for cores: Requested 15, but already used 1 of 4 cores"
    assert record_of(db_url, web) is None


def test_who_may_move_and_where(db_url: str, web: str) -> None:
    with pytest.raises(StratusError) as err:
        ask_resize(db_url, web, who=BOB)
    assert err.value.code == "InstanceNotFound"
    with pytest.raises(StratusError) as err:  # a cold migration is an admin's
        ask_resize(db_url, web, None, who=ALICE)
    assert err.value.code == "PolicyNotAuthorized"
    with pytest.raises(StratusError) as err:  # never to its own host
        ask_resize(db_url, web, None, who=ADMIN, target="hv1")
    assert err.value.code == "UnableToMigrateToSelf"
    with pytest.raises(StratusError) as err:  # one hypervisor, and a resize may not stay on it
        ask_resize(db_url, web, hosts=["hv1"])
    assert err.value.code == "NoValidHost"
    out = ask_resize(db_url, web, hosts=["hv1"], same_host=True)  # Nova's allow_resize_to_same_host
    assert (out.first, out.then) == ("hv1", "hv1")


def test_migrate_then_revert_puts_everything_back(db_url: str, web: str) -> None:
    before = claim_of(db_url, web)
    out = ask_resize(db_url, web, None, who=ADMIN)
    assert (out.first, out.then) == ("hv1", "hv2")
    assert record_of(db_url, web).migration_type == "migration"
    walk_to_verify(db_url, web)
    server = row(db_url, web)
    assert (server.vm_state, server.host, server_status(server.vm_state, server.task_state)) == (
        "resized", "hv2", "VERIFY_RESIZE")
    # the same request again changes nothing
    assert not ask_resize(db_url, web, None, who=ADMIN).changed
    # revert: the destination first, then the source
    out = resize.request_revert(web, caller(ALICE), db_url, False, "req-r")
    assert (out.first, out.then) == ("hv2", "hv1")
    assert server_status(row(db_url, web).vm_state, row(db_url, web).task_state) == "REVERT_RESIZE"
    with store.transaction(db_url, locked=True) as conn:
        [(server, record)] = resize.moving_on_host(conn, "hv2", ("reverting",), "dest")
        resize.reverted_on_dest(conn, server, record, "hv2", lifecycle.now())
        [(server, record)] = resize.moving_on_host(conn, "hv1", ("reverted",), "source")
        resize.revert_finished(conn, server, record, "hv1", lifecycle.now())
    server = row(db_url, web)
    assert (server.vm_state, server.task_state, server.host) == ("active", None, "hv1")
    assert server.flavor["name"] == "m1.tiny"
    assert claim_of(db_url, web) == before and record_of(db_url, web).status == "reverted"
    assert [a for a, _events in log(db_url, web)][-2:] == ["migrate", "revertResize"]
    # reverted: a second revert changes nothing, a confirm has nothing to confirm
    assert not resize.request_revert(web, caller(ALICE), db_url, False, "req-r2").changed
    with pytest.raises(StratusError) as err:
        resize.request_confirm(web, caller(ALICE), db_url, False, "req-c")
    assert err.value.code == "InstanceInvalidState"


def test_confirm_leaves_the_source_copy_as_a_leftover(db_url: str, web: str) -> None:
    with pytest.raises(StratusError) as err:  # nothing to confirm yet
        resize.request_confirm(web, caller(ALICE), db_url, False, "req-c")
    assert err.value.code == "InstanceInvalidState"
    ask_resize(db_url, web)
    walk_to_verify(db_url, web)
    out = resize.request_confirm(web, caller(ALICE), db_url, False, "req-c")
    assert out.first == "hv1" and record_of(db_url, web).status == "confirming"
    with store.transaction(db_url) as conn:
        left = conn.execute(sa.select(leftovers).where(leftovers.c.instance_uuid == web)).first()
    assert (left.host, left.vcpus, left.memory_mb, read_plan(left.plan).flavor["name"]) == ("hv1", 1, 512, "m1.tiny")
    # taken over when asked again before the step ended it
    assert resize.request_confirm(web, caller(ALICE), db_url, False, "req-c2").first == "hv1"
    with store.transaction(db_url, locked=True) as conn:
        [(server, record)] = resize.moving_on_host(conn, "hv1", ("confirming",), "source")
        resize.confirmed(conn, server, record, "hv1", lifecycle.now())
    server = row(db_url, web)
    assert (server.vm_state, server.host, record_of(db_url, web).status) == ("active", "hv2", "confirmed")
    assert not resize.request_confirm(web, caller(ALICE), db_url, False, "req-c3").changed


def test_a_failure_before_the_disks_left_rolls_back(db_url: str, web: str) -> None:
    ask_resize(db_url, web)
    with store.transaction(db_url, locked=True) as conn:
        [(server, record)] = resize.moving_on_host(conn, "hv1", ("pre-migrating",), "source")
        resize.resize_rolled_back(conn, server, record, "hv1", lifecycle.now(),
                                  {"code": "MigrationError", "message": "copy failed"})
    server = row(db_url, web)
    assert (server.vm_state, server.task_state, server.host) == ("active", None, "hv1")
    assert server.flavor["name"] == "m1.tiny"
    assert server.fault["message"] == "copy failed" and claim_of(db_url, web)[0] == "hv1"
    assert record_of(db_url, web).status == "error"
    assert log(db_url, web)[-1] == ("resize", [("compute_resize_instance", "Error")])


def test_the_confirm_window_confirms_old_resizes(db_url: str, web: str) -> None:
    ask_resize(db_url, web)
    walk_to_verify(db_url, web)
    assert resize.confirm_due(db_url, 0, False, "req-auto") == []           # 0: never
    assert resize.confirm_due(db_url, 3600, False, "req-auto") == []        # not that old yet
    with store.transaction(db_url) as conn:
        conn.execute(migrations.update().values(
            updated_at=lifecycle.now() - datetime.timedelta(seconds=7200)))
    [out] = resize.confirm_due(db_url, 3600, False, "req-auto")
    assert out.first == "hv1" and record_of(db_url, web).status == "confirming"
    assert resize.confirm_due(db_url, 3600, False, "req-auto") == []


def test_server_show_names_the_migration(db_url: str, web: str) -> None:
    with store.transaction(db_url) as conn:
        assert resize.migration_view(conn, web) is None
    ask_resize(db_url, web)
    with store.transaction(db_url) as conn:
        view = resize.migration_view(conn, web)
    assert {k: view[k] for k in ("type", "status", "source", "dest")} == {
        "type": "resize", "status": "pre-migrating", "source": "hv1", "dest": "hv2"}


def test_deleting_a_resized_server_confirms_its_move_first(db_url: str, web: str) -> None:
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.delete import delete_servers

    ask_resize(db_url, web)
    walk_to_verify(db_url, web)
    delete_servers({"name": "web", "state": "absent"}, caller(ALICE), db_url, False, "req-del")
    assert record_of(db_url, web).status == "confirmed"
    with store.transaction(db_url) as conn:
        left = conn.execute(sa.select(leftovers).where(leftovers.c.instance_uuid == web)).first()
        assert left.host == "hv1"                          # the source's copy, cleaned by the delete run
        assert host_usage.usage_by_host(conn)["hv1"]["memory_mb"] == 512   # held once, by the leftover
