# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Servers the caller may see, from the state store (Nova's index/show with its policy)."""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import server_view
from ansible_collections.stratus.compute.plugins.plugin_utils.read_action import StoreReadAction
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    instance_action_events, instance_actions, instances,
)


def _actions(conn: t.Any, uuids: list[str]) -> dict[str, list[dict[str, t.Any]]]:
    """Nova's instance actions with their events, oldest first, per instance."""
    out: dict[str, list[dict[str, t.Any]]] = {u: [] for u in uuids}
    if not uuids:
        return out
    rows = list(conn.execute(sa.select(instance_actions).where(instance_actions.c.instance_uuid.in_(uuids))
                             .order_by(instance_actions.c.id)))
    events: dict[int, list[dict[str, t.Any]]] = {}
    if rows:
        for ev in conn.execute(sa.select(instance_action_events).where(
                instance_action_events.c.action_id.in_([r.id for r in rows])).order_by(instance_action_events.c.id)):
            events.setdefault(ev.action_id, []).append({
                "event": ev.event, "host": ev.host, "result": ev.result, "details": ev.details,
                "start_time": ev.start_time.isoformat() if ev.start_time else None,
                "finish_time": ev.finish_time.isoformat() if ev.finish_time else None})
    for r in rows:
        out[r.instance_uuid].append({"action": r.action, "request_id": r.request_id, "message": r.message,
                                     "start_time": r.start_time.isoformat() if r.start_time else None,
                                     "events": events.get(r.id, [])})
    return out


class ActionModule(StoreReadAction):
    ARG_SPEC = {
        "name": {"type": "str"},
        "uuids": {"type": "list", "elements": "str"},
        "all_projects": {"type": "bool", "default": False},
        "actions": {"type": "bool", "default": False},
        "refusals": {"type": "bool", "default": False},
    }

    def read(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        caller = self.caller(task_vars)
        caller.authorize("os_compute_api:servers:index")
        if args["all_projects"]:
            caller.authorize("os_compute_api:servers:detail:get_all_tenants", field="all_projects")
        query = sa.select(instances).where(instances.c.deleted == "")
        if not args["all_projects"]:
            query = query.where(instances.c.project_id == caller.project_id)
        if args.get("name"):
            query = query.where(instances.c.name == args["name"])
        if args.get("uuids") is not None:
            query = query.where(instances.c.uuid.in_(args["uuids"]))
        out: dict[str, t.Any] = {}
        with store.transaction(self.store_url(task_vars)) as conn:
            rows = list(conn.execute(query.order_by(instances.c.project_id, instances.c.name)))
            out["servers"] = [server_view(r) for r in rows]
            if args["actions"]:
                per = _actions(conn, [r.uuid for r in rows])
                for server in out["servers"]:
                    server["actions"] = per[server["id"]]
            if args["refusals"]:
                rq = sa.select(instance_actions).where(instance_actions.c.instance_uuid == "")
                if not args["all_projects"]:
                    rq = rq.where(instance_actions.c.project_id == caller.project_id)
                if args.get("name"):
                    rq = rq.where(instance_actions.c.instance_name == args["name"])
                out["refusals"] = [{"name": r.instance_name, "request_id": r.request_id, "code": r.error_code,
                                    "message": r.message, "project_id": r.project_id, "user_id": r.user_id,
                                    "time": r.start_time.isoformat() if r.start_time else None}
                                   for r in conn.execute(rq.order_by(instance_actions.c.id))]
        return out
