# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare-metal deploy: Nova's Ironic driver spawn and destroy, run where the BMCs are reachable.

A bare-metal server's build walks Nova's task states (networking, block_device_mapping,
spawning) with the same action-log events as a hypervisor's steps, and its node walks Ironic's
provision states (available -> deploying -> active). The BMC and file work is
module_utils/baremetal/deploy.py; this module keeps the store's side, in short transactions
around it (no transaction is held while a BMC answers), as conductor/nodes.py does.

A failed step tears the node down (power off, eject, medium and DHCP entry gone), records
``deploy failed``, releases the node to cleaning and, when the teardown worked, to available; the
server moves to its next alternate node (claimed under the placement lock) or, when none is
left, ends in ERROR with the fault and nothing held. Nodes left in ``cleaning`` (a deleted
server's, or one whose BMC did not answer) are cleaned by every run: power off, eject, the
medium of the instance that held it and its DHCP entries removed, then ``available``.
"""
from __future__ import annotations

import contextlib

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import deploy as work
from ansible_collections.stratus.compute.plugins.module_utils.baremetal import states
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import POWER_OFF, POWER_ON, BMCDriver
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.drivers import boot_interface
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, Nic, read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.node_views import node_row
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, reschedule
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.nodes import _set_state, bmc_driver
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import node_claims
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who, record_event
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    baremetal_node_events, baremetal_nodes, claims, instances, ip_allocations,
)

DRIVER = "baremetal"
DriverFactory = t.Callable[[BaremetalNode], BMCDriver]
# Nova's build walk, the bare-metal way: (task_state, action-log event, the work)
STEPS = (("networking", lifecycle.STEP_EVENTS["network"]),
         ("block_device_mapping", lifecycle.STEP_EVENTS["block_devices"]),
         ("spawning", lifecycle.STEP_EVENTS["domain"]))
# Who the pipeline's own node moves are recorded as (the run's, not a user's request).
PIPELINE = Who("stratus", "", "")


def nics_on(node: BaremetalNode, nics: t.Sequence[Nic]) -> list[Nic]:
    """The plan's NICs with the node's own MAC on each network (a node's MAC is what it is)."""
    macs = {nic.network: nic.mac for nic in node.nics}
    out = []
    for nic in nics:
        mac = macs.get(nic.network_name)
        if mac is None:
            raise StratusError("NoValidHost", "No valid host was found. Bare-metal node %s has no NIC on network %s"
                               % (node.name, nic.network_name), "networks")
        out.append(Nic(mac=mac, libvirt_network=nic.libvirt_network, network_id=nic.network_id,
                       network_name=nic.network_name, ip=nic.ip, hostname=nic.hostname))
    return out


def take_node_macs(conn: Connection, uuid: str, nics: t.Sequence[Nic]) -> None:
    """IPAM's allocations of the instance carry the node's MACs (IPAM made one up, as for a domain)."""
    for nic in nics:
        conn.execute(ip_allocations.update().where(ip_allocations.c.instance_uuid == uuid,
                                                   ip_allocations.c.network_id == nic.network_id,
                                                   ip_allocations.c.address == nic.ip).values(mac=nic.mac))


class BootInterface:
    """How a node boots its deploy (Ironic's boot interface): what block_device_mapping prepares for
    it, and how spawning boots it. A new one is a class here, an entry in BOOT_INTERFACES and its
    name in module_utils/baremetal/drivers.BOOT_INTERFACES."""

    name = ""

    def prepare(self, site: work.DeploySite, plan: BuildPlan) -> str:
        raise NotImplementedError

    def boot(self, driver: BMCDriver, site: work.DeploySite, plan: BuildPlan) -> str:
        raise NotImplementedError


class VirtualMediaBoot(BootInterface):
    """redfish-virtual-media: the deploy medium (kernel, ramdisk, config drive) as the node's virtual CD."""

    name = "redfish-virtual-media"

    def prepare(self, site: work.DeploySite, plan: BuildPlan) -> str:
        medium = work.write_medium(site, plan)
        return "deploy medium %s (%d bytes)%s" % (medium.path.rsplit("/", 1)[-1], medium.size,
                                                  "" if medium.changed else ", unchanged")

    def boot(self, driver: BMCDriver, site: work.DeploySite, plan: BuildPlan) -> str:
        work.spawn(driver, site, plan)
        return "booted from %s by virtual media" % site.medium_url(plan.uuid)


class NetworkBoot(BootInterface):
    """pxe (IPMI nodes): kernel, ramdisk, the config drive as a second initrd and the node's iPXE
    script in the node network's TFTP root; the node boots from the network (persistently: again at
    every power on, until it is cleaned)."""

    name = "pxe"

    def prepare(self, site: work.DeploySite, plan: BuildPlan) -> str:
        boots = work.write_pxe(site, plan)
        return "PXE files for %s%s" % (", ".join(b.script.rsplit("/", 1)[-1] for b in boots),
                                       "" if any(b.changed for b in boots) else ", unchanged")

    def boot(self, driver: BMCDriver, site: work.DeploySite, plan: BuildPlan) -> str:
        work.spawn_pxe(driver, plan)
        return "booted from the network (PXE, TFTP root %s)" % site.tftp_root


BOOT_INTERFACES: dict[str, BootInterface] = {boot.name: boot for boot in (VirtualMediaBoot(), NetworkBoot())}


class Deployer:
    """The deploy and clean-up of the bare-metal servers whose nodes this conductor reaches."""

    def __init__(self, nodes: t.Sequence[BaremetalNode], site: work.DeploySite, db_url: t.Optional[str],
                 driver_factory: DriverFactory = bmc_driver) -> None:
        self.nodes = {node.name: node for node in nodes}
        self.site = site
        self.db_url = db_url
        self.driver_factory = driver_factory
        self.changed = False
        self.instances: dict[str, dict[str, t.Any]] = {}
        self.cleaned: dict[str, dict[str, t.Any]] = {}

    # ------------------------------------------------------------------ cleaning

    def _last_holder(self, conn: Connection, node: str) -> t.Optional[str]:
        row = conn.execute(sa.select(baremetal_node_events.c.instance_uuid).where(
            baremetal_node_events.c.node == node, baremetal_node_events.c.event == "release")
            .order_by(baremetal_node_events.c.id.desc()).limit(1)).first()
        return row.instance_uuid if row is not None else None

    def clean_nodes(self) -> None:
        """Every node of this conductor in ``cleaning`` with no holder: cleaned, then ``available``.
        A BMC that does not answer leaves the node in cleaning with the fault (the next run tries
        again); any other fault is ``clean failed``. A node whose BMC did not answer earlier in this run
        is not tried again in it: each reschedule round cleans, and every try waits the BMC's timeout."""
        with store.transaction(self.db_url) as conn:
            rows = [row for row in node_claims.node_rows(conn).values()
                    if row.name in self.nodes and row.provision_state == states.CLEANING and row.instance_uuid is None
                    and not self._unreachable_in_this_run(row.name)]
            holders = {row.name: self._last_holder(conn, row.name) for row in rows}
        for row in rows:
            self._clean(self.nodes[row.name], holders[row.name])

    def _clean(self, node: BaremetalNode, holder: t.Optional[str]) -> None:
        nics = [(_libvirt_name(nic.network), nic.mac) for nic in node.nics]
        try:
            done = work.teardown(self.driver_factory(node), self.site, holder, nics)
        except StratusError as exc:
            message = "%s: %s" % (exc.code, exc.message)
            end = states.CLEANING if exc.code == "BMCUnreachable" else states.CLEAN_FAILED
            with self._cleaned_by_another_run(node.name):
                with store.transaction(self.db_url) as conn:
                    if end == states.CLEANING:
                        conn.execute(_node_update(node.name, states.CLEANING).values(last_error=message))
                    else:
                        _set_state(conn, node.name, states.CLEANING, end, {"target_provision_state": None,
                                                                           "last_error": message})
                    record_event(conn, node.name, "clean", states.CLEANING, end, "error", message, PIPELINE, holder)
                self.cleaned[node.name] = {"ok": False, "provision_state": end, "error": exc.to_dict()}
            return
        with self._cleaned_by_another_run(node.name):
            with store.transaction(self.db_url) as conn:
                _set_state(conn, node.name, states.CLEANING, states.AVAILABLE,
                           {"target_provision_state": None, "last_error": None, "power_state": POWER_OFF})
                record_event(conn, node.name, "clean", states.CLEANING, states.AVAILABLE, "success",
                             "cleaned: %s" % (", ".join(done) or "nothing to undo"), PIPELINE, holder)
            self.changed = True
            self.cleaned[node.name] = {"ok": True, "provision_state": states.AVAILABLE, "done": done}

    def _unreachable_in_this_run(self, name: str) -> bool:
        return (self.cleaned.get(name, {}).get("error") or {}).get("code") == "BMCUnreachable"

    @contextlib.contextmanager
    def _cleaned_by_another_run(self, name: str) -> t.Iterator[None]:
        """Two runs at once both find a node in cleaning and both clean it (the BMC work is idempotent);
        the one whose move comes second finds the node moved: that is the other run's result to record,
        not a fault of this run (its own servers' deploys go on)."""
        try:
            yield
        except StratusError as exc:
            if exc.code != "Conflict":
                raise
            self.cleaned[name] = {"ok": True, "provision_state": None, "moved_by_another_run": True}

    # ------------------------------------------------------------------ deploying

    def building(self, run_uuids: t.Optional[list[str]]) -> list[t.Any]:
        """This conductor's bare-metal builds under way (of this run when given), by name."""
        with store.transaction(self.db_url) as conn:
            query = sa.select(instances).where(instances.c.deleted == "", instances.c.vm_state == "building",
                                               instances.c.host.in_(sorted(self.nodes)),
                                               instances.c.task_state.in_(("scheduling",) + tuple(s for s, _e in STEPS)))
            if run_uuids is not None:
                query = query.where(instances.c.uuid.in_(run_uuids))
            return list(conn.execute(query.order_by(instances.c.name)))

    def deploy(self, run_uuids: t.Optional[list[str]], rounds: int) -> None:
        """Deploy the builds; a reschedule onto another node is deployed in the next round."""
        for _round in range(max(1, rounds)):
            rows = self.building(run_uuids)
            if not rows:
                return
            for row in rows:
                self._deploy_one(row)

    def _deploy_one(self, row: t.Any) -> None:
        node = self.nodes[row.host]
        plan = read_plan(row.plan, uuid=row.uuid)
        self.changed = True
        start = lifecycle.now()
        try:
            if plan.driver != DRIVER:
                raise StratusError("InvalidRequest", "the plan of instance %s is for the %s driver, not %s"
                                   % (row.uuid, plan.driver, DRIVER), "plan.driver")
            if boot_interface(node.driver) not in BOOT_INTERFACES:
                raise StratusError("BMCUnsupported", "node %s: driver %s has no deploy boot interface"
                                   % (node.name, node.driver), "hostvars[%s].stratus_bm_driver" % node.name)
            self._start_deploy(node, row.uuid)
        except StratusError as exc:
            self._failed(row, node, None, exc.to_dict(), start)
            return
        driver = self.driver_factory(node)
        for task_state, event in STEPS:
            with store.transaction(self.db_url) as conn:
                lifecycle.set_task_state(conn, [row.uuid], task_state)
            start = lifecycle.now()
            try:
                detail = self._step(task_state, driver, plan, BOOT_INTERFACES[str(boot_interface(node.driver))])
            except StratusError as exc:
                self._failed(row, node, event, exc.to_dict(), start)
                return
            with store.transaction(self.db_url) as conn:
                lifecycle.record_event(conn, row.uuid, event, node.name, "Success", detail, start)
        with store.transaction(self.db_url) as conn:
            _set_state(conn, node.name, states.DEPLOYING, states.ACTIVE,
                       {"target_provision_state": None, "last_error": None, "power_state": POWER_ON})
            record_event(conn, node.name, "deploy", states.DEPLOYING, states.ACTIVE, "success",
                         "deployed instance %s (%s)" % (row.uuid, boot_interface(node.driver)), PIPELINE, row.uuid)
            lifecycle.mark_active(conn, row.uuid)
        self.instances[row.uuid] = {"ok": True, "changed": True, "node": node.name}

    def _start_deploy(self, node: BaremetalNode, uuid: str) -> None:
        """The node available -> deploying (an interrupted deploy's node is deploying already)."""
        with store.transaction(self.db_url) as conn:
            row = node_row(conn, node.name, for_update=True)
            if row is None or row.instance_uuid != uuid:
                raise StratusError("NodeNotFound", "node %s is not claimed by instance %s" % (node.name, uuid),
                                   node.name)
            if row.provision_state == states.DEPLOYING:
                return
            try:
                move = states.plan_move("deploy", row.provision_state)
            except ValueError as exc:
                raise StratusError("InvalidStateRequested", "node %s: %s" % (node.name, exc), node.name) from None
            _set_state(conn, node.name, row.provision_state, str(move.via),
                       {"target_provision_state": move.success, "last_error": None})
            record_event(conn, node.name, "deploy", row.provision_state, move.via, "start", None, PIPELINE, uuid)

    def _step(self, task_state: str, driver: BMCDriver, plan: BuildPlan, boot: "BootInterface") -> str:
        if task_state == "networking":
            changed = work.networking(self.site, plan)
            return "DHCP %s on %s" % ("entry written" if changed else "entry there",
                                      ", ".join("%s=%s" % (n.mac, n.ip) for n in plan.nics) or "no network")
        if task_state == "block_device_mapping":
            return boot.prepare(self.site, plan)
        return boot.boot(driver, self.site, plan)

    # ------------------------------------------------------------------ failure

    def _failed(self, row: t.Any, node: BaremetalNode, event: t.Optional[str], fault: dict[str, t.Any],
                start: t.Any) -> None:
        """Tear down, deploy failed -> cleaning -> available, then the next alternate node or ERROR."""
        fault = dict(fault, host=node.name)
        message = "%s: %s" % (fault.get("code"), fault.get("message"))
        with store.transaction(self.db_url) as conn:
            lifecycle.record_event(conn, row.uuid, event or "conductor_build_instances", node.name, "Error",
                                   fault.get("message"), start)
            current = node_row(conn, node.name)
            if current is not None and current.provision_state == states.DEPLOYING:
                _set_state(conn, node.name, states.DEPLOYING, states.DEPLOY_FAILED,
                           {"target_provision_state": None, "last_error": message})
                record_event(conn, node.name, "deploy", states.DEPLOYING, states.DEPLOY_FAILED, "error", message,
                             PIPELINE, row.uuid)
        with store.transaction(self.db_url, locked=True) as conn:
            node_claims.release_node(conn, row.uuid, PIPELINE)
            fresh = conn.execute(sa.select(instances).where(instances.c.uuid == row.uuid)).first()
            new_node = self.reschedule(conn, fresh, node, fault)
        self.clean_nodes()
        self.instances[row.uuid] = {"ok": False, "error": fault, "rescheduled_to": new_node}

    def reschedule(self, conn: Connection, row: t.Any, failed: BaremetalNode, fault: dict[str, t.Any]) -> t.Optional[str]:
        """Nova's retry, node by node: claim the next alternate that is still free (claim_node decides
        under the placement lock), its MACs on the instance's NICs; None after marking ERROR."""
        plan = read_plan(row.plan or {}, uuid=row.uuid)
        alternates = [n for n in plan.alternates if n != failed.name]
        if fault.get("code") not in reschedule.NOT_RESCHEDULED:
            while alternates:
                alt = alternates.pop(0)
                node = self.nodes.get(alt)
                try:
                    if node is None:
                        raise StratusError("NodeNotFound", "node %s is not in this conductor's inventory" % alt, alt)
                    nics = nics_on(node, plan.nics)
                    node_claims.claim_node(conn, alt, row.uuid, PIPELINE)
                except StratusError as exc:
                    lifecycle.record_event(conn, row.uuid, "conductor_build_instances", alt, "Error",
                                           "alternate node %s cannot be taken: %s" % (alt, exc.message))
                    continue
                moved = read_plan(dict(plan.rescheduled(alternates).to_dict(), nics=[n.to_dict() for n in nics]))
                conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
                    host=alt, task_state="scheduling", attempts=instances.c.attempts + 1, plan=moved.to_dict(),
                    updated_at=lifecycle.now()))
                conn.execute(claims.update().where(claims.c.instance_uuid == row.uuid).values(
                    host=alt, vcpus=node.cpus, memory_mb=node.memory_mb, disk_gb=node.local_gb))
                take_node_macs(conn, row.uuid, nics)
                lifecycle.record_event(conn, row.uuid, "conductor_build_instances", alt, "Success",
                                       "rescheduled from %s to %s after %s: %s"
                                       % (failed.name, alt, fault.get("code"), fault.get("message")))
                return alt
        attempts = int(row.attempts or 1)
        if fault.get("code") in reschedule.NOT_RESCHEDULED or (not plan.alternates and attempts <= 1):
            lifecycle.mark_error(conn, row.uuid, fault)
        else:
            lifecycle.mark_error(conn, row.uuid, {
                "code": "MaxRetriesExceeded", "host": failed.name,
                "message": "Exhausted all bare-metal nodes available for retrying build failures for instance %s "
                           "(attempts: %d of %d). Last exception: %s: %s"
                           % (row.uuid, attempts, plan.max_attempts, fault.get("code"), fault.get("message"))})
        return None


def _libvirt_name(network: str) -> str:
    """The libvirt name Stratus gives a catalog network (catalog.Catalog.network)."""
    return "stratus-" + network


def _node_update(name: str, state: str) -> t.Any:
    return sa.update(baremetal_nodes).where(baremetal_nodes.c.name == name, baremetal_nodes.c.provision_state == state)
