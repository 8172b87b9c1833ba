# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the state store says about each host, for the scheduler, read only.

``usage(conn)`` gives per host what ``compute_api.host_states`` takes: the resources claimed
(claims of live instances, leftovers not yet cleaned, and what a migration's source still holds), the instances there (``instance_uuids``),
``num_io_ops`` (builds under way, Nova's io_workload), ``failed_builds`` (builds that
failed on the host since its last successful spawn, Nova's counter that a success resets) and
``service_disabled`` with ``disabled_reason`` (the operator disabled the host: os-services) and
``forced_down`` (the operator says it is down).
"""
from __future__ import annotations

import os
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.plugin_utils.resources import compute_services, migration_records
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    claims, instance_action_events, instances, leftovers,
)

BUILD_EVENTS = ("compute_allocate_network", "compute_prep_block_device", "compute_spawn")


def usage_by_host(conn: Connection, except_instance: t.Optional[str] = None) -> dict[str, dict[str, int]]:
    """What is used on each host: claims of live instances (but ``except_instance``'s), leftovers not
    yet cleaned, and the old resources a migration's source holds until it is confirmed or reverted."""
    used: dict[str, dict[str, int]] = {}
    rows: list[t.Any] = []
    for table in (claims, leftovers):
        query = sa.select(table.c.host, table.c.vcpus, table.c.memory_mb, table.c.disk_gb)
        if except_instance is not None and table is claims:
            query = query.where(claims.c.instance_uuid != except_instance)
        rows.extend(conn.execute(query))
    for row in rows + migration_records.held_by_host(conn):
        u = _entry(used, row.host)
        u["vcpus"] += row.vcpus
        u["memory_mb"] += row.memory_mb
        u["disk_gb"] += row.disk_gb
        u["instances"] += 1
    return used


def _entry(used: dict[str, dict[str, t.Any]], host: str) -> dict[str, t.Any]:
    return used.setdefault(host, {"vcpus": 0, "memory_mb": 0, "disk_gb": 0, "instances": 0})


def usage(conn: Connection) -> dict[str, dict[str, t.Any]]:
    out: dict[str, dict[str, t.Any]] = dict(usage_by_host(conn))

    for row in conn.execute(sa.select(claims.c.host, claims.c.instance_uuid).order_by(claims.c.instance_uuid)):
        _entry(out, row.host).setdefault("instance_uuids", []).append(row.instance_uuid)
    building = sa.select(instances.c.host, sa.func.count()).where(
        instances.c.deleted == "", instances.c.vm_state == "building", instances.c.host.is_not(None)
    ).group_by(instances.c.host)
    for host, count in conn.execute(building):
        _entry(out, host)["num_io_ops"] = int(count)
    for host, count in failed_builds(conn).items():
        _entry(out, host)["failed_builds"] = count
    return with_services(conn, out)


def with_services(conn: Connection, used: dict[str, dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """`used` with what the operator said of each host's compute service: ``service_disabled`` with its
    ``disabled_reason``, ``forced_down``."""
    for host, reason in compute_services.disabled_hosts(conn).items():
        _entry(used, host).update(service_disabled=True, disabled_reason=reason)
    for host in compute_services.forced_down_hosts(conn):
        _entry(used, host)["forced_down"] = True
    return used


def failed_builds(conn: Connection) -> dict[str, int]:
    """Builds (actions) with a failed build step on a host after its last successful spawn."""
    events = instance_action_events
    last_ok: dict[str, int] = {}
    for host, last in conn.execute(sa.select(events.c.host, sa.func.max(events.c.id)).where(
            events.c.event == "compute_spawn", events.c.result == "Success", events.c.host.is_not(None))
            .group_by(events.c.host)):
        last_ok[host] = int(last)
    failed: dict[str, set[int]] = {}
    for row in conn.execute(sa.select(events.c.host, events.c.action_id, events.c.id).where(
            events.c.event.in_(BUILD_EVENTS), events.c.result == "Error", events.c.host.is_not(None))):
        if row.id > last_ok.get(row.host, 0):
            failed.setdefault(row.host, set()).add(row.action_id)
    return {host: len(actions) for host, actions in failed.items()}


def group_members(conn: Connection, group_id: str) -> list[tuple[str, t.Optional[str]]]:
    """(uuid, host) of the live members of a server group."""
    query = sa.select(instances.c.uuid, instances.c.host).where(
        instances.c.deleted == "", instances.c.server_group_id == group_id).order_by(instances.c.launch_index)
    return [(row.uuid, row.host) for row in conn.execute(query)]


def store_exists(db_url: t.Optional[str]) -> bool:
    """A SQLite store that was never created has no claims: reading it must not create it."""
    url = store.resolve_url(db_url)
    if sa is None or not url.startswith("sqlite"):
        return True
    database = sa.engine.make_url(url).database
    return not database or database == ":memory:" or os.path.exists(database)


def read(db_url: t.Optional[str], group_ids: t.Iterable[str] = ()
         ) -> tuple[dict[str, dict[str, t.Any]], dict[str, list[tuple[str, t.Optional[str]]]]]:
    """Usage per host and the members of the given server groups, in one short transaction."""
    group_ids = list(group_ids)
    if not store_exists(db_url):
        return {}, {gid: [] for gid in group_ids}
    with store.transaction(db_url) as conn:
        return usage(conn), {gid: group_members(conn, gid) for gid in group_ids}
