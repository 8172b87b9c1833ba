# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare-metal node lifecycle, the write side: an operator's verb moves a node through Ironic's
provision states (module_utils/baremetal/states.py), and maintenance on or off.

A move is Ironic's conductor in three parts, so that no transaction is held while a BMC answers
(a BMC may take a minute): one short transaction records the transient state (``verifying``,
``inspecting``, ``cleaning``) and a ``start`` event; the BMC work runs outside any transaction;
another records the end (the verb's success state, or its failure state with ``last_error`` the
BMC error's code and message) and its event. A run killed half-way leaves the node in the
transient state, and the same verb moves it again (states.plan_move allows it): a rerun converges.

The inventory says what a node is (compute_api/baremetal_nodes.py), the ``baremetal_nodes`` row
where it is: a node seen first is recorded in ``enroll``; a row whose node left the inventory
stays and is reported (``departed``), never silently deleted.
"""
from __future__ import annotations

import dataclasses
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import states
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    POWER_OFF, BMCDriver, BMCInventory,
)
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.drivers import driver_for
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.node_views import (
    find_node, maintenance_of, node_row, node_view,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who, now, record_event
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_nodes

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# The verbs an operator may ask for (the others are the server pipeline's).
OPERATOR_VERBS = tuple(name for name, verb in states.VERBS.items() if verb.by_user)
# How long cleaning waits for the node to be off (a BMC applies a power change seconds later).
POWER_TIMEOUT_S = 120.0

DriverFactory = t.Callable[[BaremetalNode], BMCDriver]


def bmc_driver(node: BaremetalNode) -> BMCDriver:
    return driver_for(node.driver, node.bmc)


@dataclasses.dataclass
class NodeOutcome:
    """What a verb or a maintenance change did to one node (or, in check mode, would do)."""

    changed: bool
    node: dict[str, t.Any]  # the node's view after it (compute_api/node_views.py)
    action: str  # manage, inspect, provide, maintenance on, maintenance off
    from_state: t.Optional[str] = None
    to_state: t.Optional[str] = None
    message: t.Optional[str] = None
    error: t.Optional[StratusError] = None  # the BMC's fault: recorded on the node, the run fails


def enroll_new(conn: Connection, nodes: t.Sequence[BaremetalNode], who: Who) -> list[str]:
    """Record in enroll the inventory's nodes that have no row yet; their names."""
    have = set(conn.execute(sa.select(baremetal_nodes.c.name)).scalars())
    enrolled = []
    for node in nodes:
        if node.name in have:
            continue
        conn.execute(baremetal_nodes.insert().values(name=node.name, provision_state=states.ENROLL,
                                                     maintenance=False, created_at=now()))
        record_event(conn, node.name, "enroll", None, states.ENROLL, "success", "first seen in the inventory", who)
        enrolled.append(node.name)
    return enrolled


def departed(conn: Connection, nodes: t.Sequence[BaremetalNode]) -> list[str]:
    """The rows whose node is no longer in the inventory (kept: a claim or a fault may still be there)."""
    known = {n.name for n in nodes}
    return sorted(name for name in conn.execute(sa.select(baremetal_nodes.c.name)).scalars() if name not in known)


def sync_nodes(nodes: t.Sequence[BaremetalNode], caller: Caller, db_url: t.Optional[str], check_mode: bool,
               request_id: str) -> dict[str, list[str]]:
    """Rows for the inventory's nodes: the newly enrolled ones, and those whose node left the inventory."""
    with store.transaction(db_url) as conn:
        enrolled = [] if check_mode else enroll_new(conn, nodes, Who.of(caller, request_id))
        return {"enrolled": enrolled, "departed": departed(conn, nodes)}


# ---------------------------------------------------------------- the BMC work of each verb

def verify(driver: BMCDriver, node: BaremetalNode) -> t.Tuple[dict[str, t.Any], str]:
    """manage: the BMC answers, the credentials are right, the power state is readable."""
    power = driver.verify()
    return {"power_state": power}, "BMC verified: reachable, credentials accepted, %s" % power


def inspection(node: BaremetalNode, found: BMCInventory) -> dict[str, t.Any]:
    """What the BMC reported, and where it differs from the inventory (reported, never a failure:
    the operator decides whether the inventory or the machine is wrong)."""
    differences, not_reported = [], []
    for prop, claimed, seen in (("cpus", node.cpus, found.cpus), ("memory_mb", node.memory_mb, found.memory_mb)):
        if seen is None:
            not_reported.append(prop)
        elif seen != claimed:
            differences.append({"property": prop, "inventory": claimed, "bmc": seen})
    inventory_macs = sorted(nic.mac for nic in node.nics)
    if not found.macs:
        not_reported.append("macs")
    elif set(found.macs) != set(inventory_macs):
        differences.append({"property": "macs", "inventory": inventory_macs, "bmc": sorted(found.macs)})
    return {"cpus": found.cpus, "memory_mb": found.memory_mb, "macs": sorted(found.macs),
            "differences": differences, "not_reported": not_reported, "inspected_at": now().isoformat()}


def inspection_summary(record: t.Mapping[str, t.Any]) -> str:
    if record["differences"]:
        text = "differs from the inventory: " + ", ".join(
            "%s %s (inventory %s)" % (d["property"], _shown(d["bmc"]), _shown(d["inventory"]))
            for d in record["differences"])
    else:
        text = "matches the inventory"
    if record["not_reported"]:
        text += "; the BMC does not report %s" % ", ".join(record["not_reported"])
    return text


def _shown(value: t.Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def inspect(driver: BMCDriver, node: BaremetalNode) -> t.Tuple[dict[str, t.Any], str]:
    """inspect: CPUs, memory and NICs as the BMC reports them, recorded with the differences."""
    record = inspection(node, driver.read_inventory())
    return {"inspected": record}, "inspected: " + inspection_summary(record)


def clean(driver: BMCDriver, node: BaremetalNode) -> t.Tuple[dict[str, t.Any], str]:
    """provide (cleaning): the node off at once and confirmed off, its virtual media ejected."""
    driver.power_off(force=True)
    driver.wait_for_power(POWER_OFF, POWER_TIMEOUT_S)
    media = "virtual media ejected"
    try:
        driver.eject_media()
    except StratusError as exc:
        if exc.code != "BMCUnsupported":
            raise
        media = "no virtual media (%s)" % node.driver  # IPMI: nothing can be inserted, nothing to eject
    return {"power_state": POWER_OFF}, "cleaned: powered off, %s" % media


WORK: dict[str, t.Callable[[BMCDriver, BaremetalNode], t.Tuple[dict[str, t.Any], str]]] = {
    "manage": verify, "inspect": inspect, "provide": clean,
}


# ---------------------------------------------------------------- moves

def invalid_state(node: str, verb: str, current: str, why: str) -> StratusError:
    """Ironic's InvalidStateRequested; the field is the node."""
    return StratusError("InvalidStateRequested", "The requested action \"%s\" can not be performed on node \"%s\" "
                        "while it is in state \"%s\": %s" % (verb, node, current, why), node)


def move_node(nodes: t.Sequence[BaremetalNode], name: str, verb: str, caller: Caller, db_url: t.Optional[str],
              check_mode: bool, request_id: str, driver_factory: DriverFactory = bmc_driver) -> NodeOutcome:
    """Move the node by an operator's verb (manage, inspect, provide), as Ironic allows it.

    Refused with nothing changed: a verb that is not an operator's (InvalidRequest), policy
    (PolicyNotAuthorized), a node the inventory does not have (NodeNotFound), a verb Ironic does
    not allow in the node's state (InvalidStateRequested), cleaning a node in maintenance
    (NodeInMaintenance). A BMC fault is recorded on the node and returned in ``error``."""
    if verb not in OPERATOR_VERBS:
        raise StratusError("InvalidRequest", "provision_action must be one of %s, got %r"
                           % (", ".join(OPERATOR_VERBS), verb), "provision_action")
    caller.authorize("baremetal:node:set_provision_state", field="provision_action")
    node = find_node(nodes, name)
    who = Who.of(caller, request_id)
    with store.transaction(db_url) as conn:
        if not check_mode:
            enroll_new(conn, [node], who)
        row = node_row(conn, name, for_update=True)
        current = row.provision_state if row is not None else states.ENROLL
        try:
            move = states.plan_move(verb, current)
        except ValueError as exc:
            raise invalid_state(name, verb, current, str(exc)) from None
        if move.changed and verb == "provide" and maintenance_of(node, row)[0]:
            raise StratusError("NodeInMaintenance", "The node %s is in maintenance mode (%s): it cannot be cleaned "
                               "and provided; take it out of maintenance first"
                               % (name, maintenance_of(node, row)[1]), name)
        if not move.changed or check_mode:
            message = ("already %s" % current if not move.changed else
                       "%s -> %s%s" % (current, " -> ".join(s for s in (move.via, move.success) if s),
                                       " (no BMC call)" if move.via is None else " (or %s)" % move.failure))
            return NodeOutcome(move.changed, node_view(node, row), verb, current,
                               move.success if move.changed else current, message)
        if move.via is None:  # Ironic's plain move (available -> manageable): no BMC call
            _set_state(conn, name, current, move.success, {"last_error": None})
            record_event(conn, name, verb, current, move.success, "success", None, who)
            return NodeOutcome(True, node_view(node, node_row(conn, name)), verb, current, move.success,
                               "%s -> %s (no BMC call)" % (current, move.success))
        _set_state(conn, name, current, move.via, {"target_provision_state": move.success})
        record_event(conn, name, verb, current, move.via, "start", None, who)
    # the BMC work: outside any transaction (a BMC may take a minute to answer)
    fault: t.Optional[StratusError] = None
    try:
        updates, message = WORK[verb](driver_factory(node), node)
    except StratusError as exc:
        fault, updates, message = exc, {}, "%s: %s" % (exc.code, exc.message)
    except Exception as exc:  # a bug: the node must not stay in the transient state unsaid
        fault, updates = StratusError("InternalError", "%s: %s" % (type(exc).__name__, exc)), {}
        message = "%s: %s" % (fault.code, fault.message)
    end = move.failure if fault else move.success
    with store.transaction(db_url) as conn:
        ending = dict(updates, target_provision_state=None, last_error=message if fault else None)
        _set_state(conn, name, move.via, end, ending)
        record_event(conn, name, verb, move.via, end, "error" if fault else "success", message, who)
        view = node_view(node, node_row(conn, name))
    return NodeOutcome(True, view, verb, current, end, message, fault)


def _set_state(conn: Connection, name: str, current: str, target: str, values: t.Mapping[str, t.Any]) -> None:
    """Move the row from current to target; another run that moved it meanwhile is a Conflict."""
    stamp = now()
    moved = conn.execute(baremetal_nodes.update()
                         .where(baremetal_nodes.c.name == name, baremetal_nodes.c.provision_state == current)
                         .values(provision_state=target, provision_updated_at=stamp, updated_at=stamp, **values))
    if moved.rowcount != 1:
        raise StratusError("Conflict", "node %s left provision state %s meanwhile (another run moved it); "
                           "nothing recorded" % (name, current), name)


def set_maintenance(nodes: t.Sequence[BaremetalNode], name: str, on: bool, reason: t.Optional[str], caller: Caller,
                    db_url: t.Optional[str], check_mode: bool, request_id: str) -> NodeOutcome:
    """Maintenance on (with a reason) or off: Ironic's flag, on the node's row.

    A node is in maintenance if the inventory or the row says so; off clears the row's flag
    only (the inventory's flag is the operator's file: the view still says so)."""
    caller.authorize("baremetal:node:set_maintenance" if on else "baremetal:node:clear_maintenance",
                     field="maintenance")
    node = find_node(nodes, name)
    if on and not reason:
        raise StratusError("InvalidRequest", "a node put in maintenance needs a reason", "reason")
    if not on and reason:
        raise StratusError("InvalidRequest", "a reason goes with maintenance on only", "reason")
    if on and (not isinstance(reason, str) or not schema.REASON.fullmatch(reason)):
        raise StratusError("InvalidRequest", "the reason must be one line of 1 to 255 printable characters", "reason")
    action = "maintenance on" if on else "maintenance off"
    with store.transaction(db_url) as conn:
        if not check_mode:
            enroll_new(conn, [node], Who.of(caller, request_id))
        row = node_row(conn, name, for_update=True)
        flag, current_reason = (bool(row.maintenance), row.maintenance_reason) if row is not None else (False, None)
        state = row.provision_state if row is not None else states.ENROLL
        changed = (not flag or current_reason != reason) if on else flag
        if changed and not check_mode:
            stamp = now()
            conn.execute(baremetal_nodes.update().where(baremetal_nodes.c.name == name).values(
                maintenance=on, maintenance_reason=reason if on else None, updated_at=stamp))
            record_event(conn, name, action, state, state, "success", reason, Who.of(caller, request_id))
            row = node_row(conn, name)
        view = node_view(node, row)
    if on:
        message = "%s maintenance: %s" % ("in" if changed else "already in", reason)
    else:
        message = "out of maintenance" if changed else "already out of maintenance"
    if not on and node.maintenance:
        message += "; the inventory still puts %s in maintenance (stratus_bm_maintenance: %s)" % (
            name, node.maintenance_reason)
    return NodeOutcome(changed, view, action, state, state, message)
