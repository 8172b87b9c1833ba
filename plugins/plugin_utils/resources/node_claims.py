# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole-node claims of bare-metal nodes: ``baremetal_nodes.instance_uuid``, set and cleared.

A claim takes the whole node for one instance (Nova's Ironic driver sets the node's
instance_uuid the same way). It is made inside the create's locked transaction
(``store.transaction(locked=True)``), and the update itself only takes a node that is free,
available and not in maintenance, so two requests never get the same node even without the
lock; the unique constraint on instance_uuid keeps one instance from holding two nodes.

Releasing follows Nova's Ironic driver ``destroy``: a node that was claimed but never deployed
(still ``available``) is only unreserved; a node the deploy touched (``deploying``,
``deploy failed``, ``active``) goes to ``cleaning`` with the target ``available`` (Ironic's
undeploy: deleting, then cleaning). The store cannot power a node off or eject its medium: the
clean that brings it back to ``available`` is the deploy's work. Every claim and release is an
event in ``baremetal_node_events``.
"""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.states import (
    ACTIVE, AVAILABLE, CLEANING, DEPLOY_FAILED, DEPLOYING, ENROLL,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who, now, record_event
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_nodes

# The states in which the deploy has touched the node: its release sends it to cleaning.
TOUCHED_BY_DEPLOY = (DEPLOYING, DEPLOY_FAILED, ACTIVE)


def node_rows(conn: Connection) -> dict[str, t.Any]:
    """Every node row of the store, by name."""
    return {row.name: row for row in conn.execute(sa.select(baremetal_nodes))}


def read_node_rows(db_url: t.Optional[str]) -> dict[str, t.Any]:
    """Every node row, in a short transaction of its own (a SQLite store never created has none)."""
    if not host_usage.store_exists(db_url):
        return {}
    with store.transaction(db_url) as conn:
        return node_rows(conn)


def node_of_instance(conn: Connection, instance_uuid: str) -> t.Optional[t.Any]:
    """The node row an instance holds, if any."""
    return conn.execute(sa.select(baremetal_nodes).where(baremetal_nodes.c.instance_uuid == instance_uuid)).first()


def claim_node(conn: Connection, node: str, instance_uuid: str, who: Who) -> bool:
    """Take ``node`` whole for ``instance_uuid``; True when this call took it, False when it held it already.

    Only a node that is ``available``, not in maintenance (the store's flag: the scheduler has
    checked the inventory's) and held by nobody is taken. Anything else is NoValidHost naming
    the node and why: the scheduler chose it from an older view of the store. An instance that
    holds another node is a Conflict (one instance, one node).
    """
    holds = node_of_instance(conn, instance_uuid)
    if holds is not None and holds.name != node:  # the unique constraint would refuse it: say so first
        raise StratusError("Conflict", "Instance %s holds bare-metal node %s already; it cannot take %s too"
                           % (instance_uuid, holds.name, node), "flavor")
    stamp = now()
    taken = conn.execute(baremetal_nodes.update().where(
        baremetal_nodes.c.name == node, baremetal_nodes.c.instance_uuid.is_(None),
        baremetal_nodes.c.provision_state == AVAILABLE, baremetal_nodes.c.maintenance.is_(False),
    ).values(instance_uuid=instance_uuid, updated_at=stamp)).rowcount
    if taken == 1:
        record_event(conn, node, "claim", AVAILABLE, AVAILABLE, "success",
                     "claimed whole for instance %s" % instance_uuid, who, instance_uuid)
        return True
    row = conn.execute(sa.select(baremetal_nodes).where(baremetal_nodes.c.name == node)).first()
    if row is not None and row.instance_uuid == instance_uuid:
        return False  # a rerun: the claim is there already
    if row is None:
        why = "its provision state is %s (it has never been managed)" % ENROLL
    elif row.instance_uuid is not None:
        why = "instance %s holds it" % row.instance_uuid
    elif row.maintenance:
        why = "it is in maintenance"
    else:
        why = "its provision state is %s, not %s" % (row.provision_state, AVAILABLE)
    raise StratusError("NoValidHost", "No valid host was found. Bare-metal node %s cannot be claimed for instance "
                       "%s: %s" % (node, instance_uuid, why), "flavor")


def release_node(conn: Connection, instance_uuid: str, who: Who) -> t.Optional[str]:
    """Free the node ``instance_uuid`` holds; returns the node's name (None: it holds none, a rerun).

    A node the deploy touched goes to ``cleaning`` (target ``available``); one still
    ``available`` (claimed, never deployed) stays there; any other state is kept as it is.
    """
    row = node_of_instance(conn, instance_uuid)
    if row is None:
        return None
    stamp = now()
    values: dict[str, t.Any] = {"instance_uuid": None, "updated_at": stamp}
    to_state = row.provision_state
    if row.provision_state in TOUCHED_BY_DEPLOY:
        to_state = CLEANING
        values.update(provision_state=CLEANING, target_provision_state=AVAILABLE, provision_updated_at=stamp)
        message = ("released by instance %s; the node needs cleaning (power off, medium ejected, DHCP entry "
                   "dropped) before it is available again" % instance_uuid)
    else:
        message = "released by instance %s (never deployed: nothing to clean)" % instance_uuid
    conn.execute(baremetal_nodes.update().where(baremetal_nodes.c.name == row.name,
                                                baremetal_nodes.c.instance_uuid == instance_uuid).values(**values))
    record_event(conn, row.name, "release", row.provision_state, to_state, "success", message, who, instance_uuid)
    return str(row.name)
