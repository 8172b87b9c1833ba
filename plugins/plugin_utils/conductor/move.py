# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a server that moves goes (evacuate, cold migration, resize, live migration): Nova's conductor
asks the scheduler again with the server's request spec (its flavor, or a resize's new one; its image, zone,
networks and server group), among the hypervisors but its own host (unless a resize may stay, Nova's
allow_resize_to_same_host), or checks the one host an admin names (skipping the filters when forced)."""
from __future__ import annotations

import dataclasses
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler, SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_groups
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import volumes

# a server's local volumes (the stratus-volumes pool of its host): a move takes them along
VOLUME_KINDS = ("volume", "new_volume")
GiB = 1024 ** 3


def volume_names(plan: BuildPlan) -> list[str]:
    """The pool names of the server's volumes."""
    return [dev.name for dev in plan.block_devices if dev.kind in VOLUME_KINDS]


def volume_sizes_gb(conn: Connection, uuid: str) -> dict[str, int]:
    """The size (GiB) of each of the server's volumes, by its id (the store's volumes rows)."""
    return {str(row.id): int(row.size_gb) for row in conn.execute(
        sa.select(volumes.c.id, volumes.c.size_gb).where(volumes.c.instance_uuid == uuid, volumes.c.deleted == ""))}


def volumes_gb(conn: Connection, plan: BuildPlan) -> int:
    """What the server's volumes take on a host's disk (GiB): the store's size, else the plan's."""
    sizes = volume_sizes_gb(conn, plan.uuid)
    return sum(sizes.get(str(dev.volume_id), -(-dev.size_bytes // GiB))
               for dev in plan.block_devices if dev.kind in VOLUME_KINDS)


def moved_copy(plan: BuildPlan) -> BuildPlan:
    """What a move leaves of the server on the host it is no longer on (the source after a confirm or a live
    migration, the destination after a revert or a rollback): every disk goes when it is cleaned, its volumes'
    copies too (the server keeps its volumes on the other host)."""
    return dataclasses.replace(plan, block_devices=[
        dataclasses.replace(dev, delete_on_termination=True) if dev.kind in VOLUME_KINDS else dev
        for dev in plan.block_devices])


def volumes_moved(conn: Connection, uuid: str, host: str) -> None:
    """The server's volumes are now `host`'s (their copy there is the one the server uses)."""
    conn.execute(volumes.update().where(volumes.c.instance_uuid == uuid, volumes.c.deleted == "").values(host=host))


def request_spec(conn: Connection, row: t.Any, plan: BuildPlan, flavor: t.Mapping[str, t.Any], catalog: Catalog,
                 zone: t.Optional[str], force_hosts: t.Sequence[str] = ()) -> RequestSpec:
    """The server's request spec as Nova keeps it, with `flavor` (its own, or a resize's new one). Its server
    group's other members count where they are; the server itself does not count on its current host."""
    image = catalog.find_image(plan.image.id) if plan.image and plan.image.id else None
    group = None
    if getattr(row, "server_group_id", None):
        found = server_groups.lookup(conn, catalog, row.server_group_id)  # the catalog's or the store's
        if found is not None:
            members = [(u, h) for u, h in host_usage.group_members(conn, row.server_group_id) if u != row.uuid]
            group = dict({k: found[k] for k in ("id", "name", "policy", "rules", "project_id")},
                         members=[u for u, _h in members], hosts=sorted({h for _u, h in members if h}))
    boot_volume = not any(dev.kind == "image" for dev in plan.block_devices)
    return RequestSpec(flavor={"name": flavor.get("name"), "vcpus": int(flavor.get("vcpus", 0)),
                               "memory_mb": int(flavor.get("ram", 0)),
                               "root_gb": 0 if boot_volume else int(flavor.get("disk", 0)),
                               "ephemeral_gb": int(flavor.get("ephemeral", 0) or 0),
                               "swap": int(flavor.get("swap", 0) or 0),
                               "extra_specs": dict(flavor.get("extra_specs") or {})},
                       image=dict(image or {}), availability_zone=zone, instance_group=group,
                       force_hosts=list(force_hosts), project_id=row.project_id, instance_uuid=row.uuid,
                       requested_networks=[str(n["id"]) for n in plan.networks])


def select_destination(conn: Connection, row: t.Any, plan: BuildPlan, flavor: t.Mapping[str, t.Any],
                       hypervisors: t.Sequence[str], hostvars: t.Mapping[str, t.Any], catalog: Catalog,
                       config: SchedulerConfig, target: t.Optional[str] = None, force: bool = False,
                       allow_same_host: bool = False) -> str:
    """The host the server moves to: the scheduler's pick among the hypervisors (but the server's own host,
    unless `allow_same_host`), or `target` checked by the filters (not when `force`).

    ComputeHostNotFound for an unknown target, UnableToMigrateToSelf for the server's own host (unless
    allowed), NoValidHost when no host passes."""
    source = str(row.host or "")
    if target is not None and target not in hypervisors:
        raise StratusError("ComputeHostNotFound", "Compute host %s could not be found." % target, "host")
    if target is not None and target == source and not allow_same_host:
        raise StratusError("UnableToMigrateToSelf", "Unable to migrate instance (%s) to current host (%s)."
                           % (row.uuid, source), "host")
    if force and not target:
        raise StratusError("InvalidRequest", "force goes with a target host", "force")
    candidates = [target] if target else [h for h in hypervisors if h != source or allow_same_host]
    # a named host is the admin's choice: its zone need not be the server's (Nova's requested_destination)
    spec = request_spec(conn, row, plan, flavor, catalog, None if target else row.availability_zone,
                        [target] if force and target else [])
    moving_gb = volumes_gb(conn, plan) if source and not (allow_same_host and target == source) else 0
    if moving_gb:
        # The volumes move too: the destination's disk must hold them. The disk filter counts root, ephemeral
        # and swap (placement's DISK_GB): they ride on ephemeral_gb for this check only, not in the claim
        # (a volume is never in a claim).
        spec = dataclasses.replace(spec, flavor=dict(spec.flavor, ephemeral_gb=spec.ephemeral_gb + moving_gb))
    usage = host_usage.usage(conn)
    (selection,) = FilterScheduler(config).select_destinations(
        host_states(candidates, hostvars, catalog, usage), spec, [row.uuid])
    return str(selection.host)
