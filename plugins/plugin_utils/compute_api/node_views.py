# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read only: bare-metal nodes as Ironic shows them, the inventory's node and its store row in one view.

A node of the inventory without a row yet is shown in ``enroll`` (the conductor records it at its
first move); a row whose node left the inventory is shown too, ``in_inventory: false``, so that
nothing the store still holds of a node goes unseen. Never the BMC credentials.
"""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import states
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_node_events, baremetal_nodes


def _time(value: t.Any) -> t.Optional[str]:
    return value.isoformat() if value is not None else None


def node_not_found(name: str) -> StratusError:
    """Ironic's NodeNotFound: neither the inventory nor the store knows the node."""
    return StratusError("NodeNotFound", "Node %s could not be found." % name, "name")


def find_node(nodes: t.Sequence[BaremetalNode], name: str) -> BaremetalNode:
    """The inventory's node of that name (a node the operator can act on), else NodeNotFound."""
    for node in nodes:
        if node.name == name:
            return node
    raise node_not_found(name)


def maintenance_of(node: t.Optional[BaremetalNode], row: t.Optional[Row]) -> t.Tuple[bool, t.Optional[str], t.List[str]]:
    """In maintenance if the inventory or the row says so: (flag, reason, who says so)."""
    said_by, reasons = [], []
    if node is not None and node.maintenance:
        said_by.append("inventory")
        reasons.append(node.maintenance_reason)
    if row is not None and row.maintenance:
        said_by.append("store")
        reasons.append(row.maintenance_reason)
    reason = "; ".join(r for r in reasons if r) or None
    return bool(said_by), reason, said_by


def node_view(node: t.Optional[BaremetalNode], row: t.Optional[Row]) -> dict[str, t.Any]:
    """One node: what the inventory says it is, where the store says it is."""
    maintenance, reason, said_by = maintenance_of(node, row)
    view: dict[str, t.Any] = {
        "name": node.name if node is not None else row.name,
        "in_inventory": node is not None,
        "recorded": row is not None,
        "provision_state": row.provision_state if row is not None else states.ENROLL,
        "target_provision_state": row.target_provision_state if row is not None else None,
        "power_state": row.power_state if row is not None else None,
        "maintenance": maintenance,
        "maintenance_reason": reason,
        "maintenance_set_by": said_by,
        "instance_uuid": row.instance_uuid if row is not None else None,
        "last_error": row.last_error if row is not None else None,
        "inspected": row.inspected if row is not None else None,
        "created_at": _time(row.created_at) if row is not None else None,
        "updated_at": _time(row.updated_at) if row is not None else None,
        "provision_updated_at": _time(row.provision_updated_at) if row is not None else None,
    }
    if node is not None:
        view.update({
            "driver": node.driver, "bmc_address": node.bmc.address,
            "resource_class": node.resource_class, "placement_resource_class": node.placement_resource_class,
            "properties": {"cpus": node.cpus, "memory_mb": node.memory_mb, "local_gb": node.local_gb,
                           "cpu_arch": node.cpu_arch},
            "traits": list(node.traits), "availability_zone": node.availability_zone,
            "nics": [{"mac": nic.mac, "network": nic.network} for nic in node.nics],
        })
    return view


def node_row(conn: Connection, name: str, for_update: bool = False) -> t.Optional[Row]:
    query = sa.select(baremetal_nodes).where(baremetal_nodes.c.name == name)
    return conn.execute(query.with_for_update() if for_update else query).first()


def node_events(conn: Connection, name: str) -> list[dict[str, t.Any]]:
    """A node's event log, oldest first."""
    rows = conn.execute(sa.select(baremetal_node_events).where(baremetal_node_events.c.node == name)
                        .order_by(baremetal_node_events.c.id)).all()
    return [{"event": r.event, "from_state": r.from_state, "to_state": r.to_state, "result": r.result,
             "message": r.message, "instance_uuid": r.instance_uuid, "request_id": r.request_id,
             "user_id": r.user_id, "project_id": r.project_id, "time": _time(r.time)} for r in rows]


def node_views(conn: Connection, nodes: t.Sequence[BaremetalNode], name: t.Optional[str] = None,
               events: bool = False) -> list[dict[str, t.Any]]:
    """Every node (the inventory's, in its order, then rows it no longer has), or the one named.

    A name neither the inventory nor the store knows is NodeNotFound."""
    rows = {r.name: r for r in conn.execute(sa.select(baremetal_nodes).order_by(baremetal_nodes.c.name)).all()}
    views = [node_view(n, rows.get(n.name)) for n in nodes]
    known = {n.name for n in nodes}
    views += [node_view(None, row) for row_name, row in rows.items() if row_name not in known]
    if name is not None:
        views = [v for v in views if v["name"] == name]
        if not views:
            raise node_not_found(name)
    if events:
        for view in views:
            view["events"] = node_events(conn, view["name"])
    return views
