"""Server actions (stop, start, reboot) as Nova's compute API checks and records them, and as the
power step ends them, against a real store (a SQLite file and a PostgreSQL server)."""
from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions as rules
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.views import server_status
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.evacuate import request_evacuate
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import compute_services
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    claims, instance_action_events, instance_actions, instances, leftovers,
)

CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}],
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "net-1", "name": "demo", "cidr": "10.9.0.0/29", "gateway": "10.9.0.1"}],
    "stratus_quotas": {"defaults": {"instances": 4, "cores": 20, "ram": 51200}},
}
HOSTVARS = {"hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40}}
ALICE = {"user_id": "alice", "project_id": "p1", "roles": ["member"]}
BOB = {"user_id": "bob", "project_id": "p2", "roles": ["member"]}
READER = {"user_id": "carol", "project_id": "p1", "roles": ["reader"]}
ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}


def caller(ctx: dict[str, t.Any]) -> Caller:
    return Caller(ctx, Enforcer(None))


@pytest.fixture()
def web(db_url: str) -> str:
    """An ACTIVE server web of alice's project on hv1; its uuid."""
    req = {"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}], "min_count": 1,
           "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    out = create_servers(req, caller(ALICE), CATALOG, ["hv1"], HOSTVARS, db_url, False, "req-create")
    uuid = out.servers[0]["id"]
    with store.transaction(db_url) as conn:
        lifecycle.mark_active(conn, uuid)
    return uuid


def ask(db_url: str, ref: str, name: str, reboot_type: t.Optional[str] = None, who: t.Optional[dict] = None,
        check: bool = False) -> server_actions.ActionResult:
    return server_actions.request_action(ref, rules.action_of(name, reboot_type), caller(who or ALICE), db_url,
                                         check, "req-%s" % name)


def row(db_url: str, uuid: str) -> t.Any:
    with store.transaction(db_url) as conn:
        return conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()


def log(db_url: str, uuid: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The action log: each action with its events (event, result)."""
    with store.transaction(db_url) as conn:
        acts = list(conn.execute(sa.select(instance_actions).where(instance_actions.c.instance_uuid == uuid)
                                 .order_by(instance_actions.c.id)))
        return [(a.action, [(e.event, e.result) for e in conn.execute(
            sa.select(instance_action_events).where(instance_action_events.c.action_id == a.id)
            .order_by(instance_action_events.c.id))]) for a in acts]


def finish(db_url: str, uuid: str, fault: t.Optional[dict[str, t.Any]] = None) -> None:
    """What the power step's action plugin does once the module answered."""
    with store.transaction(db_url, locked=True) as conn:
        fresh = conn.execute(sa.select(instances).where(instances.c.uuid == uuid)).first()
        if fault is None:
            server_actions.power_done(conn, fresh, "hv1", lifecycle.now())
        else:
            server_actions.power_failed(conn, fresh, "hv1", lifecycle.now(), fault)


def test_stop_then_start_walk_novas_states(db_url: str, web: str) -> None:
    out = ask(db_url, "web", "stop")
    assert out.changed and out.host == "hv1" and out.server["task_state"] == "powering-off"
    with store.transaction(db_url) as conn:
        assert [r.uuid for r in server_actions.powering_on_host(conn, "hv1")] == [web]
        assert server_actions.powering_on_host(conn, "hv2") == []
    finish(db_url, web)
    stopped = row(db_url, web)
    assert (stopped.vm_state, stopped.task_state, stopped.power_state) == ("stopped", None, "shutdown")
    assert server_status(stopped.vm_state, stopped.task_state) == "SHUTOFF"
    out = ask(db_url, web, "start")  # by uuid
    assert out.changed and out.server["task_state"] == "powering-on"
    finish(db_url, web)
    started = row(db_url, web)
    assert (started.vm_state, started.task_state, started.power_state) == ("active", None, "running")
    assert log(db_url, web)[1:] == [("stop", [("compute_stop_instance", "Success")]),
                                    ("start", [("compute_start_instance", "Success")])]


def test_an_action_already_done_changes_nothing(db_url: str, web: str) -> None:
    out = ask(db_url, "web", "start")
    assert not out.changed and out.host is None and row(db_url, web).task_state is None
    ask(db_url, "web", "stop")
    finish(db_url, web)
    assert not ask(db_url, "web", "stop").changed
    assert [a for a, _events in log(db_url, web)] == ["create", "stop"]


def refused(db_url: str, uuid: str, name: str, reboot_type: t.Optional[str] = None) -> StratusError:
    """The action is refused and nothing changed: the row and the action log are as they were."""
    before = (row(db_url, uuid), log(db_url, uuid))
    with pytest.raises(StratusError) as err:
        ask(db_url, "web", name, reboot_type)
    assert (row(db_url, uuid), log(db_url, uuid)) == before
    return err.value


def test_the_wrong_state_is_instance_invalid_state_and_changes_nothing(db_url: str, web: str) -> None:
    ask(db_url, "web", "stop")
    finish(db_url, web)
    err = refused(db_url, web, "reboot", "soft")  # a soft reboot needs an ACTIVE server
    assert (err.code, err.field) == ("InstanceInvalidState", "action")
    assert err.message == "Cannot 'reboot' instance %s while it is in vm_state stopped" % web
    with store.transaction(db_url) as conn:  # a server still building may be neither stopped nor started
        conn.execute(instances.update().where(instances.c.uuid == web).values(vm_state="building",
                                                                              task_state="spawning"))
    for name in ("stop", "start"):
        err = refused(db_url, web, name)
        assert err.code == "InstanceInvalidState" and "vm_state building (task_state spawning)" in err.message


def test_hard_reboot_of_a_stopped_server_and_a_failed_one_leaves_error(db_url: str, web: str) -> None:
    ask(db_url, "web", "stop")
    finish(db_url, web)
    out = ask(db_url, "web", "reboot", "hard")
    assert out.changed and out.server["task_state"] == "rebooting_hard" and out.server["status"] == "HARD_REBOOT"
    finish(db_url, web, {"code": "InstancePowerOnFailure", "message": "the domain would not start"})
    failed = row(db_url, web)
    assert (failed.vm_state, failed.task_state) == ("error", None)
    assert failed.fault == {"code": "InstancePowerOnFailure", "message": "the domain would not start", "host": "hv1"}
    assert log(db_url, web)[-1] == ("reboot", [("compute_reboot_instance", "Error")])
    # stop is allowed from ERROR; a failed stop keeps the vm_state, with the fault
    ask(db_url, "web", "stop")
    finish(db_url, web, {"code": "InstancePowerOffFailure", "message": "libvirt said no"})
    assert (row(db_url, web).vm_state, row(db_url, web).task_state) == ("error", None)
    assert row(db_url, web).fault["code"] == "InstancePowerOffFailure"


def test_an_interrupted_action_is_taken_again_once(db_url: str, web: str) -> None:
    first = ask(db_url, "web", "reboot")
    again = ask(db_url, "web", "reboot")  # the run was killed before the power step: the rerun resumes it
    assert first.changed and again.changed and again.host == "hv1"
    assert [a for a, _events in log(db_url, web)] == ["create", "reboot"]
    with pytest.raises(StratusError) as err:  # but no other action over it
        ask(db_url, "web", "stop")
    assert err.value.code == "InstanceInvalidState" and "task_state rebooting" in err.value.message
    assert ask(db_url, "web", "reboot", "hard").changed  # a hard reboot may take over a soft one (Nova)
    assert row(db_url, web).task_state == "rebooting_hard"


def test_who_may_act(db_url: str, web: str) -> None:
    for ref in ("web", web):  # another project's server is not found, by name or uuid (Nova's 404)
        with pytest.raises(StratusError) as err:
            ask(db_url, ref, "stop", who=BOB)
        assert err.value.code == "InstanceNotFound" and err.value.field == "server"
    with pytest.raises(StratusError) as err:  # a reader of the project sees it but may not stop it
        ask(db_url, "web", "stop", who=READER)
    assert err.value.code == "PolicyNotAuthorized"
    assert row(db_url, web).task_state is None and len(log(db_url, web)) == 1
    out = ask(db_url, web, "stop", who=ADMIN)  # the admin names it by uuid, in any project
    assert out.changed
    assert log(db_url, web)[-1][0] == "stop"


def test_check_mode_writes_nothing(db_url: str, web: str) -> None:
    out = ask(db_url, "web", "stop", check=True)
    assert out.changed and out.server["task_state"] == "powering-off"
    assert row(db_url, web).task_state is None and len(log(db_url, web)) == 1


def test_the_request_names_a_known_action() -> None:
    for name, reboot_type, field in (("pause", None, "action"), ("stop", "hard", "reboot_type"),
                                     ("reboot", "warm", "reboot_type")):
        with pytest.raises(StratusError) as err:
            rules.action_of(name, reboot_type)
        assert (err.value.code, err.value.field) == ("InvalidRequest", field)
    assert rules.action_of("reboot").task_state == "rebooting"
    assert rules.action_of("reboot", "HARD").task_state == "rebooting_hard"
    # one declaration: each power task_state names the step the hypervisor runs
    assert {s: a.step for s, a in rules.POWER_TASK_STATES.items()} == {
        "powering-off": "stop", "powering-on": "start", "rebooting": "reboot_soft", "rebooting_hard": "reboot_hard"}


def test_the_view_says_the_last_action_and_how_it_went(db_url: str, web: str) -> None:
    def last() -> t.Any:
        with store.transaction(db_url) as conn:
            found = views.last_actions(conn, [web, "no-such-uuid"])
        assert found["no-such-uuid"] is None
        return (found[web]["action"], found[web]["result"])

    assert last() == ("create", "Success")
    ask(db_url, "web", "stop")
    assert last() == ("stop", None)  # under way
    finish(db_url, web)
    assert last() == ("stop", "Success")
    ask(db_url, "web", "reboot", "hard")
    finish(db_url, web, {"code": "InstancePowerOnFailure", "message": "no"})
    assert last() == ("reboot", "Error")


OTHER = {"id": "img-2", "name": "other", "file": "/nonexistent-2", "disk_format": "raw", "min_ram": 64}


def rebuild(db_url: str, image: dict, who: t.Optional[dict] = None) -> server_actions.ActionResult:
    return server_actions.request_action("web", rules.action_of("rebuild", image=image["id"]), caller(who or ALICE),
                                         db_url, False, "req-rebuild", image=image)


def test_rebuild_records_the_new_image_and_keeps_the_rest(db_url: str, web: str) -> None:
    before = row(db_url, web)
    out = rebuild(db_url, OTHER)
    assert out.changed and out.host == "hv1" and out.server["status"] == "REBUILD"
    after = row(db_url, web)
    assert (after.task_state, after.vm_state, after.image_id) == ("rebuilding", "active", "img-2")
    old_plan, new_plan = before.plan, after.plan
    assert new_plan["image"]["id"] == "img-2" and new_plan["image"]["file"] == "/nonexistent-2"
    root = next(d for d in new_plan["block_devices"] if d["kind"] == "image")
    assert (root["image_id"], root["base_format"]) == ("img-2", "raw")
    assert new_plan["nics"] == old_plan["nics"] and new_plan["uuid"] == old_plan["uuid"]
    assert log(db_url, web)[-1] == ("rebuild", [])
    with store.transaction(db_url) as conn:  # the power step does not take it: the rebuild step does
        assert server_actions.powering_on_host(conn, "hv1") == []
    assert rules.REBUILD_TASK_STATES == ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning")
    with store.transaction(db_url) as conn:  # killed while spawning: asked again, it is taken over
        conn.execute(instances.update().where(instances.c.uuid == web).values(task_state="rebuild_spawning"))
    assert rebuild(db_url, OTHER).changed and row(db_url, web).task_state == "rebuild_spawning"
    assert [a for a, _events in log(db_url, web)].count("rebuild") == 1
    guest = CATALOG["stratus_images"][0]  # another image is another rebuild: refused while one is under way
    with pytest.raises(StratusError) as err:
        rebuild(db_url, guest)
    assert (err.value.code, err.value.field) == ("InstanceInvalidState", "image")
    assert row(db_url, web).image_id == "img-2" and row(db_url, web).plan == after.plan
    rebuilding = row(db_url, web)
    with store.transaction(db_url, locked=True) as conn:
        server_actions.power_done(conn, rebuilding, "hv1", lifecycle.now(), action=rules.ACTIONS["rebuild"])
    assert (row(db_url, web).vm_state, row(db_url, web).task_state) == ("active", None)
    assert log(db_url, web)[-1] == ("rebuild", [("compute_rebuild_instance", "Success")])


def test_a_rebuild_is_checked_like_a_create(db_url: str, web: str) -> None:
    for image, code in (({"id": "big", "name": "big", "file": "/x", "disk_format": "qcow2", "min_ram": 4096},
                         "FlavorMemoryTooSmall"),
                        ({"id": "k", "name": "k", "file": "/x", "disk_format": "aki"}, "ImageUnacceptable"),
                        ({"id": "q", "name": "q", "file": "/x", "disk_format": "qcow2", "status": "queued"},
                         "ImageNotActive")):
        with pytest.raises(StratusError) as err:
            rebuild(db_url, image)
        assert err.value.code == code and err.value.field in ("image", "flavor")
    assert row(db_url, web).task_state is None and len(log(db_url, web)) == 1
    with pytest.raises(StratusError) as err:
        rules.action_of("rebuild")
    assert (err.value.code, err.value.field) == ("InvalidRequest", "image")
    with pytest.raises(StratusError) as err:
        rules.action_of("stop", image="img-1")
    assert err.value.field == "image"


def test_a_volume_backed_server_is_not_rebuilt(db_url: str, web: str) -> None:
    plan = row(db_url, web).plan
    plan = dict(plan, block_devices=[dict(d, kind="volume", volume_id="v1") for d in plan["block_devices"]])
    with store.transaction(db_url) as conn:
        conn.execute(instances.update().where(instances.c.uuid == web).values(plan=plan))
    with pytest.raises(StratusError) as err:
        rebuild(db_url, OTHER)
    assert err.value.code == "InvalidRequest" and "boots from a volume" in err.value.message


def test_the_scheduler_judges_the_new_image_against_the_host() -> None:
    """Nova's rebuild asks its image filters again: an aarch64 image does not fit an x86_64 KVM host."""
    plan = BuildPlan(uuid="0b1f0000-0000-4000-8000-000000000001", name="web", project_id="p1", user_id="alice",
                     flavor={"name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1})
    config = SchedulerConfig.from_dict(None)
    catalog = Catalog(CATALOG, CATALOG)
    arm = dict(OTHER, properties={"hw_architecture": "aarch64"})
    with pytest.raises(StratusError) as err:
        rules.check_image_on_host(plan, "hv1", arm, HOSTVARS, catalog, config)
    assert err.value.code == "NoValidHost" and "ImagePropertiesFilter" in err.value.message
    rules.check_image_on_host(plan, "hv1", dict(OTHER, properties={"hw_architecture": "x86_64"}), HOSTVARS, catalog,
                              config)
    # with the image filters off, the scheduler has nothing to say
    rules.check_image_on_host(plan, "hv1", arm, HOSTVARS, catalog, SchedulerConfig.from_dict(
        {"enabled_filters": ["ComputeFilter"]}))


HOSTVARS2 = dict(HOSTVARS, hv2={"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40})


def evacuate(db_url: str, ref: str, who: dict, target: t.Optional[str] = None) -> server_actions.ActionResult:
    return request_evacuate(ref, caller(who), ["hv1", "hv2"], HOSTVARS2, Catalog(CATALOG, CATALOG),
                            SchedulerConfig.from_dict(None), target, False, db_url, False, "req-evacuate")


def test_evacuate_moves_a_server_off_a_host_that_is_down(db_url: str, web: str) -> None:
    with pytest.raises(StratusError) as err:  # admin only
        evacuate(db_url, "web", ALICE)
    assert err.value.code == "PolicyNotAuthorized"
    with pytest.raises(StratusError) as err:  # hv1 is up: Nova's ComputeServiceInUse
        evacuate(db_url, web, ADMIN)
    assert err.value.code == "ComputeServiceInUse" and "hv1" in err.value.message
    with store.transaction(db_url) as conn:
        compute_services.set_forced_down(conn, "hv1", True, "root")
    for target, code in (("hv1", "InvalidRequest"), ("hv9", "ComputeHostNotFound")):
        with pytest.raises(StratusError) as err:
            evacuate(db_url, web, ADMIN, target)
        assert (err.value.code, err.value.field) == (code, "host")
    assert row(db_url, web).host == "hv1" and len(log(db_url, web)) == 1  # refusals changed nothing
    out = evacuate(db_url, web, ADMIN)
    assert out.changed and out.host == "hv2" and out.server["task_state"] == "rebuilding"
    moved = row(db_url, web)
    assert (moved.host, moved.task_state, moved.vm_state) == ("hv2", "rebuilding", "active")
    with store.transaction(db_url) as conn:
        assert [c.host for c in conn.execute(sa.select(claims).where(claims.c.instance_uuid == web))] == ["hv2"]
        left = list(conn.execute(sa.select(leftovers).where(leftovers.c.instance_uuid == web)))
    assert [(x.host, x.addresses) for x in left] == [("hv1", [])]  # cleaned when hv1 is back; the IP moved
    assert log(db_url, web)[-1] == ("evacuate", [("conductor_rebuild_server", "Success")])
    # asked again (the run was killed before the rebuild step): taken over on hv2, no second move
    again = evacuate(db_url, web, ADMIN)
    assert again.host == "hv2" and [a for a, _e in log(db_url, web)].count("evacuate") == 1


def test_a_rebuild_and_an_evacuate_never_take_each_other_over(db_url: str, web: str) -> None:
    """Both are rebuilding while under way: a rerun resumes its own action, never the other one (the race
    reliability/scenarios/action_races.py found: both accepted, the rebuild rewriting an evacuation's plan)."""
    with store.transaction(db_url) as conn:
        compute_services.set_forced_down(conn, "hv1", True, "root")
    evacuate(db_url, web, ADMIN)
    moved = (row(db_url, web), log(db_url, web))
    with pytest.raises(StratusError) as err:
        rebuild(db_url, OTHER)
    assert (err.value.code, err.value.field) == ("InstanceInvalidState", "action")
    assert "(task_state rebuilding: its evacuate is under way)" in err.value.message
    assert (row(db_url, web), log(db_url, web)) == moved  # the plan and image are the evacuation's
    assert evacuate(db_url, web, ADMIN).host == "hv2"  # its own rerun still resumes it

    evacuating = row(db_url, web)
    with store.transaction(db_url, locked=True) as conn:  # done on hv2; hv1 holds the next one
        server_actions.power_done(conn, evacuating, "hv2", lifecycle.now(), action=rules.ACTIONS["evacuate"])
        conn.execute(instances.update().where(instances.c.uuid == web).values(host="hv1"))
        conn.execute(claims.update().where(claims.c.instance_uuid == web).values(host="hv1"))
    assert rebuild(db_url, OTHER).changed
    rebuilding = (row(db_url, web), log(db_url, web))
    with pytest.raises(StratusError) as err:
        evacuate(db_url, web, ADMIN)
    assert err.value.code == "InstanceInvalidState" and "its rebuild is under way" in err.value.message
    assert (row(db_url, web), log(db_url, web)) == rebuilding  # not moved, no second record
    assert rebuild(db_url, OTHER).changed and [a for a, _e in log(db_url, web)].count("rebuild") == 1
