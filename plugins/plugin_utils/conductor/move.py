# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a server that moves goes (evacuate, cold migration, resize, live migration): Nova's conductor
asks the scheduler again with the server's request spec (its flavor, or a resize's new one; its image, zone,
networks and server group), among the hypervisors but its own host (unless a resize may stay, Nova's
allow_resize_to_same_host), or checks the one host an admin names (skipping the filters when forced)."""
from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler, SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage


def request_spec(conn: Connection, row: t.Any, plan: BuildPlan, flavor: t.Mapping[str, t.Any], catalog: Catalog,
                 zone: t.Optional[str], force_hosts: t.Sequence[str] = ()) -> RequestSpec:
    """The server's request spec as Nova keeps it, with `flavor` (its own, or a resize's new one). Its server
    group's other members count where they are; the server itself does not count on its current host."""
    image = catalog.find_image(plan.image.id) if plan.image and plan.image.id else None
    group = None
    if getattr(row, "server_group_id", None):
        found = [g for g in catalog.server_groups if g.get("id") == row.server_group_id]
        if found:
            members = [(u, h) for u, h in host_usage.group_members(conn, row.server_group_id) if u != row.uuid]
            group = dict(found[0], members=[u for u, _h in members], hosts=sorted({h for _u, h in members if h}))
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
    usage = host_usage.usage(conn)
    (selection,) = FilterScheduler(config).select_destinations(
        host_states(candidates, hostvars, catalog, usage), spec, [row.uuid])
    return str(selection.host)
