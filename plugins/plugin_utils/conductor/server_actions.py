# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conductor's side of a server action (day 2): Nova's compute API records it (task_state,
instance action) in one locked transaction; the power step on the server's hypervisor does it and
``power_done`` / ``power_failed`` end it, as Nova's compute manager does.
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
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions, views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instance_actions, instances

BAREMETAL = "baremetal"  # the plan's driver of a bare-metal server


class ActionResult(t.NamedTuple):
    changed: bool
    server: dict[str, t.Any]
    host: t.Optional[str]   # the hypervisor or bare-metal node whose power step does it (None: nothing to do)
    baremetal: bool = False  # host is a node: the controller's bare-metal power step does it, through its BMC


def find_server(conn: Connection, caller: Caller, ref: str) -> t.Any:
    """The live server a caller names: a uuid (any project the caller may see: admin's all), or a
    name in the caller's project. One the caller may not see is not found (Nova's 404)."""
    if server_actions.UUID_RE.fullmatch(ref):
        project = views.visible_project(caller, all_projects=True, strict=False)
        rows = views.visible_servers(conn, project, uuids=[ref.lower()])
    else:
        rows = views.live_servers(conn, caller.project_id, [ref])
    if not rows:
        raise StratusError("InstanceNotFound", "Instance %s could not be found." % ref, "server")
    if len(rows) > 1:
        raise StratusError("NoUniqueMatch", "%d servers are named %s; name it by its uuid" % (len(rows), ref), "server")
    return rows[0]


def request_action(ref: str, action: server_actions.ServerAction, caller: Caller, db_url: t.Optional[str],
                   check_mode: bool, request_id: str, image: t.Optional[t.Mapping[str, t.Any]] = None,
                   image_check: t.Optional[t.Callable[[t.Any, str], None]] = None) -> ActionResult:
    """Check an action on one server (policy, state) and record it: task_state and instance action;
    a rebuild's plan gets its new root disk image (`image`, the catalog's), which `image_check(plan, host)`
    judges against the server's host first.

    Nothing is written when the action is refused, not needed, or in check mode."""
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = find_server(conn, caller, ref)
        caller.authorize(action.policy, {"project_id": row.project_id, "user_id": row.user_id}, "action")
        baremetal = read_plan(row.plan or {}, uuid=row.uuid).driver == BAREMETAL
        if baremetal and action.task_state not in server_actions.POWER_TASK_STATES:
            raise StratusError("InvalidRequest", "%s is a bare-metal server: its %s is not in this Stratus yet (its "
                               "power actions are, through its node's BMC)" % (row.name, action.name), "server")
        if not server_actions.needed(action, row, lifecycle.action_in_progress(conn, row)):
            return ActionResult(False, views.server_view(row), None)
        resuming = row.task_state in (action.task_state,) + action.resumes
        if resuming and image is not None and row.image_id != image["id"]:
            # a rerun finishes the rebuild under way; another image is another rebuild (Nova: 409)
            raise StratusError("InstanceInvalidState", "Cannot 'rebuild' instance %s while it is in task_state %s: "
                               "its rebuild to image %s is under way" % (row.uuid, row.task_state, row.image_id),
                               "image")
        plan = None
        if image is not None:
            plan = server_actions.rebuild_plan(read_plan(row.plan, uuid=row.uuid), image, caller)
            if image_check is not None:  # the scheduler's image filters on the server's host
                image_check(plan, row.host)
        if check_mode:
            return ActionResult(True, dict(views.server_view(row), task_state=action.task_state), row.host, baremetal)
        if plan is not None:
            conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
                plan=plan.to_dict(), image_id=image["id"] if image else row.image_id))
        if not resuming:  # a resumed action keeps its first record
            lifecycle.set_task_state(conn, [row.uuid], action.task_state)
            lifecycle.start_action(conn, row.uuid, action.instance_action, request_id, caller.project_id,
                                   caller.user_id)
        row = conn.execute(sa.select(instances).where(instances.c.uuid == row.uuid)).first()
        return ActionResult(True, views.server_view(row), row.host, baremetal)


def powering_on_host(conn: Connection, host: str, uuids: t.Optional[list[str]] = None) -> list[t.Any]:
    """The servers on a host with a power action in progress (the power step's work)."""
    return powering_on_hosts(conn, [host], uuids)


def powering_on_hosts(conn: Connection, hosts: t.Sequence[str], uuids: t.Optional[list[str]] = None) -> list[t.Any]:
    """The servers on these hosts (hypervisors, or bare-metal nodes) with a power action in progress."""
    query = sa.select(instances).where(instances.c.host.in_(sorted(hosts)), instances.c.deleted == "",
                                       instances.c.task_state.in_(sorted(server_actions.POWER_TASK_STATES)))
    if uuids is not None:
        query = query.where(instances.c.uuid.in_(uuids))
    return list(conn.execute(query.order_by(instances.c.name)))


def _finish_action(conn: Connection, uuid: str) -> None:
    action_id = lifecycle.latest_action_id(conn, uuid)
    if action_id is not None:
        conn.execute(instance_actions.update().where(instance_actions.c.id == action_id)
                     .values(finish_time=lifecycle.now()))


def power_done(conn: Connection, row: t.Any, host: str, start: t.Any, details: t.Optional[str] = None,
               action: t.Optional[server_actions.ServerAction] = None, end: t.Optional[tuple[str, str]] = None) -> None:
    """The power step (or the rebuild step: `action`) did it: the action's end state (or `end`), task_state
    cleared, the event recorded."""
    action = action or server_actions.POWER_TASK_STATES[row.task_state]
    vm_state, power_state = end or action.done
    lifecycle.record_event(conn, row.uuid, action.event, host, "Success", details, start)
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
        vm_state=vm_state, power_state=power_state, task_state=None, fault=None, updated_at=lifecycle.now()))
    _finish_action(conn, row.uuid)


def power_failed(conn: Connection, row: t.Any, host: str, start: t.Any, fault: dict[str, t.Any],
                 action: t.Optional[server_actions.ServerAction] = None) -> None:
    """The power step (or the rebuild step: `action`) failed: task_state cleared and the fault kept (Nova's
    reverts_task_state and wrap_instance_fault); a failed reboot or rebuild leaves the server in ERROR,
    as Nova's do."""
    action = action or server_actions.POWER_TASK_STATES[row.task_state]
    lifecycle.record_event(conn, row.uuid, action.event, host, "Error", fault.get("message"), start)
    values: dict[str, t.Any] = {"task_state": None, "fault": dict(fault, host=host), "updated_at": lifecycle.now()}
    if action.error_on_failure:
        values["vm_state"] = "error"
    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(**values))
    _finish_action(conn, row.uuid)


def power_details(outcome: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The event's details of a power step that worked: how it came to be off."""
    if outcome.get("forced"):
        return "forced off after the shutdown timeout"
    if outcome.get("hard_fallback"):
        return "soft reboot fell back to hard"
    return None


def record_power(db_url: t.Optional[str], host: str, rows: t.Sequence[t.Any], outcomes: t.Mapping[str, t.Any],
                 start: t.Any, host_error: t.Optional[dict[str, t.Any]] = None) -> list[str]:
    """Each server's end from its step's outcome (``ok``, ``forced``, ``hard_fallback`` or ``error``), or
    host_error for all (the host or its BMC did not answer); returns the uuids that failed. A server whose
    row moved on meanwhile (deleted, another action) is left to whoever moved it."""
    failed = []
    with store.transaction(db_url, locked=True) as conn:
        for row in rows:
            fresh = conn.execute(instances.select().where(instances.c.uuid == row.uuid)).first()
            if fresh is None or fresh.deleted or fresh.task_state != row.task_state:
                continue
            outcome = outcomes.get(row.uuid)
            if host_error is None and outcome is not None and outcome.get("ok"):
                power_done(conn, fresh, host, start, power_details(outcome))
                continue
            no_result = {"code": "InternalError", "message": "no result"}
            power_failed(conn, fresh, host, start, host_error or dict((outcome or {}).get("error") or no_result))
            failed.append(row.uuid)
    return failed
