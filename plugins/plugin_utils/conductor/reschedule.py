# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rescheduling a failed build onto its alternates (Nova's conductor build_instances retry).

The scheduler picked alternates when it placed the instance (at most max_attempts - 1,
none for a forced host). After a failed step, the instance is cleaned off the host and
its claim moves to the first alternate that still has room: the scheduler is not asked
again, as in Nova. When none is left the build ends in ERROR with MaxRetriesExceeded.
"""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.resources import PlacementFilter
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, instances, volumes

# Failures that another host cannot fix: Nova aborts the build instead of rescheduling.
NOT_RESCHEDULED = frozenset(("ImageNotFound", "InvalidBDM", "InvalidRequest", "InternalError"))


def build_failed(conn: Connection, row: t.Any, host: str, fault: dict[str, t.Any],
                 hostvars: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """Reschedule `row` after a failure on `host`; returns the new host, or None after marking ERROR."""
    plan = read_plan(row.plan or {}, uuid=row.uuid)
    alternates = [h for h in plan.alternates if h != host]
    if fault.get("code") in NOT_RESCHEDULED or (not alternates and int(row.attempts or 1) <= 1):
        # No alternates (a forced host, max_attempts 1) or a failure no host can fix: the fault as is.
        lifecycle.mark_error(conn, row.uuid, fault)
        return None
    claim = conn.execute(sa.select(claims).where(claims.c.instance_uuid == row.uuid)).first()
    usage = host_usage.usage_by_host(conn, except_instance=row.uuid)  # its own claim moves with it
    # Nova claims the alternate's allocation in placement: the same capacity rule the scheduler used
    claimed = RequestSpec(flavor={"vcpus": claim.vcpus, "memory_mb": claim.memory_mb, "root_gb": claim.disk_gb}
                          if claim is not None else {})
    placement = PlacementFilter()
    while alternates:
        alt = alternates.pop(0)
        if alt not in hostvars:
            continue
        state = host_states([alt], hostvars, usage=usage)[0]
        if not placement.host_passes(state, claimed):
            lifecycle.record_event(conn, row.uuid, "conductor_build_instances", alt, "Error",
                                   "alternate %s has no room left for the claim" % alt)
            continue
        conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
            host=alt, task_state="scheduling", attempts=instances.c.attempts + 1,
            plan=plan.rescheduled(alternates).to_dict(),
            updated_at=lifecycle.now()))
        conn.execute(claims.update().where(claims.c.instance_uuid == row.uuid).values(host=alt))
        # volumes this build creates are made on the host that builds it
        conn.execute(volumes.update().where(volumes.c.instance_uuid == row.uuid, volumes.c.status == "reserved",
                                            volumes.c.deleted == "", volumes.c.host == host).values(host=alt))
        lifecycle.record_event(conn, row.uuid, "conductor_build_instances", alt, "Success",
                               "rescheduled from %s to %s after %s: %s"
                               % (host, alt, fault.get("code"), fault.get("message")))
        return alt
    max_attempts = plan.max_attempts
    if max_attempts and int(row.attempts or 1) >= max_attempts:
        message = "Exceeded max scheduling attempts %d for instance %s." % (max_attempts, row.uuid)
    else:
        message = "Exhausted all hosts available for retrying build failures for instance %s." % row.uuid
    lifecycle.mark_error(conn, row.uuid, {
        "code": "MaxRetriesExceeded", "host": host,
        "message": "%s Last exception: %s: %s" % (message, fault.get("code"), fault.get("message")),
    })
    return None
