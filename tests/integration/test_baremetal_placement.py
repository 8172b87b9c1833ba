"""Bare-metal flavors scheduled onto whole nodes, through the conductor's create and delete and through
the server action (playbooks/explain.yml), on a real store (SQLite file and PostgreSQL): no lab, the
nodes' BMCs are never contacted.

The fleet: two hypervisors and seven nodes, of which two can take a bare-metal server; each of the others
is left out for one reason (maintenance, claimed, enroll, class, zone, trait).
"""
from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from ansible.errors import AnsibleError

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import create as createlib
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.delete import delete_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import node_events
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    baremetal_node_events, baremetal_nodes, claims, instance_actions, instances,
)

BM_SPECS = {"resources:CUSTOM_BAREMETAL_SMALL": "1", "resources:VCPU": "0", "resources:MEMORY_MB": "0",
            "resources:DISK_GB": "0"}
CATALOG: dict[str, t.Any] = {
    "stratus_flavors": [
        {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
        {"id": "10", "name": "bm.small", "vcpus": 8, "ram": 32768, "disk": 400, "extra_specs": BM_SPECS},
        {"id": "11", "name": "bm.raid", "vcpus": 8, "ram": 32768, "disk": 400,
         "extra_specs": dict(BM_SPECS, **{"trait:CUSTOM_RAID": "required"})},
    ],
    # a bare-metal deploy boots the image's kernel_id and ramdisk_id (Ironic's properties)
    "stratus_images": [{"id": "img-1", "name": "guest", "file": "/nonexistent", "disk_format": "qcow2",
                        "kernel_id": "img-k", "ramdisk_id": "img-r", "os_command_line": "console=ttyS0"},
                       {"id": "img-k", "name": "guest-kernel", "file": "/nonexistent.vmlinuz", "disk_format": "aki"},
                       {"id": "img-r", "name": "guest-ramdisk", "file": "/nonexistent.initrd", "disk_format": "ari"},
                       {"id": "img-2", "name": "disk-only", "file": "/nonexistent", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "net-1", "name": "provisioning", "cidr": "10.9.0.0/24", "gateway": "10.9.0.1"}],
    "stratus_quotas": {"defaults": {"instances": 20, "cores": 200, "ram": 1024000}},
}
HYPERVISORS = {"hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40},
               "hv2": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40}}
CTX = {"user_id": "alice", "project_id": "p1", "roles": ["member"]}


def bm_node(n: int, **changes: t.Any) -> dict[str, t.Any]:
    node: dict[str, t.Any] = {
        "stratus_bm_driver": "redfish", "stratus_bm_address": "http://127.0.0.1:8000",
        "stratus_bm_system_id": "/redfish/v1/Systems/node-%d" % n, "stratus_bm_username": "admin",
        "stratus_bm_password": "not-a-real-password",
        "stratus_bm_nics": [{"mac": "52:54:00:10:00:%02x" % n, "network": "provisioning"}],
        "stratus_bm_resource_class": "baremetal.small",
        "stratus_bm_properties": {"cpus": 4, "memory_mb": 8192, "local_gb": 20, "cpu_arch": "x86_64"},
        "stratus_bm_traits": ["CUSTOM_RAID"] if n != 7 else [],
    }
    node.update(changes)
    return node


NODES = {
    "node-1": bm_node(1),
    "node-2": bm_node(2),
    "node-3": bm_node(3, stratus_bm_maintenance=True, stratus_bm_maintenance_reason="replacing a DIMM"),
    "node-4": bm_node(4),  # claimed in the store
    "node-5": bm_node(5),  # no store row: enroll
    "node-6": bm_node(6, stratus_bm_resource_class="baremetal.large"),
    "node-7": bm_node(7, stratus_bm_availability_zone="rack-2"),  # and no CUSTOM_RAID
}
# What the store says: every node but node-5 has been managed and provided; node-4 is held.
ROWS = {name: {"provision_state": "available"} for name in NODES if name != "node-5"}
ROWS["node-4"]["instance_uuid"] = "11111111-2222-3333-4444-555555555555"
# Each node that cannot take a bm.small server, and why (the first node filter that leaves it out).
LEFT_OUT = {
    "node-3": ("NodeMaintenanceFilter", "the node is in maintenance: replacing a DIMM"),
    "node-4": ("NodeClaimedFilter", "the node is claimed by instance 11111111-2222-3333-4444-555555555555"),
    "node-5": ("ProvisionStateFilter", "the node's provision state is enroll (not yet managed, inspected and "
                                       "provided)"),
    "node-6": ("ResourceClassFilter", "the node's resource class is CUSTOM_BAREMETAL_LARGE; the flavor asks for "
                                      "CUSTOM_BAREMETAL_SMALL"),
}


def seed(db_url: str, rows: t.Mapping[str, t.Mapping[str, t.Any]] = ROWS) -> None:
    with store.transaction(db_url) as conn:
        for name, row in rows.items():
            conn.execute(baremetal_nodes.insert().values(name=name, created_at=node_events.now(), **row))


@pytest.fixture()
def db(db_url: str) -> str:
    seed(db_url)
    return db_url


def request(**kw: t.Any) -> dict[str, t.Any]:
    req = {"name": "metal", "flavor": "bm.small", "image": "guest", "networks": [{"name": "provisioning"}],
           "min_count": 1, "max_count": 1, "metadata": {}, "tags": [], "config_drive": True}
    req.update(kw)
    return req


def create(db: str, req: dict[str, t.Any], check: bool = True, hypervisors: t.Sequence[str] = tuple(HYPERVISORS),
           nodes: t.Optional[t.Mapping[str, t.Any]] = None) -> createlib.CreateResult:
    nodes = NODES if nodes is None else nodes
    hostvars = {name: HYPERVISORS[name] for name in hypervisors}
    hostvars.update(nodes)
    return create_servers(req, Caller(CTX, Enforcer()), CATALOG, list(hypervisors), hostvars, db, check, "req-bm",
                          nodes=list(nodes))


def store_counts(db: str) -> dict[str, int]:
    with store.transaction(db) as conn:
        return {"instances": conn.execute(sa.select(sa.func.count()).select_from(instances)).scalar_one(),
                "claims": conn.execute(sa.select(sa.func.count()).select_from(claims)).scalar_one(),
                "held": conn.execute(sa.select(sa.func.count()).select_from(baremetal_nodes).where(
                    baremetal_nodes.c.instance_uuid.is_not(None))).scalar_one(),
                "events": conn.execute(sa.select(sa.func.count()).select_from(baremetal_node_events)).scalar_one(),
                "actions": conn.execute(sa.select(sa.func.count()).select_from(instance_actions)).scalar_one()}


def test_check_mode_plans_the_first_free_node_with_the_other_as_alternate(db: str) -> None:
    out = create(db, request())
    assert [(s["name"], s["host"], s["alternates"]) for s in out.servers] == [("metal", "node-1", ["node-2", "node-7"])]
    assert store_counts(db) == {"instances": 0, "claims": 0, "held": 1, "events": 0, "actions": 0}


def test_one_more_node_than_available_is_no_valid_host_naming_each_nodes_reason(db: str) -> None:
    """node-1, node-2 and node-7 can take a bm.small server: four are one too many."""
    with pytest.raises(StratusError) as err:
        create(db, request(max_count=4, min_count=4, explain=True))
    assert err.value.code == "NoValidHost"
    assert "not enough bare-metal nodes available: flavor bm.small takes a whole node of class " \
        "CUSTOM_BAREMETAL_SMALL per server" in err.value.message
    why = {node: (v["rejected_by"], v.get("reason")) for node, v in err.value.explain.items()}
    assert set(why) == set(NODES)  # every node, never a hypervisor
    for node in ("node-1", "node-2", "node-7"):
        assert why[node][0] == "NodeClaimedFilter"
        assert why[node][1].startswith("an earlier instance of this request takes the node")
    for node, reason in LEFT_OUT.items():
        assert why[node] == reason
    assert store_counts(db)["instances"] == 0


def test_explain_of_a_placement_names_every_node(db: str) -> None:
    out = create(db, request(flavor="bm.raid", availability_zone="nova", explain=True))
    assert out.servers[0]["host"] == "node-1"
    assert out.explain is not None and set(out.explain) == set(NODES)
    assert out.explain["node-7"] == {"rejected_by": "NodeTraitsFilter",
                                     "reason": "the node lacks the required trait(s) CUSTOM_RAID"}
    assert out.explain["node-1"]["rejected_by"] is None and out.explain["node-2"]["rejected_by"] is None


def test_the_zone_leaves_nodes_out_and_a_zone_only_a_node_has_exists(db: str) -> None:
    out = create(db, request(availability_zone="rack-2", explain=True))
    assert out.servers[0]["host"] == "node-7"
    assert out.explain is not None
    assert out.explain["node-1"] == {"rejected_by": "NodeAvailabilityZoneFilter",
                                     "reason": "the node is in zone nova; the request asks for rack-2"}


def test_a_virtual_flavor_never_lands_on_a_node(db: str) -> None:
    out = create(db, request(flavor="m1.tiny", max_count=3, explain=True))
    assert {s["host"] for s in out.servers} <= set(HYPERVISORS)
    assert out.explain is not None and set(out.explain) == set(HYPERVISORS)


def test_a_bare_metal_flavor_never_lands_on_a_hypervisor(db_url: str) -> None:
    seed(db_url, {name: {"provision_state": "cleaning"} for name in NODES})
    with pytest.raises(StratusError) as err:
        create(db_url, request(explain=True))
    assert err.value.code == "NoValidHost" and set(err.value.explain) == set(NODES)
    assert all(v["rejected_by"] for v in err.value.explain.values())
    with pytest.raises(StratusError) as err:
        create(db_url, request(), nodes={})
    assert err.value.code == "NoValidHost" and err.value.field == "flavor"
    assert "no bare-metal node to schedule on" in err.value.message


def test_a_virtual_flavor_on_a_fleet_of_nodes_only_says_so(db: str) -> None:
    with pytest.raises(StratusError) as err:
        create(db, request(flavor="m1.tiny", explain=True), hypervisors=())
    assert (err.value.code, err.value.field) == ("NoValidHost", "flavor")
    assert "Flavor m1.tiny asks for no bare-metal resource class" in err.value.message
    assert "bare-metal nodes only (7), no hypervisor" in err.value.message
    assert {v["rejected_by"] for v in err.value.explain.values()} == {"ResourceClassFilter"}
    assert set(err.value.explain) == set(NODES)


def test_quota_counts_the_flavors_vcpus_and_ram_as_nova_does(db: str) -> None:
    """Nova's default count (not from placement): cores and RAM as the flavor says, whatever resources:VCPU=0 says."""
    catalog = dict(CATALOG, stratus_quotas={"defaults": {"instances": 20, "cores": 12, "ram": 1024000}})
    hostvars = dict(HYPERVISORS, **NODES)
    with pytest.raises(StratusError) as err:
        create_servers(request(max_count=2, min_count=2), Caller(CTX, Enforcer()), catalog, list(HYPERVISORS),
                       hostvars, db, True, "req-bm", nodes=list(NODES))
    assert err.value.code == "QuotaExceeded" and "cores" in err.value.message
    one = create_servers(request(max_count=2), Caller(CTX, Enforcer()), catalog, list(HYPERVISORS), hostvars, db,
                         True, "req-bm", nodes=list(NODES))
    assert [s["host"] for s in one.servers] == ["node-1"]  # max_count is cut to what quota allows


def test_a_forced_or_requested_node_still_passes_the_node_filters(db: str) -> None:
    admin = {"user_id": "root", "project_id": "p1", "roles": ["admin", "member"]}
    hostvars = dict(HYPERVISORS, **NODES)
    out = create_servers(request(availability_zone="nova:node-2"), Caller(admin, Enforcer()), CATALOG,
                         list(HYPERVISORS), hostvars, db, True, "req-bm", nodes=list(NODES))
    assert (out.servers[0]["host"], out.servers[0]["alternates"]) == ("node-2", [])
    with pytest.raises(StratusError) as err:
        create_servers(request(availability_zone="nova:node-4", explain=True), Caller(admin, Enforcer()), CATALOG,
                       list(HYPERVISORS), hostvars, db, True, "req-bm", nodes=list(NODES))
    assert err.value.code == "NoValidHost" and err.value.explain["node-4"]["rejected_by"] == "NodeClaimedFilter"
    out = create_servers(request(host="node-7"), Caller(admin, Enforcer()), CATALOG, list(HYPERVISORS), hostvars, db,
                         True, "req-bm", nodes=list(NODES))
    assert out.servers[0]["host"] == "node-7"
    with pytest.raises(StratusError) as err:
        create_servers(request(host="hv1"), Caller(admin, Enforcer()), CATALOG, list(HYPERVISORS), hostvars, db,
                       True, "req-bm", nodes=list(NODES))
    assert (err.value.code, err.value.field) == ("NoValidHost", "host")
    assert "the requested host hv1 is not a bare-metal node" in err.value.message
    with pytest.raises(StratusError) as err:
        create_servers(request(flavor="m1.tiny", host="node-1"), Caller(admin, Enforcer()), CATALOG,
                       list(HYPERVISORS), hostvars, db, True, "req-bm", nodes=list(NODES))
    assert (err.value.code, err.value.field) == ("NoValidHost", "host")
    assert "m1.tiny is a virtual flavor; the requested host node-1 is a bare-metal node" in err.value.message


def test_a_volume_on_a_bare_metal_flavor_is_refused(db: str) -> None:
    bdm = [{"source_type": "image", "uuid": "img-1", "destination_type": "volume", "volume_size": 1,
            "boot_index": 0}]
    with pytest.raises(StratusError) as err:
        create(db, request(image=None, block_device_mapping_v2=bdm))
    assert (err.value.code, err.value.field) == ("InvalidBDM", "block_device_mapping_v2")


def test_a_host_in_both_groups_is_refused(db: str) -> None:
    with pytest.raises(StratusError) as err:
        create(db, request(), nodes=dict(NODES, hv1=bm_node(9)))
    assert (err.value.code, err.value.field) == ("InvalidCatalog", "hostvars[hv1]")


def test_an_image_without_kernel_and_ramdisk_is_refused_for_a_bare_metal_flavor(db: str) -> None:
    before = store_counts(db)
    with pytest.raises(StratusError) as err:
        create(db, request(image="img-2"), check=False)
    assert (err.value.code, err.value.field) == ("ImageUnacceptable", "image")
    assert "kernel_id property is missing" in err.value.message
    assert store_counts(db) == before


def test_create_claims_whole_nodes_and_delete_releases_them(db: str) -> None:
    """The claim, the claim row, a bare-metal plan on the node's own MAC, the release."""
    out = create(db, request(max_count=2), check=False)
    placed = {s["name"]: (s["host"], s["id"]) for s in out.servers}
    assert {h for h, _u in placed.values()} == {"node-1", "node-2"}
    with store.transaction(db) as conn:
        held = {r.name: r.instance_uuid for r in conn.execute(sa.select(baremetal_nodes))}
        claim_rows = {r.host: (r.vcpus, r.memory_mb, r.disk_gb) for r in conn.execute(sa.select(claims))}
        events = [(r.node, r.event) for r in conn.execute(sa.select(baremetal_node_events))]
    for host, uuid in placed.values():
        assert held[host] == uuid and claim_rows[host] == (4, 8192, 20)  # the node whole
    assert sorted(events) == [("node-1", "claim"), ("node-2", "claim")]
    with store.transaction(db) as conn:
        plans = {r.host: r.plan for r in conn.execute(sa.select(instances).where(instances.c.host.like("node-%")))}
    for host, plan in plans.items():
        assert plan["driver"] == "baremetal" and plan["block_devices"] == []
        assert plan["nics"][0]["mac"] == NODES[host]["stratus_bm_nics"][0]["mac"]
        boot = (plan["image"]["kernel_file"], plan["image"]["ramdisk_file"])
        assert boot == ("/nonexistent.vmlinuz", "/nonexistent.initrd")
        assert plan["config_drive"]["meta_data"]["name"] in ("metal-1", "metal-2")
    again = create(db, request(max_count=2), check=False)  # idempotent: nothing more is claimed
    assert not again.changed and store_counts(db)["held"] == 3
    with pytest.raises(StratusError) as err:  # node-7 is the last: two more do not fit
        create(db, request(name="more", max_count=2, min_count=2), check=False)
    assert err.value.code == "NoValidHost"
    # the deploy would have made node-2's server active; node-1's was never deployed
    with store.transaction(db) as conn:
        conn.execute(baremetal_nodes.update().where(baremetal_nodes.c.name == "node-2").values(provision_state="active"))
    gone = delete_servers(request(max_count=2), Caller(CTX, Enforcer()), db, False, "req-del")
    assert gone.hosts == []  # no hypervisor step walks a node back
    with store.transaction(db) as conn:
        rows = {r.name: (r.provision_state, r.target_provision_state, r.instance_uuid)
                for r in conn.execute(sa.select(baremetal_nodes))}
        released = [(r.node, r.from_state, r.to_state) for r in conn.execute(
            sa.select(baremetal_node_events).where(baremetal_node_events.c.event == "release"))]
        live = conn.execute(sa.select(sa.func.count()).select_from(instances).where(instances.c.deleted == "")).scalar()
    assert rows["node-1"] == ("available", None, None)
    assert rows["node-2"] == ("cleaning", "available", None)
    assert sorted(released) == [("node-1", "available", "available"), ("node-2", "active", "cleaning")]
    assert live == 0 and store_counts(db)["claims"] == 0


# --- the scheduler lookup ------------------------------------------------------------------------------------

def test_the_scheduler_lookup_schedules_a_bare_metal_flavor_among_nodes_only(db: str) -> None:
    from ansible_collections.stratus.compute.plugins.lookup.scheduler import LookupModule

    variables = {"groups": {"hypervisors": list(HYPERVISORS), "baremetal_nodes": list(NODES)},
                 "hostvars": dict(HYPERVISORS, **NODES), "stratus_networks": CATALOG["stratus_networks"],
                 "stratus_db_url": db}
    metal = {"flavor": {"name": "bm.small", "vcpus": 8, "memory_mb": 32768, "root_gb": 400, "extra_specs": BM_SPECS},
             "num_instances": 4, "requested_networks": ["net-1"]}
    tiny = {"flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1}, "num_instances": 2}
    out = LookupModule().run([tiny, metal], variables, explain=True)
    assert {o["host"] for o in out[:2]} <= set(HYPERVISORS) and set(out[1]["explain"]) == set(HYPERVISORS)
    assert [o["host"] for o in out[2:]] == ["node-1", "node-2", "node-7", None]
    assert out[-1]["error"]["code"] == "NoValidHost" and set(out[-1]["explain"]) == set(NODES)
    for node, (rejected_by, reason) in LEFT_OUT.items():
        assert out[-1]["explain"][node] == {"rejected_by": rejected_by, "reason": reason}
    with pytest.raises(AnsibleError) as err:
        LookupModule().run([metal], variables, host_states=[{"host": "hv1", "vcpus": 8}])
    assert "a bare-metal flavor is scheduled among the inventory's nodes" in str(err.value)
    # without the store every node is enroll
    out = LookupModule().run([dict(metal, num_instances=1)], variables, use_store=False, explain=True)
    assert out[0]["host"] is None
    assert {v["rejected_by"] for n, v in out[0]["explain"].items() if n not in ("node-3", "node-6")} == {
        "ProvisionStateFilter"}


# --- through the server action: `stratus server explain` runs playbooks/explain.yml -----------------------

def test_stratus_server_explain_shows_each_nodes_reason(tmp_path: Path) -> None:
    from stratus_lab.ansible_run import controller_inventory, env, write_yaml
    from stratus_lab.paths import VENV_BIN

    db_url = "sqlite:///%s" % (tmp_path / "state.db")
    seed(db_url)
    inventory = controller_inventory(CATALOG, HYPERVISORS, {}, interpreter="{{ ansible_playbook_python }}")
    inventory["all"]["children"]["baremetal_nodes"] = {"hosts": NODES}
    hosts = write_yaml(tmp_path / "hosts.yml", inventory)
    proc = subprocess.run(
        [str(VENV_BIN / "stratus"), "-q", "server", "explain", "--name", "metal", "--flavor", "bm.small",
         "--image", "guest", "--network", "provisioning", "--count", "4", "--output", "json"],
        capture_output=True, text=True, env=env(db_url=db_url, caller=CTX, STRATUS_INVENTORY=str(hosts)),
        cwd=str(tmp_path), timeout=300, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["scheduled"] is False and out["error"]["code"] == "NoValidHost"
    why = {node: (v["rejected_by"], v.get("reason")) for node, v in out["hosts"].items()}
    assert set(why) == set(NODES)
    for node, reason in LEFT_OUT.items():
        assert why[node] == reason
