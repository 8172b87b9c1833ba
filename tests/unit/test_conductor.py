"""The controller's create decision against a real store: a SQLite file and a PostgreSQL server."""
from __future__ import annotations

import os
import stat
import threading

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.delete import delete_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer

CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}],
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "net-1", "name": "demo", "cidr": "10.9.0.0/29", "gateway": "10.9.0.1"}],
    "stratus_quotas": {"defaults": {"instances": 4, "cores": 20, "ram": 51200}},
}
HOSTVARS = {"hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40},
            "hv2": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40}}
CTX = {"user_id": "alice", "project_id": "p1", "roles": ["member"]}


def who(ctx, policy=None):
    """The caller as the action plugins resolve it: the context plus the operator's policy."""
    return Caller(ctx, Enforcer(policy))


def request(**kw):
    req = {"name": "web", "flavor": "m1.tiny", "image": "guest", "networks": [{"name": "demo"}],
           "min_count": 1, "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    req.update(kw)
    return req


@pytest.fixture()
def db(db_url):
    """Every test here runs once per backend (db_url in tests/conftest.py)."""
    return db_url


def create(db, req, ctx=None, check=False):
    return create_servers(req, who(ctx or CTX), CATALOG, ["hv1", "hv2"], HOSTVARS, db, check, "req-test")


def test_create_is_idempotent_and_file_is_private(db):
    first = create(db, request(max_count=2))
    assert first.changed and [s["name"] for s in first.servers] == ["web-1", "web-2"]
    if db.startswith("sqlite:///"):
        assert stat.S_IMODE(os.stat(db[len("sqlite:///"):]).st_mode) == 0o600
    again = create(db, request(max_count=2))
    assert not again.changed
    assert [s["id"] for s in again.servers] == [s["id"] for s in first.servers]
    ips = [a["addr"] for s in first.servers for a in s["addresses"]["demo"]]
    assert len(set(ips)) == 2


def test_conflict_names_fields(db):
    create(db, request())
    with pytest.raises(StratusError) as err:
        create(db, request(flavor="1", image="img-1", config_drive=False))
    assert err.value.code == "Conflict" and "config_drive" in err.value.message


def test_quota_min_max_and_message(db):
    out = create(db, request(min_count=1, max_count=9))
    assert len(out.servers) == 4  # quota allows 4 of the 9
    with pytest.raises(StratusError) as err:
        create(db, request(name="more"))
    assert err.value.code == "QuotaExceeded"
    assert "Quota exceeded for instances: Requested 1, but already used 4 of 4 instances" == err.value.message


def test_pool_exhaustion_is_clear_and_leaves_nothing(db):
    catalog_pool = 5  # a /29 has 6 hosts: minus gateway and the DHCP placeholder
    create(db, request(min_count=catalog_pool - 1, max_count=catalog_pool - 1))
    with pytest.raises(StratusError) as err:
        create(db, request(name="x", min_count=2, max_count=2), ctx=dict(CTX, project_id="p2"))
    assert err.value.code == "NoMoreFixedIps" and "No fixed IP addresses available" in err.value.message
    # check mode answers as the real run (it said yes to an exhausted pool)
    with pytest.raises(StratusError) as dry:
        create(db, request(name="x"), ctx=dict(CTX, project_id="p2"), check=True)
    assert dry.value.to_dict() == err.value.to_dict()
    assert create(db, request(name="x", networks="none"), ctx=dict(CTX, project_id="p2"), check=True).changed


def test_check_mode_writes_nothing(db):
    out = create(db, request(), check=True)
    assert out.changed and out.servers[0]["host"] in ("hv1", "hv2")
    assert create(db, request(), check=True).changed  # still nothing written


def test_policy_forced_host_needs_admin(db):
    with pytest.raises(StratusError) as err:
        create(db, request(availability_zone="nova:hv1"))
    assert err.value.code == "PolicyNotAuthorized"
    out = create(db, request(availability_zone=":hv2"), ctx=dict(CTX, roles=["admin"]))
    assert out.servers[0]["host"] == "hv2"


def test_racing_runs_never_overshoot_quota(db):
    create(db, request(name="warm"))  # schema created before the race
    results, errors = [], []

    def run(i):
        try:
            results.append(create(db, request(name="r%d" % i)))
        except StratusError as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 3 and errors == ["QuotaExceeded"] * 3


def test_delete_marks_deleting_and_is_policy_checked(db_url):
    made = create(db_url, request(max_count=2))
    reader = dict(CTX, roles=["reader"])
    with pytest.raises(StratusError) as err:
        delete_servers({"name": "web", "max_count": 2}, who(reader), db_url, False, "req-del")
    assert err.value.code == "PolicyNotAuthorized" and "servers:delete" in err.value.message
    other = dict(CTX, project_id="p2")
    assert not delete_servers({"name": "web", "max_count": 2}, who(other), db_url, False, "req-del").changed
    dry = delete_servers({"name": "web", "max_count": 2}, who(CTX), db_url, True, "req-del")
    assert dry.changed and not dry.hosts
    out = delete_servers({"name": "web", "max_count": 2}, who(CTX), db_url, False, "req-del")
    assert out.changed and sorted(out.hosts) == sorted({s["host"] for s in made.servers})
    assert {s["task_state"] for s in out.servers} == {"deleting"}
    # the rows stay live until the hypervisors have walked back: no create over them meanwhile
    with pytest.raises(StratusError) as err:
        create(db_url, request(max_count=2))
    assert err.value.code == "InstanceInvalidState"


def _store_rows(db, table):
    import sqlalchemy as sa
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    with store.transaction(db) as conn:
        return list(conn.execute(sa.select(table)))


def test_recreate_replaces_and_leaves_the_old_host_to_clean(db):
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, instances, leftovers
    old = create(db, request(networks=[{"name": "demo", "fixed_ip": "10.9.0.3"}])).servers[0]
    bigger = {"id": "2", "name": "m1.small", "vcpus": 2, "ram": 1024, "disk": 2}
    catalog = dict(CATALOG, stratus_flavors=CATALOG["stratus_flavors"] + [bigger])
    req = request(flavor="m1.small", recreate=True, networks=[{"name": "demo", "fixed_ip": "10.9.0.3"}])

    dry = create_servers(req, who(CTX), catalog, ["hv1", "hv2"], HOSTVARS, db, True, "req-dry")
    assert dry.changed and {s.get("task_state") for s in dry.servers} == {"scheduling", "deleting"}
    assert [r.uuid for r in _store_rows(db, instances) if r.deleted == ""] == [old["id"]]  # nothing written
    assert not _store_rows(db, leftovers)

    out = create_servers(req, who(CTX), catalog, ["hv1", "hv2"], HOSTVARS, db, False, "req-re")
    new = out.servers[0]
    assert out.changed and new["id"] != old["id"] and new["flavor"]["name"] == "m1.small"
    assert new["addresses"]["demo"][0]["addr"] == "10.9.0.3"  # the fixed IP is handed on
    live = [r for r in _store_rows(db, instances) if r.deleted == ""]
    assert [r.uuid for r in live] == [new["id"]]
    # the old server's resources stay counted on its host until the clean-up step has run there
    (left,) = _store_rows(db, leftovers)
    assert left.instance_uuid == old["id"] and left.host == old["host"] and left.vcpus == 1
    assert {c.instance_uuid for c in _store_rows(db, claims)} == {new["id"]}
    import sqlalchemy as sa  # noqa: F401
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    with store.transaction(db) as conn:
        usage = host_usage.usage_by_host(conn)
    assert usage[old["host"]]["vcpus"] >= 1 and usage[new["host"]]["vcpus"] >= 2
    # the same request again changes nothing; without recreate a difference is a Conflict
    assert not create_servers(req, who(CTX), catalog, ["hv1", "hv2"], HOSTVARS, db, False, "req-again").changed
    with pytest.raises(StratusError) as err:
        create(db, request())
    assert err.value.code == "Conflict" and "recreate: true" in err.value.message


def test_recreate_needs_delete_permission(db):
    create(db, request())
    policy = {"os_compute_api:servers:delete": "role:admin"}
    with pytest.raises(StratusError) as err:
        create_servers(request(config_drive=False, recreate=True), who(CTX, policy), CATALOG, ["hv1", "hv2"], HOSTVARS,
                       db, False, "req-re")
    assert err.value.code == "PolicyNotAuthorized" and "servers:delete" in err.value.message
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances
    assert len([r for r in _store_rows(db, instances) if r.deleted == ""]) == 1


def test_explain_says_why_no_host_fits(db):
    huge = {"id": "9", "name": "m1.huge", "vcpus": 1, "ram": 20480, "disk": 1}  # > 8192 * 1.5
    catalog = dict(CATALOG, stratus_flavors=CATALOG["stratus_flavors"] + [huge])
    with pytest.raises(StratusError) as err:
        create_servers(request(flavor="m1.huge", explain=True), who(CTX), catalog, ["hv1", "hv2"], HOSTVARS, db,
                       True, "req-x")
    assert err.value.code == "NoValidHost"
    why = err.value.explain
    assert sorted(why) == ["hv1", "hv2"] and all(why[h]["rejected_by"] for h in why)
    fine = create_servers(request(explain=True), who(CTX), CATALOG, ["hv1", "hv2"], HOSTVARS, db, True, "req-y")
    assert sorted(fine.explain) == ["hv1", "hv2"]
    assert all(v["rejected_by"] is None and "weights" in v for v in fine.explain.values())


def test_absurd_counts_are_bounded_before_anything_is_listed(db):
    """max_count passes the schema at any size: it is cut (quota decides within it), min_count refused."""
    out = create(db, request(min_count=1, max_count=10 ** 12))
    assert [s["name"] for s in out.servers] == ["web-1", "web-2", "web-3", "web-4"]  # the quota: 4
    with pytest.raises(StratusError) as err:
        create(db, request(name="big", min_count=10 ** 12, max_count=10 ** 12))
    assert err.value.code == "InvalidRequest" and err.value.field == "min_count"
    gone = delete_servers({"name": "web", "state": "absent", "max_count": 10 ** 12}, who(CTX), db, False,
                          "req-del")
    assert sorted(s["name"] for s in gone.servers) == ["web-1", "web-2", "web-3", "web-4"]


def test_later_build_rounds_take_only_builds_under_way(db):
    """Round 1 converges active servers too; later rounds (building_only) take only builds under way."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

    made = create(db, request(max_count=2)).servers
    uuids = [s["id"] for s in made]
    with store.transaction(db) as conn:
        conn.execute(instances.update().where(instances.c.uuid == uuids[0])
                     .values(vm_state="active", task_state=None))
        conn.execute(instances.update().where(instances.c.uuid == uuids[1])
                     .values(task_state="scheduling"))
        placed = {r.uuid: r.host for r in conn.execute(instances.select())}
        both = [r.uuid for h in ("hv1", "hv2")
                for r in lifecycle.instances_on_host(conn, h, uuids, step="network")]
        later = [r.uuid for h in ("hv1", "hv2")
                 for r in lifecycle.instances_on_host(conn, h, uuids, step="network", building_only=True)]
    assert sorted(both) == sorted(uuids)
    assert later == [uuids[1]] and placed[uuids[1]] in ("hv1", "hv2")


def test_an_image_uploaded_from_an_encrypted_volume_is_not_booted(db):
    encrypted = {"id": "img-enc", "name": "enc", "file": "/nonexistent", "disk_format": "raw",
                 "cinder_encryption_key_id": "3b5a9b4e-1c1d-4f3e-8a33-6f2a7c1d9e01"}  # Glance v2: top level
    catalog = dict(CATALOG, stratus_images=CATALOG["stratus_images"] + [encrypted])
    for check in (True, False):
        with pytest.raises(StratusError) as err:
            create_servers(request(image="enc"), who(CTX), catalog, ["hv1", "hv2"], HOSTVARS, db, check, "req-enc")
        assert err.value.to_dict() == {
            "code": "ImageUnacceptable", "field": "image",
            "message": "Image img-enc is unacceptable: Direct booting of an image uploaded from an encrypted "
                       "volume is unsupported."}
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances
    assert not _store_rows(db, instances)


def _both_modes(db, req, ctx=None):
    """The error check mode gives and the one the real run gives, for the same request."""
    out = []
    for check in (True, False):
        with pytest.raises(StratusError) as err:
            create(db, req, ctx, check=check)
        out.append(err.value.to_dict())
    return out


@pytest.mark.parametrize("address, why", [
    ("10.9.1.5", "it is not in the subnet 10.9.0.0/29 of network net-1"),
    ("10.9.0.0", "it is the network address of 10.9.0.0/29 (network net-1)"),
    ("10.9.0.7", "it is the broadcast address of 10.9.0.0/29 (network net-1)"),
    ("10.9.0.1", "it is the gateway address of network net-1"),
    ("10.9.0.6", "it is reserved for the DHCP server of network net-1"),
    ("fd00::5", "it is not in the subnet 10.9.0.0/29 of network net-1"),
])
def test_a_fixed_ip_the_network_cannot_give_is_refused_in_check_mode_too(db, address, why):
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances, ip_allocations
    req = request(networks=[{"name": "demo"}, {"name": "demo", "fixed_ip": address}])
    dry, real = _both_modes(db, req)
    assert dry == real == {"code": "FixedIpInvalid", "field": "networks[1].fixed_ip",
                           "message": "Fixed IP address %s is invalid: %s." % (address, why)}
    assert not _store_rows(db, instances) and not _store_rows(db, ip_allocations)


def test_a_fixed_ip_in_use_is_refused_in_check_mode_too(db):
    owner = create(db, request(name="first", networks=[{"name": "demo", "fixed_ip": "10.9.0.3"}])).servers[0]
    dry, real = _both_modes(db, request(name="second", networks=[{"name": "demo", "fixed_ip": "10.9.0.3"}]))
    assert dry == real == {"code": "FixedIpAlreadyInUse", "field": "networks[0].fixed_ip",
                           "message": "Fixed IP address 10.9.0.3 is already in use on instance %s." % owner["id"]}
    twice = request(name="second", networks=[{"name": "demo", "fixed_ip": "10.9.0.4"},
                                             {"name": "demo", "fixed_ip": "10.9.0.4"}])
    dry, real = _both_modes(db, twice)
    assert dry == real and dry["code"] == "FixedIpAlreadyInUse" and dry["field"] == "networks[1].fixed_ip"
    assert "networks[0].fixed_ip of this request asks for it too" in dry["message"]
    # the same request again is no change, not a conflict with itself
    assert not create(db, request(name="first", networks=[{"name": "demo", "fixed_ip": "10.9.0.3"}])).changed


def test_an_automatic_address_leaves_the_requests_fixed_ip_alone(db):
    """The first NIC's automatic address took 10.9.0.2, which the second NIC asked for: a refusal
    only the real run gave."""
    req = request(networks=[{"name": "demo"}, {"name": "demo", "fixed_ip": "10.9.0.2"}])
    assert create(db, req, check=True).changed
    nics = create(db, req).servers[0]["addresses"]["demo"]
    assert sorted(n["addr"] for n in nics) == ["10.9.0.2", "10.9.0.3"]


# --- a changed flavor or image done in place (allow_resize, allow_rebuild) -----------------------------------

SMALL = {"id": "2", "name": "m1.small", "vcpus": 2, "ram": 1024, "disk": 2}
OTHER_IMAGE = {"id": "img-2", "name": "other", "file": "/nonexistent", "disk_format": "qcow2"}
IN_PLACE_CATALOG = dict(CATALOG, stratus_flavors=CATALOG["stratus_flavors"] + [SMALL],
                        stratus_images=CATALOG["stratus_images"] + [OTHER_IMAGE])


def _in_place(db, check=False, **kw):
    return create_servers(request(**kw), who(CTX), IN_PLACE_CATALOG, ["hv1", "hv2"], HOSTVARS, db, check, "req-u")


def _set_row(db, uuid, **values):
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances
    with store.transaction(db) as conn:
        conn.execute(instances.update().where(instances.c.uuid == uuid).values(**values))


def _row(db, uuid):
    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances
    return next(r for r in _store_rows(db, instances) if r.uuid == uuid)


def test_a_changed_flavor_without_the_opt_in_is_a_conflict_that_says_how(db):
    _in_place(db)
    with pytest.raises(StratusError) as err:
        _in_place(db, flavor="m1.small")
    assert err.value.code == "Conflict" and err.value.field == "flavor"
    assert "allow_resize: true changes it in place" in err.value.message
    # opting in for the image does not let the flavor change
    with pytest.raises(StratusError) as err:
        _in_place(db, flavor="m1.small", allow_rebuild=True)
    assert err.value.code == "Conflict" and "allow_resize" in err.value.message


def test_allow_resize_asks_for_a_resize_and_confirm_until_the_server_has_the_flavor(db):
    server = _in_place(db).servers[0]
    _set_row(db, server["id"], vm_state="active", task_state=None)
    dry = _in_place(db, check=True, flavor="m1.small", allow_resize=True)
    assert dry.changed and dry.updates == [{"id": server["id"], "name": "web", "flavor": "2", "confirm": True}]
    assert _row(db, server["id"]).request["flavor"] == "1"  # check mode writes nothing
    out = _in_place(db, flavor="m1.small", allow_resize=True)
    assert out.changed and out.updates == dry.updates
    assert [s["id"] for s in out.servers] == [server["id"]]  # the same server, not a new one
    assert _row(db, server["id"]).request["flavor"] == "2"  # the request now says what it is to be
    # kept: until the server has the flavor, every run asks again (a failed resize is tried again)
    assert _in_place(db, flavor="m1.small", allow_resize=True).updates == dry.updates
    # a resize waiting in VERIFY_RESIZE is confirmed
    _set_row(db, server["id"], flavor=SMALL, vm_state="resized")
    waiting = _in_place(db, flavor="m1.small", allow_resize=True)
    assert waiting.changed and waiting.updates == [{"id": server["id"], "name": "web", "confirm": True}]
    # done: nothing to do, nothing changed
    _set_row(db, server["id"], vm_state="active")
    done = _in_place(db, flavor="m1.small", allow_resize=True)
    assert not done.changed and not done.updates
    # without the opt-in the request matches what is stored: no Conflict, nothing to do
    assert not _in_place(db, flavor="m1.small").changed


def test_allow_rebuild_and_allow_resize_together_and_what_is_left_alone(db):
    server = _in_place(db).servers[0]
    _set_row(db, server["id"], vm_state="stopped", task_state=None)
    both = _in_place(db, flavor="m1.small", image="other", allow_resize=True, allow_rebuild=True)
    assert both.updates == [{"id": server["id"], "name": "web", "image": "img-2", "flavor": "2", "confirm": True}]
    # a server in ERROR or still building is left for a later run
    for vm_state in ("error", "building"):
        _set_row(db, server["id"], vm_state=vm_state)
        assert not _in_place(db, flavor="m1.small", image="other", allow_resize=True, allow_rebuild=True).updates
    # another field still cannot change in place
    _set_row(db, server["id"], vm_state="active")
    with pytest.raises(StratusError) as err:
        _in_place(db, flavor="m1.small", image="other", allow_resize=True, allow_rebuild=True, config_drive=False)
    assert err.value.code == "Conflict" and err.value.field == "config_drive"
    assert "flavor" not in err.value.message.split("(")[0]


def test_a_kept_flavor_is_asked_back_after_a_resize_by_hand(db):
    server = _in_place(db, flavor="m1.small", allow_resize=True).servers[0]
    tiny = CATALOG["stratus_flavors"][0]
    _set_row(db, server["id"], vm_state="active", task_state=None, flavor=tiny)  # resized by hand
    assert _in_place(db, flavor="m1.small", allow_resize=True).updates[0]["flavor"] == "2"
    assert not _in_place(db, flavor="m1.small").updates  # not kept without the opt-in


def test_a_bare_metal_servers_flavor_cannot_change_in_place(db):
    server = _in_place(db).servers[0]
    plan = dict(_row(db, server["id"]).plan, driver="baremetal")
    _set_row(db, server["id"], vm_state="active", task_state=None, plan=plan)
    with pytest.raises(StratusError) as err:
        _in_place(db, flavor="m1.small", allow_resize=True)
    assert err.value.code == "Conflict" and "bare-metal" in err.value.message and err.value.field == "flavor"
