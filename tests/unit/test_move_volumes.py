"""Moves of a server with volumes (a volume root and a data volume, local to the host's stratus-volumes pool):
resize, cold migration and live migration take them along. The conductor's side against a real store (a SQLite
file and a PostgreSQL server): the request, the scheduler's room for the volumes, the volume rows' host, and what
each end leaves to clean (the other host's copies of the volumes go, never the server's own)."""
from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, live_migrate, move, resize
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import migration_records
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import leftovers, volumes

import test_live_migration as lm
import test_resize as rs
from test_server_actions import ADMIN, ALICE, caller, row

GiB = 1024 ** 3


@pytest.fixture()
def bfv(db_url: str) -> str:
    """An ACTIVE m1.tiny server of alice's on hv1 booted from a 2 GiB volume (deleted with it) with a 1 GiB data
    volume (kept); its uuid."""
    req = {"name": "bfv", "flavor": "m1.tiny", "networks": [{"name": "demo"}], "min_count": 1, "max_count": 1,
           "metadata": {}, "tags": [], "config_drive": True, "availability_zone": None,
           "block_device_mapping_v2": [
               {"boot_index": 0, "uuid": "img-1", "source_type": "image", "destination_type": "volume",
                "volume_size": 2, "delete_on_termination": True},
               {"boot_index": -1, "source_type": "blank", "destination_type": "volume", "volume_size": 1}]}
    out = create_servers(req, caller(ALICE), rs.CATALOG, ["hv1"], rs.HOSTVARS, db_url, False, "req-create")
    uuid = out.servers[0]["id"]
    with store.transaction(db_url) as conn:
        lifecycle.mark_active(conn, uuid)
    return uuid


def volume_hosts(db_url: str, uuid: str) -> list[tuple[int, str]]:
    with store.transaction(db_url) as conn:
        return [(v.size_gb, v.host) for v in conn.execute(
            sa.select(volumes).where(volumes.c.instance_uuid == uuid).order_by(volumes.c.size_gb.desc()))]


def leftover_plans(db_url: str, uuid: str) -> dict[str, t.Any]:
    with store.transaction(db_url) as conn:
        return {x.host: read_plan(x.plan) for x in conn.execute(sa.select(leftovers).where(
            leftovers.c.instance_uuid == uuid))}


def dropped_volumes(plan: t.Any) -> list[tuple[str, bool]]:
    """(kind, delete_on_termination) of the plan's volumes: what a clean-up of that plan deletes."""
    return [(d.kind, d.delete_on_termination) for d in plan.block_devices if d.kind in move.VOLUME_KINDS]


def test_moved_copy_drops_every_volume_copy_and_keeps_the_rest() -> None:
    plan = read_plan({"uuid": "u", "block_devices": [
        {"name": "u-disk", "kind": "image", "delete_on_termination": True},
        {"name": "volume-a", "kind": "volume", "delete_on_termination": False, "volume_id": "a"},
        {"name": "volume-b", "kind": "new_volume", "delete_on_termination": False, "volume_id": "b"}]})
    assert move.volume_names(plan) == ["volume-a", "volume-b"]
    assert [(d.kind, d.delete_on_termination) for d in move.moved_copy(plan).block_devices] == [
        ("image", True), ("volume", True), ("new_volume", True)]
    assert [d.delete_on_termination for d in plan.block_devices] == [True, False, False]  # the server's own: kept


def test_a_migration_with_volumes_is_recorded_and_confirm_moves_the_volumes(db_url: str, bfv: str) -> None:
    assert volume_hosts(db_url, bfv) == [(2, "hv1"), (1, "hv1")]
    out = rs.ask_resize(db_url, bfv, None, who=ADMIN)
    assert (out.changed, out.first, out.then) == (True, "hv1", "hv2")
    # no root disk of the flavor's (boot from volume): the claim has no disk; the volumes are not in a claim
    assert rs.claim_of(db_url, bfv) == ("hv2", 1, 512, 0)
    rs.walk_to_verify(db_url, bfv)
    # until the confirm, the source's copies are what a revert returns to
    assert volume_hosts(db_url, bfv) == [(2, "hv1"), (1, "hv1")] and row(db_url, bfv).host == "hv2"
    resize.request_confirm(bfv, caller(ALICE), db_url, False, "req-c")
    assert volume_hosts(db_url, bfv) == [(2, "hv2"), (1, "hv2")]
    # the source's leftover deletes its copies of both volumes, the kept one too (the server keeps hv2's)
    left = leftover_plans(db_url, bfv)
    assert list(left) == ["hv1"] and dropped_volumes(left["hv1"]) == [("new_volume", True), ("new_volume", True)]
    assert [d.delete_on_termination for d in read_plan(row(db_url, bfv).plan).block_devices] == [True, False]
    with store.transaction(db_url, locked=True) as conn:
        [(server, record)] = resize.moving_on_host(conn, "hv1", ("confirming",), "source")
        resize.confirmed(conn, server, record, "hv1", lifecycle.now())
    assert volume_hosts(db_url, bfv) == [(2, "hv2"), (1, "hv2")]


def test_a_reverted_resize_keeps_the_volumes_on_the_source(db_url: str, bfv: str) -> None:
    rs.ask_resize(db_url, bfv, "m1.small")
    plan = read_plan(row(db_url, bfv).plan)
    # the flavor does not size volumes: the root volume keeps its 2 GiB
    assert [(d.kind, d.size_bytes) for d in plan.block_devices] == [("new_volume", 2 * GiB), ("new_volume", GiB)]
    rs.walk_to_verify(db_url, bfv)
    resize.request_revert(bfv, caller(ALICE), db_url, False, "req-r")
    with store.transaction(db_url, locked=True) as conn:
        [(server, record)] = resize.moving_on_host(conn, "hv2", ("reverting",), "dest")
        resize.reverted_on_dest(conn, server, record, "hv2", lifecycle.now())
        [(server, record)] = resize.moving_on_host(conn, "hv1", ("reverted",), "source")
        resize.revert_finished(conn, server, record, "hv1", lifecycle.now())
    assert (row(db_url, bfv).host, row(db_url, bfv).vm_state) == ("hv1", "active")
    assert volume_hosts(db_url, bfv) == [(2, "hv1"), (1, "hv1")] and leftover_plans(db_url, bfv) == {}


def test_deleting_a_resized_server_moves_its_volumes_first(db_url: str, bfv: str) -> None:
    rs.ask_resize(db_url, bfv, None, who=ADMIN)
    rs.walk_to_verify(db_url, bfv)
    with store.transaction(db_url, locked=True) as conn:
        server = conn.execute(sa.select(resize.instances).where(resize.instances.c.uuid == bfv)).first()
        resize.confirm_on_delete(conn, server, "req-d")
        lifecycle.mark_deleted(conn, bfv)
        kept = list(conn.execute(sa.select(volumes.c.host, volumes.c.status).where(volumes.c.deleted == "")))
    # the kept data volume is available where its copy stays (the destination's); hv1's copies are a leftover
    assert kept == [("hv2", "available")]
    assert dropped_volumes(leftover_plans(db_url, bfv)["hv1"]) == [("new_volume", True), ("new_volume", True)]


def test_the_destination_needs_room_for_the_volumes(db_url: str, bfv: str) -> None:
    small = dict(rs.HOSTVARS, hv2=dict(rs.HOSTVARS["hv2"], stratus_local_gb=2))  # 3 GiB of volumes do not fit
    action = rs.rules.action_of("migrate", host="hv2")
    with pytest.raises(StratusError) as err:
        resize.request_move(bfv, action, caller(ADMIN), rs.HOSTS, small, rs.Catalog(rs.CATALOG),
                            rs.SchedulerConfig.from_dict(None), db_url, False, "req-m", target="hv2",
                            quotas=rs.CATALOG["stratus_quotas"])
    assert err.value.code == "NoValidHost"
    assert (row(db_url, bfv).task_state, rs.claim_of(db_url, bfv)[0], rs.record_of(db_url, bfv)) == (None, "hv1", None)
    with pytest.raises(StratusError) as err:
        live_vars = {h: dict(lm.HOSTVARS[h], **small[h]) for h in rs.HOSTS}
        lm.live_migrate.request_live_migrate(bfv, caller(ADMIN), rs.HOSTS, live_vars, rs.Catalog(rs.CATALOG),
                                             rs.SchedulerConfig.from_dict(None), "hv2", False, db_url, False, "req-l")
    assert err.value.code == "NoValidHost"
    roomy = dict(rs.HOSTVARS, hv2=dict(rs.HOSTVARS["hv2"], stratus_local_gb=3))
    out = resize.request_move(bfv, action, caller(ADMIN), rs.HOSTS, roomy, rs.Catalog(rs.CATALOG),
                              rs.SchedulerConfig.from_dict(None), db_url, False, "req-m", target="hv2",
                              quotas=rs.CATALOG["stratus_quotas"])
    # the volume quota is untouched by a move: the claim holds no volume, the rows are the same two
    assert out.then == "hv2" and rs.claim_of(db_url, bfv) == ("hv2", 1, 512, 0) and len(volume_hosts(db_url, bfv)) == 2


def test_a_live_migration_prepares_the_volumes_and_post_moves_them(db_url: str, bfv: str) -> None:
    out = lm.live(db_url, bfv)
    assert (out.host, out.dest) == ("hv1", "hv2")
    plan = read_plan(row(db_url, bfv).plan)
    with store.transaction(db_url) as conn:
        prepared = live_migrate.prepared_plan(plan, move.volume_sizes_gb(conn, bfv))
    # pre-created empty on the destination (no image copied into them), their names and sizes, qcow2
    assert [(d.name.startswith("volume-"), d.kind, d.image_id, d.size_bytes, d.format)
            for d in prepared.block_devices] == [(True, "new_volume", None, 2 * GiB, "qcow2"),
                                                 (True, "new_volume", None, GiB, "qcow2")]
    assert [d.name for d in prepared.block_devices] == move.volume_names(plan)
    # a failed preparation deletes what it made
    assert [d.delete_on_termination for d in prepared.for_cleanup().block_devices] == [True, True]
    rec = lm.prepare(db_url, bfv)
    assert volume_hosts(db_url, bfv) == [(2, "hv1"), (1, "hv1")]
    live_migrate.completed(db_url, bfv, rec.id, lifecycle.now(), "done", source_left="pool busy")
    assert row(db_url, bfv).host == "hv2" and volume_hosts(db_url, bfv) == [(2, "hv2"), (1, "hv2")]
    # what the source could not clean is a leftover there, its volume copies included
    assert dropped_volumes(leftover_plans(db_url, bfv)["hv1"]) == [("new_volume", True), ("new_volume", True)]


def test_a_rolled_back_live_migration_keeps_the_volumes_on_the_source(db_url: str, bfv: str) -> None:
    lm.live(db_url, bfv)
    rec = lm.prepare(db_url, bfv)
    fault = {"code": "MigrationError", "message": "live migration failed: boom", "host": "hv1"}
    live_migrate.rolled_back(db_url, bfv, rec.id, lifecycle.now(), fault, dest_cleaned=False)
    assert row(db_url, bfv).host == "hv1" and volume_hosts(db_url, bfv) == [(2, "hv1"), (1, "hv1")]
    with store.transaction(db_url) as conn:
        assert migration_records.latest(conn, bfv).status == "failed"
    # the destination's half is a leftover there: its copies of the volumes go, the source's stay the server's
    assert dropped_volumes(leftover_plans(db_url, bfv)["hv2"]) == [("new_volume", True), ("new_volume", True)]
    assert [d.delete_on_termination for d in read_plan(row(db_url, bfv).plan).block_devices] == [True, False]


def to_finish(db_url: str, uuid: str) -> tuple[t.Any, t.Any]:
    """A cold migration of the server from hv1 whose disks and volumes reached hv2: (server, record) as hv2's
    finish step takes them."""
    rs.ask_resize(db_url, uuid, None, who=ADMIN)
    with store.transaction(db_url, locked=True) as conn:
        for status, task in (("migrating", "resize_migrating"), ("post-migrating", "resize_migrated"),
                             ("post-migrating", "resize_finish")):
            server = conn.execute(sa.select(resize.instances).where(resize.instances.c.uuid == uuid)).first()
            resize.step_to(conn, server, migration_records.latest(conn, uuid), task, status)
        [(server, record)] = resize.moving_on_host(conn, "hv2", ("post-migrating",), "dest")
    return server, record


FAULT = {"code": "MigrationError", "message": "domain step: failed to define the domain"}


def test_a_move_failing_on_its_destination_drops_the_copies_there_and_goes_back(db_url: str, bfv: str) -> None:
    server, record = to_finish(db_url, bfv)
    # what hv2's step removes: all it holds of the server, both volume copies (the kept one too), never the
    # server's own (the source's, which the store's rows name)
    copy = resize.failed_destination_copy(record, read_plan(server.plan))
    assert copy is not None and dropped_volumes(copy) == [("new_volume", True), ("new_volume", True)]
    with store.transaction(db_url, locked=True) as conn:
        resize.finish_failed(conn, server, record, "hv2", lifecycle.now(), FAULT)
    back = row(db_url, bfv)
    assert (back.host, back.vm_state, back.task_state, back.power_state) == ("hv1", "error", None, "shutdown")
    assert back.fault["code"] == "MigrationError" and back.fault["host"] == "hv2"
    assert rs.claim_of(db_url, bfv)[0] == "hv1" and back.flavor["name"] == "m1.tiny"
    assert volume_hosts(db_url, bfv) == [(2, "hv1"), (1, "hv1")]
    assert rs.record_of(db_url, bfv).status == "error" and leftover_plans(db_url, bfv) == {}


def test_a_destination_copy_that_could_not_be_removed_is_a_leftover_there(db_url: str, bfv: str) -> None:
    server, record = to_finish(db_url, bfv)
    with store.transaction(db_url, locked=True) as conn:
        resize.finish_failed(conn, server, record, "hv2", lifecycle.now(), FAULT, "compute_domain: unreachable")
    left = leftover_plans(db_url, bfv)
    assert list(left) == ["hv2"] and dropped_volumes(left["hv2"]) == [("new_volume", True), ("new_volume", True)]
    assert row(db_url, bfv).host == "hv1" and volume_hosts(db_url, bfv) == [(2, "hv1"), (1, "hv1")]


def test_a_same_host_resize_failing_keeps_its_disks() -> None:
    """Its disks are the server's own (grown in place): nothing is a copy to remove."""
    record = t.cast(t.Any, type("Record", (), {"source_compute": "hv1", "dest_compute": "hv1"}))
    assert resize.failed_destination_copy(record, read_plan({"uuid": "u", "block_devices": []})) is None
