# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conductor's delete: Nova's compute API _delete; the hypervisor steps then walk backwards."""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import checks, views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, resize
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import CreateResult
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import node_claims
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances


def delete_servers(req: t.Mapping[str, t.Any], caller: Caller, db_url: t.Optional[str], check_mode: bool,
                   request_id: str) -> CreateResult:
    """Start deleting the servers of a request; a server that never reached a host goes at once.

    Any vm_state may be deleted (ERROR included), as in Nova; a server already being deleted
    is handed to the walk again, so an interrupted delete resumes. What is gone reports no change.
    """
    _min_count, max_count = checks.counts(req)
    names = checks.server_names(str(req["name"]), max_count)
    with store.transaction(db_url, locked=not check_mode) as conn:
        rows = views.live_servers(conn, caller.project_id, names)
        for row in rows:
            caller.authorize(checks.POLICY % "delete", {"project_id": row.project_id, "user_id": row.user_id})
        if check_mode or not rows:
            return CreateResult(bool(rows), [dict(views.server_view(r), task_state="deleting") for r in rows], [])
        hosts = set()
        who = Who.of(caller, request_id)
        for row in rows:
            resize.confirm_on_delete(conn, row, request_id)
            if row.task_state != "deleting":
                lifecycle.start_delete(conn, row.uuid, request_id, caller.project_id, caller.user_id)
            if node_claims.release_node(conn, row.uuid, who) is not None or _is_baremetal(row):
                # a bare-metal server: no hypervisor step walks it back; its node is released (to cleaning
                # when the deploy touched it: the power-off and eject are the deploy's, docs/baremetal.md)
                # and the server is gone at once. One that holds no node (an ERROR whose failed deploys
                # gave every node back) too: its host is a node, which no hypervisor play would ever walk.
                lifecycle.mark_deleted(conn, row.uuid)
            elif row.host:
                hosts.add(row.host)
            else:  # never placed: nothing on any host (Nova's local delete)
                lifecycle.mark_deleted(conn, row.uuid)
        rows = list(conn.execute(sa.select(instances).where(instances.c.uuid.in_([r.uuid for r in rows]))))
    return CreateResult(True, [views.server_view(r) for r in rows], sorted(hosts))


def _is_baremetal(row: t.Any) -> bool:
    """Built by the bare-metal deploy (its plan's driver), whether or not it still holds a node."""
    plan = row.plan if isinstance(row.plan, dict) else {}
    return plan.get("driver") == "baremetal"
