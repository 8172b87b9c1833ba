# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's evacuate: a server whose host is down is moved, in one locked transaction, to another host the
scheduler picks (or the admin names: checked by the filters unless forced); its claim moves there, the
old host keeps a leftover (cleaned by the first run that reaches it again), and the rebuild step builds
the server on the new host from its plan (same uuid, IPs, image and config drive)."""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions, views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, move
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.server_actions import ActionResult, find_server
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, instances

EVACUATE = server_actions.ACTIONS["evacuate"]


def request_evacuate(ref: str, caller: Caller, hypervisors: t.Sequence[str], hostvars: t.Mapping[str, t.Any],
                     catalog: Catalog, config: SchedulerConfig, target: t.Optional[str], force: bool,
                     db_url: t.Optional[str], check_mode: bool, request_id: str) -> ActionResult:
    """Check and record an evacuate; the result's host is the new one (where the rebuild step runs)."""
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = find_server(conn, caller, ref)
        caller.authorize(EVACUATE.policy, {"project_id": row.project_id, "user_id": row.user_id}, "action")
        plan = read_plan(row.plan or {}, uuid=row.uuid)
        if plan.driver == "baremetal":
            raise StratusError("InvalidRequest", "%s is a bare-metal server: its node is its host" % row.name, "server")
        server_actions.needed(EVACUATE, row, lifecycle.action_in_progress(conn, row))
        if row.task_state in server_actions.REBUILD_TASK_STATES:  # an interrupted evacuate: already moved
            return ActionResult(True, views.server_view(row), row.host)
        source = str(row.host or "")
        usage = host_usage.usage(conn)
        if source in hypervisors and host_states([source], hostvars, catalog, usage)[0].service.get("up", True):
            raise StratusError("ComputeServiceInUse", "Compute service of %s is still in use: evacuate a server only "
                               "from a host that is down (fence it, then `stratus hypervisor down %s`)"
                               % (source, source), "server")
        held = [dev.name for dev in plan.block_devices if dev.kind in ("volume", "new_volume")]
        if held:
            raise StratusError("InvalidRequest", "%s has volumes in %s's pool (%s): they cannot follow it while the "
                               "host is down" % (row.name, source, ", ".join(held)), "server")
        if target is not None and target == source:  # Nova's evacuate words it so (a 400)
            raise StratusError("InvalidRequest", "The target host can't be the same one.", "host")
        dest = move.select_destination(conn, row, plan, plan.flavor, hypervisors, hostvars, catalog, config,
                                       target, force)
        if check_mode:
            return ActionResult(True, dict(views.server_view(row), host=dest, task_state=EVACUATE.task_state), dest)
        lifecycle.record_leftover(conn, source, row, "evacuated to %s while %s was down" % (dest, source),
                                  keep_addresses=False)
        conn.execute(claims.update().where(claims.c.instance_uuid == row.uuid).values(host=dest))
        conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
            host=dest, task_state=EVACUATE.task_state, updated_at=lifecycle.now()))
        lifecycle.start_action(conn, row.uuid, EVACUATE.instance_action, request_id, caller.project_id,
                               caller.user_id, "from %s to %s" % (source, dest))
        lifecycle.record_event(conn, row.uuid, "conductor_rebuild_server", dest, "Success",
                               "evacuated from %s (down) to %s" % (source, dest))
        row = conn.execute(sa.select(instances).where(instances.c.uuid == row.uuid)).first()
        return ActionResult(True, views.server_view(row), dest)
