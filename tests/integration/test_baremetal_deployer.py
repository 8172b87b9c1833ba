"""The bare-metal deploy's store side (plugin_utils/conductor/deploy.py) on a real store (SQLite file and
PostgreSQL), with real deploy media and DHCP host files in a temporary directory and a fake BMC driver
(the lab's real BMCs: tests/e2e/test_baremetal_deploy.py).

Nova's task states and action-log events, the node's provision states, a failed deploy torn down and
rescheduled onto the next alternate node, ERROR with nothing held when none is left, delete's cleaning
(and a BMC that does not answer: the node waits in cleaning with its fault).
"""
from __future__ import annotations

import copy
import os
import stat
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.deploy import DeploySite
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import POWER_OFF, POWER_ON
from ansible_collections.stratus.compute.plugins.module_utils.compute import network
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import nodes_from_task_vars
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.delete import delete_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.deploy import Deployer
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    baremetal_nodes, claims, instance_action_events, instance_actions, instances, ip_allocations,
)

from test_baremetal_placement import CATALOG, CTX, NODES, request, seed

FREE = {"node-1": {"provision_state": "available"}, "node-2": {"provision_state": "available"},
        "node-7": {"provision_state": "available"}}
USABLE = {name: NODES[name] for name in FREE}
URL = "http://10.9.0.1:8080"


class FakeBMC:
    """A node's BMC: its power, its virtual CD and its next boot device; every call kept."""

    def __init__(self, fail: t.Mapping[str, str]) -> None:
        self.power = POWER_OFF
        self.media: t.Optional[str] = None
        self.boot: t.Optional[tuple[str, bool]] = None
        self.calls: list[str] = []
        self.fail = dict(fail)  # call -> error code

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise StratusError(self.fail[name], "node: redfish BMC: %s: it failed" % name, "hostvars[node]")

    def power_state(self) -> str:
        self._call("power_state")
        return self.power

    def insert_media(self, url: str) -> None:
        self._call("insert_media")
        self.media = url

    def eject_media(self) -> None:
        self._call("eject_media")
        self.media = None

    def set_boot_device(self, device: str, once: bool = True) -> None:
        self._call("set_boot_device")
        self.boot = (device, once)

    def power_on(self) -> None:
        self._call("power_on")
        self.power = POWER_ON

    def power_off(self, force: bool = True) -> None:
        self._call("power_off")
        self.power = POWER_OFF

    def wait_for_power(self, target: str, timeout: float) -> str:
        self._call("wait_for_power")
        return target


class Site:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.media = tmp / "media"
        self.media.mkdir()
        self.root = tmp / "root"
        self.hosts = self.root / network.hosts_dir_path("stratus-provisioning").lstrip("/")
        self.hosts.mkdir(parents=True)
        self.site = DeploySite.checked(str(self.media), URL, str(self.root))

    def dhcp(self) -> dict[str, dict[str, str]]:
        return network.DirHostEntries(str(self.hosts)).entries()

    def media_files(self) -> list[str]:
        return sorted(p.name for p in self.media.iterdir())


@pytest.fixture()
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def catalog(tmp: Path) -> dict[str, t.Any]:
    """The placement test's catalog, its kernel and ramdisk real files (a bzImage header, a cpio)."""
    kernel, ramdisk = tmp / "guest.vmlinuz", tmp / "guest.initrd"
    kernel.write_bytes(b"\0" * 0x202 + b"HdrS" + b"\0" * 512)
    ramdisk.write_bytes(b"070701" + b"0" * 200)
    out = copy.deepcopy(CATALOG)
    for image in out["stratus_images"]:
        if image["id"] == "img-k":
            image["file"] = str(kernel)
        if image["id"] == "img-r":
            image["file"] = str(ramdisk)
    return out


def create(db: str, site: Site, **kw: t.Any) -> list[dict[str, t.Any]]:
    out = create_servers(request(**kw), Caller(CTX, Enforcer()), catalog(site.tmp), [], dict(USABLE), db, False,
                         "req-bm", nodes=list(USABLE))
    return out.servers


def deployer(db: str, site: Site, bmcs: dict[str, FakeBMC]) -> Deployer:
    nodes = nodes_from_task_vars({"groups": {"baremetal_nodes": list(USABLE)}, "hostvars": USABLE,
                                  "stratus_networks": CATALOG["stratus_networks"]})
    return Deployer(nodes, site.site, db, driver_factory=lambda node: bmcs[node.name])


def servers(db: str) -> dict[str, tuple]:
    with store.transaction(db) as conn:
        return {r.name: (r.host, r.vm_state, r.task_state, r.power_state)
                for r in conn.execute(sa.select(instances).where(instances.c.deleted == ""))}


def node_states(db: str) -> dict[str, tuple]:
    with store.transaction(db) as conn:
        return {r.name: (r.provision_state, r.instance_uuid is not None)
                for r in conn.execute(sa.select(baremetal_nodes))}


def events_of(db: str, name: str) -> list[tuple[str, str, str]]:
    with store.transaction(db) as conn:
        uuid = conn.execute(sa.select(instances.c.uuid).where(instances.c.name == name)).scalar_one()
        return [(r.event, r.host, r.result) for r in conn.execute(
            sa.select(instance_action_events).join(instance_actions, instance_actions.c.id ==
                                                   instance_action_events.c.action_id)
            .where(instance_actions.c.instance_uuid == uuid).order_by(instance_action_events.c.id))]


def test_two_servers_walk_the_task_states_onto_their_nodes(db_url: str, site: Site) -> None:
    seed(db_url, FREE)
    made = create(db_url, site, max_count=2)
    bmcs = {name: FakeBMC({}) for name in USABLE}
    run = deployer(db_url, site, bmcs)
    run.deploy(None, 3)
    assert servers(db_url) == {"metal-1": ("node-1", "active", None, "running"),
                               "metal-2": ("node-2", "active", None, "running")}
    assert node_states(db_url) == {"node-1": ("active", True), "node-2": ("active", True), "node-7": ("available", False)}
    assert events_of(db_url, "metal-1") == [
        ("conductor_schedule_and_build_instances", "node-1", "Success"), ("compute_allocate_network", "node-1", "Success"),
        ("compute_prep_block_device", "node-1", "Success"), ("compute_spawn", "node-1", "Success")]
    uuids = {s["name"]: s["id"] for s in made}
    assert site.media_files() == sorted("%s.iso" % u for u in uuids.values())
    assert all(stat.S_IMODE(os.stat(site.media / f).st_mode) == 0o640 for f in site.media_files())
    for name, node in (("metal-1", "node-1"), ("metal-2", "node-2")):
        bmc = bmcs[node]
        assert (bmc.media, bmc.boot, bmc.power) == ("%s/%s.iso" % (URL, uuids[name]), ("cdrom", False), POWER_ON)  # persistent: it boots again at a start
        mac = NODES[node]["stratus_bm_nics"][0]["mac"]
        assert site.dhcp()[mac]["name"] == name
    # a rerun deploys nothing
    again = deployer(db_url, site, bmcs)
    again.deploy(None, 3)
    assert not again.changed and again.instances == {}


def test_a_failed_deploy_is_torn_down_and_rescheduled_onto_the_next_node(db_url: str, site: Site) -> None:
    seed(db_url, FREE)
    (made,) = create(db_url, site)
    bmcs = {"node-1": FakeBMC({"insert_media": "BMCError"}), "node-2": FakeBMC({}), "node-7": FakeBMC({})}
    run = deployer(db_url, site, bmcs)
    run.deploy(None, 3)
    assert servers(db_url) == {"metal": ("node-2", "active", None, "running")}
    assert node_states(db_url) == {"node-1": ("available", False), "node-2": ("active", True),
                                   "node-7": ("available", False)}
    assert bmcs["node-1"].power == POWER_OFF and "eject_media" in bmcs["node-1"].calls
    assert set(site.dhcp()) == {NODES["node-2"]["stratus_bm_nics"][0]["mac"]}  # node-1's entry dropped
    events = events_of(db_url, "metal")
    assert ("compute_spawn", "node-1", "Error") in events
    assert ("conductor_build_instances", "node-2", "Success") in events
    assert events[-1] == ("compute_spawn", "node-2", "Success")
    with store.transaction(db_url) as conn:
        assert conn.execute(sa.select(claims.c.host).where(claims.c.instance_uuid == made["id"])).scalar_one() == "node-2"
        assert conn.execute(sa.select(ip_allocations.c.mac).where(ip_allocations.c.instance_uuid == made["id"])
                            ).scalar_one() == NODES["node-2"]["stratus_bm_nics"][0]["mac"]
        node1 = conn.execute(sa.select(baremetal_nodes).where(baremetal_nodes.c.name == "node-1")).first()
    assert node1.last_error is None  # cleaned: the fault is in the event log


def test_when_every_node_fails_the_server_is_error_with_nothing_held(db_url: str, site: Site) -> None:
    seed(db_url, FREE)
    (made,) = create(db_url, site)
    bmcs = {name: FakeBMC({"power_on": "BMCError"}) for name in USABLE}
    deployer(db_url, site, bmcs).deploy(None, 3)
    with store.transaction(db_url) as conn:
        row = conn.execute(sa.select(instances).where(instances.c.uuid == made["id"])).first()
        held = conn.execute(sa.select(sa.func.count()).select_from(claims)).scalar_one()
    assert row.vm_state == "error" and row.fault["code"] == "MaxRetriesExceeded"
    assert "BMCError" in row.fault["message"] and row.attempts == 3
    assert held == 0
    assert node_states(db_url) == {n: ("available", False) for n in USABLE}
    assert site.media_files() == [] and site.dhcp() == {}


def test_delete_cleans_the_node_and_a_silent_bmc_waits_in_cleaning(db_url: str, site: Site) -> None:
    seed(db_url, FREE)
    create(db_url, site, max_count=2)
    bmcs = {name: FakeBMC({}) for name in USABLE}
    deployer(db_url, site, bmcs).deploy(None, 3)
    bmcs["node-2"].fail = {"power_off": "BMCUnreachable"}
    gone = delete_servers(request(max_count=2), Caller(CTX, Enforcer()), db_url, False, "req-del")
    assert gone.hosts == [] and servers(db_url) == {}  # deleted at once
    cleaner = deployer(db_url, site, bmcs)
    cleaner.clean_nodes()
    assert node_states(db_url) == {"node-1": ("available", False), "node-2": ("cleaning", False),
                                   "node-7": ("available", False)}
    assert cleaner.cleaned["node-2"]["error"]["code"] == "BMCUnreachable"
    assert bmcs["node-1"].power == POWER_OFF and bmcs["node-1"].media is None
    assert site.media_files() == [] and site.dhcp() == {}  # the files need no BMC
    # the BMC answers again: the next run cleans it
    bmcs["node-2"].fail = {}
    deployer(db_url, site, bmcs).clean_nodes()
    assert node_states(db_url)["node-2"] == ("available", False)
    assert bmcs["node-2"].power == POWER_OFF and bmcs["node-2"].media is None


def test_a_silent_bmc_is_tried_once_per_run_not_once_per_round(db_url: str, site: Site) -> None:
    """Found by the bare-metal reliability scenario: with the BMC gone, every reschedule round cleaned every
    node already left in cleaning again, each try waiting the BMC's timeout (~27 s against the lab's)."""
    seed(db_url, FREE)
    (made,) = create(db_url, site)
    bmcs = {name: FakeBMC({"power_on": "BMCUnreachable", "power_off": "BMCUnreachable"}) for name in USABLE}
    run = deployer(db_url, site, bmcs)
    run.deploy(None, 3)
    assert servers(db_url)["metal"][1] == "error"
    assert node_states(db_url) == {n: ("cleaning", False) for n in USABLE}
    assert {n: bmc.calls.count("power_off") for n, bmc in bmcs.items()} == {n: 1 for n in USABLE}
    # the next run tries them again
    for bmc in bmcs.values():
        bmc.fail = {}
    deployer(db_url, site, bmcs).clean_nodes()
    assert node_states(db_url) == {n: ("available", False) for n in USABLE}


def test_an_error_server_that_holds_no_node_is_deleted_at_once(db_url: str, site: Site) -> None:
    """Found by the bare-metal reliability scenario: the delete of a bare-metal server in ERROR (its failed
    deploys gave every node back) handed it to the hypervisors' walk on its last node's name, which no
    hypervisor play walks: it stayed ERROR / deleting for ever."""
    seed(db_url, FREE)
    create(db_url, site)
    bmcs = {name: FakeBMC({"power_on": "BMCError"}) for name in USABLE}
    deployer(db_url, site, bmcs).deploy(None, 3)
    assert servers(db_url)["metal"][1] == "error"
    gone = delete_servers(request(), Caller(CTX, Enforcer()), db_url, False, "req-del")
    assert gone.hosts == [] and servers(db_url) == {}
    with store.transaction(db_url) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ip_allocations)).scalar_one() == 0
    assert node_states(db_url) == {n: ("available", False) for n in USABLE}


class RacedBMC(FakeBMC):
    """A BMC whose node another run (two provision runs at once) cleans to available while this one cleans it."""

    def __init__(self, db: str, name: str) -> None:
        super().__init__({})
        self.db, self.name = db, name

    def power_off(self, force: bool = True) -> None:
        super().power_off(force)
        with store.transaction(self.db) as conn:
            conn.execute(sa.update(baremetal_nodes).where(baremetal_nodes.c.name == self.name)
                         .values(provision_state="available", target_provision_state=None))


def test_a_node_another_run_cleaned_meanwhile_is_not_this_runs_fault(db_url: str, site: Site) -> None:
    """Found by the bare-metal reliability scenario: two runs at once both cleaned a node; the second's
    move failed with Conflict and failed its whole task (its own servers' deploys with it)."""
    seed(db_url, FREE)
    create(db_url, site)
    bmcs: dict[str, FakeBMC] = {name: FakeBMC({}) for name in USABLE}
    deployer(db_url, site, bmcs).deploy(None, 3)
    delete_servers(request(), Caller(CTX, Enforcer()), db_url, False, "req-del")
    assert node_states(db_url)["node-1"] == ("cleaning", False)
    bmcs["node-1"] = RacedBMC(db_url, "node-1")
    cleaner = deployer(db_url, site, bmcs)
    cleaner.clean_nodes()  # no Conflict raised
    assert cleaner.cleaned["node-1"] == {"ok": True, "provision_state": None, "moved_by_another_run": True}
    assert node_states(db_url)["node-1"] == ("available", False)
    assert bmcs["node-1"].power == POWER_OFF and bmcs["node-1"].media is None
    assert site.media_files() == [] and site.dhcp() == {}


def test_the_site_is_checked_whole(tmp_path: Path) -> None:
    for media_dir, url, root, field in ((str(tmp_path), "http://x:80/path", "/", "stratus_baremetal_media_url"),
                                        (str(tmp_path), "ftp://x", "/", "stratus_baremetal_media_url"),
                                        ("relative", URL, "/", "stratus_baremetal_media_dir"),
                                        (str(tmp_path / "missing"), URL, "/", "stratus_baremetal_media_dir"),
                                        (str(tmp_path), URL, "/a/../b", "stratus_baremetal_host_root")):
        with pytest.raises(StratusError) as err:
            DeploySite.checked(media_dir, url, root)
        assert (err.value.code, err.value.field) == ("InvalidCatalog", field)
